#!/usr/bin/env bash
# Build Flack as a normal install does, with flackd's modules compiled by mypyc (setup.py,
# COMPILED), and unpack it into build/compiled: PYTHONPATH=build/compiled runs that build
# (scripts/test.sh runs the whole suite on it; benchmarks/run.py builds its own copy the
# same way). The development tree itself stays pure Python. Built afresh
# each time, from an empty build/ (about 15 s). Exits 3, saying why, only where nothing
# can be compiled (no C compiler, or no Python headers): the pure build then stands alone.
# Any other failure to compile is an error (FLACK_REQUIRE_COMPILED=1), never a pure build
# passed off as the compiled one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
compiler=${CC:-cc}
if ! command -v "${compiler%% *}" >/dev/null 2>&1; then
    echo "build-compiled: no C compiler ($compiler): nothing can be compiled here" >&2
    exit 3
fi
if ! .venv/bin/python -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
    echo "build-compiled: no Python.h (python3-dev): nothing can be compiled here" >&2
    exit 3
fi
rm -rf build
mkdir -p build
if ! FLACK_REQUIRE_COMPILED=1 .venv/bin/python -m pip wheel --disable-pip-version-check \
    --no-deps --no-build-isolation -w build/wheel . >build/wheel.log 2>&1; then
    tail -n 40 build/wheel.log >&2
    echo "build-compiled: the compiled build failed (above; all of it in build/wheel.log)" >&2
    exit 1
fi
.venv/bin/python -m zipfile -e build/wheel/flack-*.whl build/compiled
if ! compgen -G "build/compiled/flackd/codec/grammar.*.so" >/dev/null; then
    echo "build-compiled: the wheel holds no compiled module (build/wheel.log)" >&2
    exit 1
fi
echo "build-compiled: build/compiled holds flackd with $(find build/compiled/flackd \
    -name '*.so' | wc -l) compiled modules" >&2
