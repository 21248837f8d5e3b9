"""ruff keeps the small habits (pyflakes, pycodestyle, bugbear; config in pyproject.toml) across
the package, the tests and the benchmarks: a finding fails the suite, which CI runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_finds_nothing():
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "labctl", "tests", "bench"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "No module named ruff" not in res.stderr, "install the test extra (./dev test does)"
    assert res.returncode == 0, f"ruff:\n{res.stdout}\n{res.stderr}"
