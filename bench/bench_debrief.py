"""Bench: the debrief (store -> ledger -> allocation -> HTML + JSON + FOCUS CSV) for 30 teams x 4 h
at 1-minute resolution. Goal (issue 6): <= 2 s. The synthetic class is the one the report tests
use (tests/unit/report/synth.py: per-minute DCGM samples per GPU node and pod, job progress,
node group sizes, lifecycle and events as the simulator writes them).

Run: .venv/bin/python bench/bench_debrief.py [--teams 30] [--hours 4] [--repeat 3] [--smoke]
(``--smoke``: 2 teams x 1 h, one run; CI runs it, tests/unit/test_bench_smoke.py)
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labctl.cost.catalog import load_catalog  # noqa: E402
from labctl.ops.debrief import write_debrief  # noqa: E402
from tests.unit.report.synth import write_class  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teams", type=int, default=30)
    ap.add_argument("--hours", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="2 teams x 1 h, one run: proves the bench still runs")
    args = ap.parse_args()
    if args.smoke:
        args.teams, args.hours, args.repeat = 2, 1, 1
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        write_class(state, "bench", args.teams, args.hours)
        db = sqlite3.connect(state / "cohorts" / "bench" / "telemetry.sqlite")
        counts = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("lifecycle", "samples", "events")}  # noqa: S608
        db.close()
        t0 = time.perf_counter()
        catalog = load_catalog()
        t_cat = time.perf_counter() - t0
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = write_debrief(state, "bench", state / "out", catalog=catalog)
            times.append(time.perf_counter() - t0)
        sizes = {k: (Path(out[k]).stat().st_size // 1024) for k in ("html", "json", "focus_csv")}
    print(f"{args.teams} teams x {args.hours} h at 1-minute resolution: {counts['lifecycle']} lifecycle rows, "
          f"{counts['samples']} samples, {counts['events']} events; outputs KiB {sizes}")
    print(f"debrief best {min(times):.3f} s, worst {max(times):.3f} s of {args.repeat} (goal <= 2 s; catalog load "
          f"{t_cat:.3f} s once per process, not included); total ${out['summary']['total_cost_usd']}")


if __name__ == "__main__":
    main()
