"""Flack's test suite (its rules: conftest.py).

The suite tests the code that ``PYTHONPATH`` names first, if it names any: that is how
``scripts/test.sh`` runs it a second time on ``build/compiled`` (flackd with its mypyc
modules), and its subprocesses inherit the variable. pytest puts the repository's root,
and so the pure development tree, at the front of ``sys.path`` before it imports this
package; this puts ``PYTHONPATH`` back in front, before anything imports flackd.
"""

from __future__ import annotations

import os
import sys

for _entry in reversed(os.environ.get("PYTHONPATH", "").split(os.pathsep)):
    if _entry:
        sys.path.insert(0, os.path.abspath(_entry))
