"""Every benchmark still runs: each bench/*.py in its smoke size (seconds), as a user would start
it, exits 0 and prints its figures. A refactor that breaks a bench fails here, not months later.

The two that drive real terraform (bench_up, bench_team) run one team; where terraform or the
provider mirror is missing they print why and exit 0, and this test then skips with that reason.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
REAL_TERRAFORM = [pytest.mark.terraform, pytest.mark.slow]

# script -> (arguments, what its output must show: the figures it exists to print)
SMOKE = {
    "bench_validate.py": (["--smoke"], [r"validate_cohort: best \d+\.\d+ s", r"render: best \d+\.\d+ s.*wrote \d+ files"]),
    "bench_cost.py": (["--smoke"], [r"ledger \d+\.\d+ s +allocation \d+\.\d+ s .*total \d+\.\d+ s"]),
    "bench_debrief.py": (["--smoke"], [r"debrief best \d+\.\d+ s"]),
    "bench_sim.py": (["--smoke"], [r"3 teams x 1 h simulated in \d+\.\d+ s"]),
    "compare_debriefs.py": (["--smoke"], [r"^0 differences apart from timestamps$"]),
    "bench_up.py": (["--smoke"], [r"labctl +1 teams .* up: +wall +\d+\.\d+ s +cpu +\d+\.\d+ s +peak",
                                  r"labctl +1 teams .* down: +wall",
                                  r"plain terraform, +1 teams one by one +up: +wall",
                                  r"ratio, +1 teams .*: up \d+\.\d+x, down \d+\.\d+x"]),
    "bench_team.py": (["--smoke"], [r"team plan : +\d+\.\d+s wall", r"team apply: +\d+\.\d+s wall"]),
}
NEEDS_TERRAFORM = {"bench_up.py", "bench_team.py"}


def test_every_bench_script_has_a_smoke_run():
    assert sorted(p.name for p in BENCH.glob("*.py")) == sorted(SMOKE)


@pytest.mark.parametrize("script", [
    pytest.param(name, marks=REAL_TERRAFORM if name in NEEDS_TERRAFORM else [], id=name)      # the others: 1-3 s each
    for name in sorted(SMOKE)])
def test_bench_runs_in_its_smoke_size_and_prints_its_figures(script, tmp_path):
    args, figures = SMOKE[script]
    res = subprocess.run([sys.executable, str(BENCH / script), *args], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, f"{script} {' '.join(args)} exited {res.returncode}:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    skipped = re.search(r"^\w+ skipped: (.+)$", res.stdout, re.M)
    if script in NEEDS_TERRAFORM and skipped:
        pytest.skip(f"{script}: {skipped.group(1)}")
    for pattern in figures:
        assert re.search(pattern, res.stdout, re.M), f"{script} did not print {pattern!r}:\n{res.stdout[-2000:]}"
