#!/usr/bin/env bash
# irctest side by side: the same selection against flackd and Debian's InspIRCd (and
# ngIRCd when it is installed), counted by specification, so docs/irc.md can compare.
#
#   bash scripts/irctest-compare.sh            # flackd and whatever peers are installed
#
# The selection is what tests/test_irctest.py runs for flackd (irctest's own CI
# selection for servers), split into RFC/Modern and IRCv3 by markers. InspIRCd comes from
# apt (installed here when run as root); as root it needs --runasroot, and Debian's
# package lacks the helpop example irctest's config includes: both are provided in a
# scratch directory, nothing outside it is changed but /etc/inspircd/examples/helpop.conf.example.
# Prints one line per server and part; the logs stay in the scratch directory.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
tree=${IRCTEST_DIR:-$repo/../shared/irctest}
[ -f "$tree/conftest.py" ] || { echo "no irctest tree at $tree (set IRCTEST_DIR)" >&2; exit 2; }
scratch=$(mktemp -d)
bash scripts/setup.sh >"$scratch/setup.log" 2>&1 || { cat "$scratch/setup.log" >&2; exit 1; }
py=$repo/.venv/bin/python
core='not services and not implementation-specific and not deprecated and not strict'
parts=("RFC/Modern:($core) and (RFC1459 or RFC2812 or modern)" "IRCv3:($core) and IRCv3")

run() {  # run <name> <controller> <pythonpath> <path-prefix>
    local name=$1 controller=$2 pythonpath=$3 prefix=$4 part label marker
    for part in "${parts[@]}"; do
        label=${part%%:*}
        marker=${part#*:}
        (cd "$tree" && PATH="$prefix$PATH" PYTHONPATH="$pythonpath" PYTHONDONTWRITEBYTECODE=1 \
            "$py" -m pytest -p no:cacheprovider -q --controller "$controller" -m "$marker" \
            -n 2 --timeout 60 -rA irctest/server_tests >"$scratch/$name-${label%%/*}.log" 2>&1) || true
        printf '%-9s %-11s %s\n' "$name" "$label" "$(tail -n 1 "$scratch/$name-${label%%/*}.log")"
    done
}

run flackd flackd_irctest_controller "$repo/tests/irctest:$tree" ""

if ! command -v inspircd >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y inspircd >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y inspircd >/dev/null) || true
fi
if command -v inspircd >/dev/null || [ -x /usr/sbin/inspircd ]; then
    prefix=""
    if [ "$(id -u)" = 0 ]; then
        mkdir -p "$scratch/bin"
        printf '#!/bin/sh\nexec /usr/sbin/inspircd --runasroot "$@"\n' >"$scratch/bin/inspircd"
        chmod +x "$scratch/bin/inspircd"
        prefix="$scratch/bin:"
        if [ ! -f /etc/inspircd/examples/helpop.conf.example ] && [ -f /usr/share/doc/inspircd/examples/helpop.conf.example ]; then
            mkdir -p /etc/inspircd/examples
            cp /usr/share/doc/inspircd/examples/helpop.conf.example /etc/inspircd/examples/
        fi
    fi
    run inspircd irctest.controllers.inspircd "$tree" "$prefix"
else
    echo "inspircd   not installed (apt-get install inspircd, as root)"
fi
if command -v ngircd >/dev/null || [ -x /usr/sbin/ngircd ]; then
    run ngircd irctest.controllers.ngircd "$tree" "/usr/sbin:"
fi
echo "logs: $scratch"
