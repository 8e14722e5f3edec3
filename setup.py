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

With ``FLACK_REQUIRE_COMPILED=1`` a build that cannot compile fails instead of falling
back (``scripts/build-compiled.sh``, so that the suite's compiled run never runs pure).

``scripts/build-compiled.sh`` builds the compiled wheel into ``build/compiled`` for the
tests (``PYTHONPATH=build/compiled``); ``benchmarks/run.py`` builds its own copy.
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


#: ``FLACK_REQUIRE_COMPILED=1``: a build that cannot compile fails instead of falling back.
REQUIRED = os.environ.get("FLACK_REQUIRE_COMPILED") == "1"


class OptionalBuildExt(build_ext):
    """Builds the compiled modules if it can; if it cannot (no C compiler, no Python
    headers), says so and leaves the package pure Python, which works the same. All or
    nothing: mypyc's modules are small shims over one shared library, so a shim without
    its library would not import; on the first failure every extension already built is
    removed. With ``FLACK_REQUIRE_COMPILED=1`` a failure is an error instead
    (``scripts/build-compiled.sh``: a build that cannot compile must not pass as one)."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # distutils' errors have no common base but Exception
            if REQUIRED:
                raise
            print(f"flack: not compiling with mypyc ({exc}); pure Python", file=sys.stderr)
            for ext in self.extensions:
                built = self.get_ext_fullpath(ext.name)
                if os.path.exists(built):
                    os.remove(built)
            self.extensions = []
            self.distribution.ext_modules = []


#: The setup.py commands that build or install code: only they compile. Not the metadata
#: commands of a PEP 517 build (egg_info, dist_info: no type check needed), and never an
#: editable install (editable_wheel, develop: the development tree stays pure).
BUILDING = ("bdist_wheel", "build", "build_ext", "install", "bdist")


def compiled_modules() -> list[Any]:
    """The extensions to build, or none (see the module docstring)."""
    if os.environ.get("FLACK_PURE") == "1":
        return []
    if not any(arg in BUILDING for arg in sys.argv):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        if REQUIRED:
            raise
        print("flack: mypyc is not installed; pure Python", file=sys.stderr)
        return []
    try:
        return list(mypycify(COMPILED, opt_level="3", group_name="flackd_compiled"))
    except (Exception, SystemExit) as exc:  # mypyc exits on a type error: stay pure
        if REQUIRED:
            raise
        print(f"flack: mypyc failed ({exc!r}); pure Python", file=sys.stderr)
        return []


setup(ext_modules=compiled_modules(), cmdclass={"build_ext": OptionalBuildExt})
