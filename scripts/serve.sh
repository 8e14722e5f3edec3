#!/usr/bin/env bash
# Set everything up (first run only) and start flackd on its defaults: 127.0.0.1:7777,
# IRC on 127.0.0.1:6667, in memory. Any flackd flag may follow, e.g.
# scripts/serve.sh --port 7000. Ctrl+C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/flackd "$@"
