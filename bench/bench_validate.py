"""Validating a 30-team cohort's manifests (strict schema + Terraform consistency) in one process.

    .venv/bin/python bench/bench_validate.py [--teams 30] [--version 1.31]

Prints the one-off cost of building the validators and the time to validate every team's
rendered manifests with them built (the figure the issue bounds at 1 s for 30 teams).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from labctl.render import k8s_validate
from labctl.render.manifests import render_team_manifests
from labctl.render.terraform import ProviderSettings, tfvars
from labctl.spec.load import load_cohort

SPOT_KNOBS = """\
    knobs:
      node_groups:
        gpu_on_demand: {instance_types: [g5.xlarge], min_size: 0, desired_size: 0, max_size: 1}
        gpu_spot: {instance_types: [g5.xlarge, g6.xlarge], max_size: 3}
      autoscaler: {expander: priority, scale_down_enabled: true}
      job: {pool: spot, checkpoint_every_steps: 500}
"""


def cohort_yaml(teams: int) -> str:
    lines = ["cohort: bench", "target: aws", "region: us-east-1",
             "window: {start: 2026-12-01T09:00:00Z, duration: 4h}", "lab: gpu-baseline", "teams:"]
    for i in range(teams):
        lines.append(f"  - name: team-{i:02d}\n    members: [user{i}@example.com]")
        if i % 2:
            lines.append(SPOT_KNOBS.rstrip("\n"))
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teams", type=int, default=30)
    ap.add_argument("--version", default="1.31")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        spec = Path(d) / "cohort.yaml"
        spec.write_text(cohort_yaml(args.teams))
        cohort = load_cohort(spec)
    provider = ProviderSettings(endpoint_url="", emulator=False, max_retries=25)
    inputs = [(render_team_manifests(cohort, t), tfvars(cohort, t, provider)) for t in cohort.teams]

    t0 = time.perf_counter()
    first = [k8s_validate.validate_team(f, v, args.version) for f, v in inputs]   # builds validators
    build = time.perf_counter() - t0
    assert all(not p for p in first), [str(p) for ps in first for p in ps][:5]
    runs = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for f, v in inputs:
            k8s_validate.validate_team(f, v, args.version)
        runs.append(time.perf_counter() - t0)
    objects = sum(len(k8s_validate.parse_files(f)[0]) for f, _ in inputs)
    print(f"validate {args.teams} teams ({objects} objects, Kubernetes {args.version}): "
          f"median {statistics.median(runs):.3f} s, best {min(runs):.3f} s over {args.repeat} runs; "
          f"first run incl. building validators {build:.3f} s")


if __name__ == "__main__":
    main()
