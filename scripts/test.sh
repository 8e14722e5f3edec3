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
