#!/usr/bin/env bash
# Set everything up (first run only) and run the whole test suite: ruff (lint and
# format), mypy --strict, and pytest. Extra arguments go to pytest (e.g. -k history).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff check" && .venv/bin/ruff check .
echo "== ruff format --check" && .venv/bin/ruff format --check .
echo "== mypy --strict" && .venv/bin/mypy
echo "== pytest" && .venv/bin/pytest "$@"
# The same suite again on the build a normal install makes, with flackd's modules compiled
# by mypyc (setup.py): both must pass. Skipped, saying why, only where nothing compiles.
echo "== pytest, flackd compiled with mypyc (build/compiled)"
status=0
bash scripts/build-compiled.sh || status=$?
if [ "$status" = 0 ]; then
    PYTHONPATH="$PWD/build/compiled" FLACK_EXPECT_COMPILED=1 .venv/bin/pytest "$@"
elif [ "$status" = 3 ]; then
    echo "skipped: flackd could not be compiled here (see above); the pure run stands"
else
    exit "$status"
fi
