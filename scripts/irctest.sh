#!/usr/bin/env bash
# Run the irctest conformance suite (the one ergo, InspIRCd and ngircd use) against the
# installed flackd's IRC port, as tests/test_irctest.py does: every server test of the core
# selection, plus chathistory and redact; the tests flackd fails on purpose are listed,
# with their reasons, in tests/test_irctest.py (DELIBERATE) and docs/irc.md.
# irctest's tree: $IRCTEST_DIR, else ../shared/irctest beside this repository.
# Extra arguments go to pytest (e.g. -k irctest -s).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/pytest -p no:cacheprovider tests/test_irctest.py "$@"
