"""Flack's test suite (its rules: conftest.py).

In the compiled run (``FLACK_EXPECT_COMPILED=1``: ``scripts/test.sh`` runs the suite a
second time on ``build/compiled``, flackd with its mypyc modules, named by
``PYTHONPATH``, which its subprocesses inherit), the suite tests the code ``PYTHONPATH``
names: pytest puts the repository's root, and so the pure development tree, at the front
of ``sys.path`` before it imports this package; this puts ``PYTHONPATH`` back in front,
before anything imports flackd. Any other run is left as pytest made it.
"""

from __future__ import annotations

import os
import sys

if os.environ.get("FLACK_EXPECT_COMPILED") == "1":
    for _entry in reversed(os.environ.get("PYTHONPATH", "").split(os.pathsep)):
        if _entry:
            sys.path.insert(0, os.path.abspath(_entry))
