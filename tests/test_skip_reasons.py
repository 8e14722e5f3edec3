"""Rule 7 of tests/conftest.py: a skip inside a Trio test says why in pytest's summary
(pytest-trio alone reports it as a bare "Skipped" at its own line). Runs pytest on a
throwaway test file with the suite's hook, and reads the summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_trio_tests_skip_reason_reaches_the_summary(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_runtest_makereport  # noqa: F401\n"
    )
    (tmp_path / "test_skips.py").write_text(
        "import pytest\n\n\n"
        "async def test_in_trio() -> None:\n"
        "    pytest.skip('no frobnicator here')\n\n\n"
        "def test_plain() -> None:\n"
        "    pytest.skip('no widget here')\n"
    )
    argv = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]
    argv += ["-o", "trio_mode=true", str(tmp_path)]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert "2 skipped" in done.stdout, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert any("test_skips.py:4: no frobnicator here" in line for line in lines), lines
    assert any("no widget here" in line for line in lines), lines
