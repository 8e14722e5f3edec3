#!/usr/bin/env bash
# Create .venv (if missing) and install Flack with its development tools into it.
# Idempotent: safe to run again; reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
        # Debian's system Python keeps venv in a separate package.
        echo "setup: installing python3-venv with apt" >&2
        rm -rf .venv
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        "$PYTHON" -m venv .venv
    fi
fi
# Programs the tests drive, as "command:Debian package": tmux (flackcli end to end),
# openssl (s_client as a TLS netcat), weechat and irssi (real IRC clients on the IRC port;
# weechat's fifo plugin comes in weechat-plugins), chromium and chromedriver (the web
# client in a real browser), redis-server (several flackd nodes sharing one chat), faketime
# (irctest's tests of LIST's time conditions run flackd on a fast clock), and gcc with
# Python's headers (mypyc compiles some of flackd's modules: setup.py).
missing=()
for pair in tmux:tmux openssl:openssl weechat-headless:weechat-headless irssi:irssi \
    chromium:chromium chromedriver:chromium-driver redis-server:redis-server \
    faketime:faketime gcc:gcc; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if ! "$PYTHON" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
    missing+=(python3-dev)
fi
if ! compgen -G "/usr/lib/*/weechat/plugins/fifo.so" >/dev/null \
    && ! compgen -G "/usr/lib/weechat/plugins/fifo.so" >/dev/null; then
    missing+=(weechat-plugins)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing ${missing[*]} with apt" >&2
        apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "setup: missing ${missing[*]}; the tests that need them will be skipped" >&2
    fi
fi
stamp=.venv/.flack-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    # setuptools 77 or later: pyproject.toml's license field; scripts/build-compiled.sh
    # builds with the venv's own setuptools and mypy (no build isolation).
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip \
        'setuptools>=77'
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
    touch "$stamp"
fi
