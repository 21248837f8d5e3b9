"""Bench: a 4-hour class of 30 teams (the three demo strategies x 10), pure mode, telemetry to SQLite.

Target: <= 10 s on the 2-core dev machine. Run: .venv/bin/python bench/bench_sim.py [--teams 30]
[--hours 4] [--smoke] (``--smoke``: 3 teams x 1 h; CI runs it, tests/unit/test_bench_smoke.py)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

from labctl.cost.catalog import load_catalog
from labctl.sim.inputs import render_team
from labctl.sim.runner import run_class
from labctl.sim.strategies import DEMO_STRATEGIES
from labctl.spec.load import load_cohort
from labctl.telemetry.store import Store
from labctl.workload import load_estimates


def main(n_teams: int = 30, hours: float = 4.0) -> float:
    names = list(DEMO_STRATEGIES)
    teams = [{"name": f"{names[i % 3]}-{i // 3 + 1}", **({"knobs": DEMO_STRATEGIES[names[i % 3]]}
                                                        if DEMO_STRATEGIES[names[i % 3]] else {})} for i in range(n_teams)]
    doc = {"cohort": "bench", "target": "embedded", "region": "us-east-1", "lab": "gpu-baseline",
           "window": {"start": "2026-12-01T09:00:00Z", "duration": f"{int(hours)}h"}, "teams": teams}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(yaml.safe_dump(doc))
        cohort = load_cohort(path)
        inputs = [render_team(cohort, t.name) for t in cohort.teams]
        catalog, estimates = load_catalog(), load_estimates()
        t0 = time.perf_counter()
        with Store(Path(tmp) / "telemetry.sqlite", "bench") as store:
            report = run_class(inputs, start=datetime(2026, 12, 1, 9, tzinfo=timezone.utc), hours=hours,
                               catalog=catalog, estimates=estimates, seed=0, store=store)
        seconds = time.perf_counter() - t0
    print(f"bench_sim: {n_teams} teams x {hours:g} h simulated in {seconds:.2f} s (pure mode, telemetry "
          f"written: {report.rows['samples']} samples, {report.rows['events']} events, "
          f"{report.rows['lifecycle']} lifecycle rows); target <= 10 s")
    return seconds


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--teams", type=int, default=30)
    ap.add_argument("--hours", type=float, default=4.0)
    ap.add_argument("--smoke", action="store_true", help="3 teams x 1 h: proves the bench still runs")
    a = ap.parse_args()
    main(3, 1.0) if a.smoke else main(a.teams, a.hours)
