"""Benchmark a team's small change on the embedded default: `team plan` then `team apply`.

Goal (issue 7): a small change planned and applied in <= 15 s. Provisions a one-team cohort
(`up`, not timed), writes the team's knobs file, then for each small change in CHANGES times
`labctl team plan` + `labctl team apply`, each a fresh CLI process as a facilitator would run
them. Prints per-phase timings (render, init, plan, show, apply).

    .venv/bin/python bench/bench_team.py [--rounds 3]
    .venv/bin/python bench/bench_team.py --smoke     # one change (CI)

Without terraform on PATH or a provider mirror it prints why and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labctl.aws import emulator  # noqa: E402
from labctl.ops.up import up  # noqa: E402

COHORT = """\
cohort: bench
target: embedded
region: us-east-1
window: {{start: {start}, duration: 4h}}
lab: explore-instances
teams:
  - name: alpha
    knobs:
      node_groups: {{gpu_spot: {{max_size: 0}}}}
"""

APPLY_ONLY = "team apply alone: "

# Small changes a team makes in class, in order: pools switched on and off (node groups and
# launch templates created or deleted), an instance type swapped (node group replaced), a disk
# resized (a new launch template version rolled onto the node group, in place), and a
# manifest-only autoscaler change.
CHANGES = [
    ("spot pool on (max 1) and the job moved to it",
     [("max_size: 0    # 0 switches the pool off; at most 1\n    disk_gib: 100    # 20..2000\nautoscaler",
       "max_size: 1    # 0 switches the pool off; at most 1\n    disk_gib: 100    # 20..2000\nautoscaler"),
      ("pool: on-demand    #", "pool: spot    #")]),
    ("autoscaler: scale down after 2m idle (manifests only)",
     [("scale_down_unneeded_time: 5m", "scale_down_unneeded_time: 2m")]),
    ("job back on-demand and the spot pool off again",
     [("max_size: 1    # 0 switches the pool off; at most 1\n    disk_gib: 100    # 20..2000\nautoscaler",
       "max_size: 0    # 0 switches the pool off; at most 1\n    disk_gib: 100    # 20..2000\nautoscaler"),
      ("pool: spot    #", "pool: on-demand    #")]),
    ("on-demand GPU type g5.xlarge -> g6.xlarge (node group replaced)",
     [("instance_types: [g5.xlarge]    # allowed", "instance_types: [g6.xlarge]    # allowed")]),
    ("on-demand GPU disk 100 -> 60 GiB (launch template version, node group updated in place)",
     [("max_size: 1    # 0 switches the pool off; at most 1\n    disk_gib: 100",
       "max_size: 1    # 0 switches the pool off; at most 1\n    disk_gib: 60")]),
    # Changes applied without `team plan`: one terraform process plans and applies.
    (APPLY_ONLY + "on-demand GPU type g6.xlarge -> g5.xlarge (node group replaced)",
     [("instance_types: [g6.xlarge]    # allowed", "instance_types: [g5.xlarge]    # allowed")]),
    (APPLY_ONLY + "on-demand GPU disk 60 -> 100 GiB (launch template version, node group updated in place)",
     [("max_size: 1    # 0 switches the pool off; at most 1\n    disk_gib: 60",
       "max_size: 1    # 0 switches the pool off; at most 1\n    disk_gib: 100")]),
    (APPLY_ONLY + "spot pool on (max 1) and the job moved to it",
     [("max_size: 0    # 0 switches the pool off; at most 1\n    disk_gib: 100    # 20..2000\nautoscaler",
       "max_size: 1    # 0 switches the pool off; at most 1\n    disk_gib: 100    # 20..2000\nautoscaler"),
      ("pool: on-demand    #", "pool: spot    #")]),
]

# `labctl` with the team commands added (harmless once labctl.cli.commands registers them).
_ENTRY = ("import sys; from labctl.cli.main import _register, cli; from labctl.cli.team import ALL; _register(); "
          "[cli.add_command(c) for c in ALL]; cli(prog_name='labctl')")


def _labctl(state: Path, *args: str) -> tuple[float, dict]:
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-c", _ENTRY, "--state-dir", str(state), "--output", "json", *args],
                         capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - t0
    if res.returncode != 0:
        raise SystemExit(f"labctl {' '.join(args)} failed ({res.returncode}): {res.stderr.strip()[-500:]}")
    return wall, json.loads(res.stdout)


def _slowest(events: Path, n: int = 3) -> list[tuple[str, float]]:
    """From the team's event log: the resources the last `apply` spent longest on (start->complete)."""
    from datetime import datetime

    if not events.exists():
        return []
    lines = events.read_text().splitlines()
    # the runner writes a {"labctl": "run", "argv": [...]} marker, then that run's events
    runs = [i for i, ln in enumerate(lines) if ln.startswith('{"labctl": "run", "argv": ["apply"')]
    if not runs:
        return []
    end = next((i for i in range(runs[-1] + 1, len(lines)) if lines[i].startswith('{"labctl"')), len(lines))
    started: dict[str, datetime] = {}
    took: dict[str, float] = {}
    for ln in lines[runs[-1] + 1:end]:
        try:
            ev = json.loads(ln)
        except ValueError:
            continue
        addr = ((ev.get("hook") or {}).get("resource") or {}).get("addr")
        if not addr or "@timestamp" not in ev:
            continue
        ts = datetime.fromisoformat(ev["@timestamp"].replace("Z", "+00:00"))
        if ev.get("type") == "apply_start":
            started[addr] = ts
        elif ev.get("type") == "apply_complete" and addr in started:
            took[addr] = (ts - started[addr]).total_seconds()
    return sorted(took.items(), key=lambda kv: -kv[1])[:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=len(CHANGES))
    ap.add_argument("--smoke", action="store_true", help="one change: proves the bench still runs")
    args = ap.parse_args()
    if args.smoke:
        args.rounds = 1
    import shutil

    from labctl.tf.config import detect_mirror

    if shutil.which("terraform") is None or detect_mirror() is None:
        print("bench_team skipped: " + ("terraform is not on PATH" if shutil.which("terraform") is None else
                                        "no provider mirror (tf-plugins or $LABCTL_TF_MIRROR): terraform init "
                                        "cannot install hashicorp/aws offline"))
        return
    from datetime import datetime, timedelta, timezone

    start = (datetime.now(timezone.utc) - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with tempfile.TemporaryDirectory(prefix="bench-team-") as tmp:
        state = Path(tmp) / "state"
        spec = Path(tmp) / "cohort.yaml"
        spec.write_text(COHORT.format(start=start))
        emulator.start_background(state)
        try:
            t0 = time.monotonic()
            rep = up(spec, state, quiet=True)
            print(f"up (not timed in the goal): {time.monotonic() - t0:.1f}s, "
                  f"{[(t.team, t.status) for t in rep.teams]}")
            _labctl(state, "team", "knobs", "alpha", "--cohort", str(spec))
            knobs = state / "cohorts" / "bench" / "teams" / "alpha" / "knobs.yaml"
            changes = CHANGES[: args.rounds]
            for label, edits in changes:
                text = knobs.read_text()
                for old, new in edits:
                    if old not in text:
                        raise SystemExit(f"bench edit not found in the knobs file: {old!r}")
                    text = text.replace(old, new, 1)
                knobs.write_text(text)
                if label.startswith(APPLY_ONLY):
                    tp, plan = 0.0, None
                else:
                    tp, plan = _labctl(state, "team", "plan", "alpha", "--cohort", str(spec))
                ta, applied = _labctl(state, "team", "apply", "alpha", "--cohort", str(spec))
                print(f"\nchange: {label}")
                if plan is not None:
                    print(f"  team plan : {tp:5.1f}s wall (in-process {plan['seconds']}s: {plan['timings']}); "
                          f"{len(plan['changes'])} terraform changes, {len(plan['manifest_changes'])} manifest files")
                plan = plan or applied
                print(f"  team apply: {ta:5.1f}s wall (in-process {applied['seconds']}s: {applied['timings']}); "
                      f"saved plan used: {applied['used_saved_plan']}, status {applied['status']}")
                print(f"  total     : {tp + ta:5.1f}s (goal <= 15 s)  cost change: "
                      f"{(plan['cost_change'].splitlines() or ['none'])[-1]}")
                slow = _slowest(state / "cohorts" / "bench" / "teams" / "alpha" / "events.jsonl")
                if slow:
                    print("  slowest resources in the last apply: " + ", ".join(f"{a} {s:.1f}s" for a, s in slow))
        finally:
            emulator.stop_background(state)
    print(f"\nmachine: {os.cpu_count()} cores; shared with other work, so figures vary by a few seconds")


if __name__ == "__main__":
    main()
