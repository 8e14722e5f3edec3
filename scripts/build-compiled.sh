#!/usr/bin/env bash
# Build Flack as a normal install does, with flackd's modules compiled by mypyc (setup.py,
# COMPILED), and unpack it into build/compiled: PYTHONPATH=build/compiled runs that build
# (scripts/test.sh runs the whole suite on it; benchmarks/run.py measures it as
# flackd@src=build/compiled). The development tree itself stays pure Python. Built afresh
# each time (about 15 s). Exits 3, saying why, when nothing could be compiled (no C
# compiler or no Python headers): the pure build then stands alone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rm -rf build/wheel build/compiled
.venv/bin/python -m pip wheel --quiet --disable-pip-version-check --no-deps \
    --no-build-isolation -w build/wheel . >&2
.venv/bin/python -m zipfile -e build/wheel/flack-*.whl build/compiled
if ! compgen -G "build/compiled/flackd/codec/grammar.*.so" >/dev/null; then
    echo "build-compiled: nothing was compiled (is there a C compiler, and Python.h?)" >&2
    exit 3
fi
echo "build-compiled: build/compiled holds flackd with $(find build/compiled/flackd \
    -name '*.so' | wc -l) compiled modules" >&2
