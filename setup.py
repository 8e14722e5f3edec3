"""Build Flack; where it can, compile flackd's pure per-message modules with mypyc.

Everything about the package is in pyproject.toml; this file only adds the optional
compiled modules (issue 14: the Python flackd runs per message). A normal install
(``pip install .``, a wheel) compiles the modules in :data:`COMPILED` into C extensions
when mypyc (which comes with mypy, a build requirement) and a C compiler are there, and
falls back to the same modules in pure Python when either is missing or the build of the
extensions fails: they are the same code, and the test suite passes both ways
(``scripts/test.sh`` runs it on each). Never compiled:

* an editable install (``pip install -e``, what ``scripts/setup.sh`` makes for
  development): a compiled module beside its source would shadow every later edit of it
  (Python imports the extension first), so a development tree stays pure;
* with ``FLACK_PURE=1`` in the environment.

``scripts/build-compiled.sh`` builds the compiled wheel into ``build/compiled`` for the
tests and the benchmarks (``PYTHONPATH=build/compiled``, ``flackd@src=build/compiled``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

#: The modules compiled with mypyc: flackd's strictly typed code on the path of every
#: line (framing, decoding, parsing, formatting, ids, flood buckets, history) and of every
#: delivery (a connection's queue and writes, fan-out, the poller, the flusher), and the
#: modules of Connection's subclasses (mypyc makes no instance of an interpreted subclass
#: of a compiled class; tests/test_compiled.py checks). Each passes the whole suite
#: compiled. Not yet: the hub, the reader and the dispatch are mixins, and mypyc builds a
#: class with several bases only from traits; and compiling the hub alone gains nothing
#: while the events and state it makes and reads are interpreted (docs/performance.md).
COMPILED = [
    "flackd/codec/framing.py",
    "flackd/codec/grammar.py",
    "flackd/codec/ids.py",
    "flackd/codec/lines.py",
    "flackd/codec/modes.py",
    "flackd/codec/text.py",
    "flackd/codec/usermodes.py",
    "flackd/connection.py",
    "flackd/fanout.py",
    "flackd/flusher.py",
    "flackd/history.py",
    "flackd/poller.py",
    "flackd/ratelimit.py",
    "flackd/replica/entries.py",
    "flackd/stream_connection.py",
]


class OptionalBuildExt(build_ext):
    """Builds the compiled modules if it can; if it cannot (no C compiler, no Python
    headers), says so and leaves the package pure Python, which works the same."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # distutils' errors have no common base but Exception
            self._give_up(exc)

    def build_extension(self, ext: Any) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._give_up(exc)

    def _give_up(self, exc: Exception) -> None:
        print(f"flack: not compiling with mypyc ({exc}); pure Python", file=sys.stderr)
        self.extensions = []
        self.distribution.ext_modules = []


def compiled_modules() -> list[Any]:
    """The extensions to build, or none (see the module docstring)."""
    if os.environ.get("FLACK_PURE") == "1":
        return []
    if any(arg in ("editable_wheel", "develop") for arg in sys.argv):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("flack: mypyc is not installed; pure Python", file=sys.stderr)
        return []
    try:
        return list(mypycify(COMPILED, opt_level="3", group_name="flackd_compiled"))
    except (Exception, SystemExit) as exc:  # mypyc exits on a type error: stay pure
        print(f"flack: mypyc failed ({exc!r}); pure Python", file=sys.stderr)
        return []


setup(ext_modules=compiled_modules(), cmdclass={"build_ext": OptionalBuildExt})
