"""Validating and rendering a cohort's teams in one process (issue 19: 100 teams, <= 1 s each).

    .venv/bin/python bench/bench_validate.py [--teams 100] [--repeat 5] [--smoke]

Prints, best and median of ``--repeat`` runs (wall and CPU seconds of this process):
- ``validate_cohort`` as every command runs it: load the cohort file, render each team's
  manifests and tfvars, validate each distinct shape of team once (strict schemas + Terraform
  consistency);
- ``render`` as `labctl render` runs it: that, then each team's root (terraform/root, a link to
  the cohort's one copy of the modules, tfvars) and manifests written to a fresh folder, and the
  size of what it wrote;
- every team's manifests validated one by one, without shapes (what a shape saves).
The first run of each also pays for building the schema validators and compiling the templates.
``--smoke``: 4 teams, 1 run (seconds; CI runs it, tests/unit/test_bench_smoke.py).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from labctl import naming
from labctl.ops.render import render
from labctl.ops.validate import validate_and_render, validate_cohort
from labctl.render import k8s_validate

SPOT_KNOBS = """\
    knobs:
      node_groups:
        gpu_on_demand: {instance_types: [g5.xlarge], min_size: 0, desired_size: 0, max_size: 1}
        gpu_spot: {instance_types: [g5.xlarge, g6.xlarge], max_size: 3}
      autoscaler: {expander: priority, scale_down_enabled: true}
      job: {pool: spot, checkpoint_every_steps: 500}
"""


def cohort_yaml(teams: int) -> str:
    lines = ["cohort: bench", "target: embedded", "region: us-east-1",
             "window: {start: 2026-12-01T09:00:00Z, duration: 4h}", "lab: gpu-baseline", "teams:"]
    for i in range(teams):
        lines.append(f"  - name: team-{i:02d}\n    members: [user{i}@example.com]")
        if i % 2:
            lines.append(SPOT_KNOBS.rstrip("\n"))
    return "\n".join(lines) + "\n"


def _tree_size(d: Path) -> tuple[int, int]:
    files = [p for p in d.rglob("*") if p.is_file() and not p.is_symlink()]
    return len(files), sum(p.stat().st_size for p in files)


def _timed(fn, repeat: int) -> tuple[float, float, float, float, float]:  # type: ignore[no-untyped-def]
    """(first wall, best wall, median wall, best cpu, median cpu) of ``repeat`` calls of ``fn``."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return walls[0], min(walls), statistics.median(walls), min(cpus), statistics.median(cpus)


def _line(what: str, t: tuple[float, float, float, float, float], goal: str = "") -> str:
    first, best, med, cbest, cmed = t
    return (f"{what}: best {best:.3f} s (median {med:.3f} s; CPU best {cbest:.3f} s, median {cmed:.3f} s; "
            f"first run {first:.3f} s){goal}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teams", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="4 teams, 1 run: proves the bench still runs")
    args = ap.parse_args()
    if args.smoke:
        args.teams, args.repeat = 4, 1
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as d:
        spec = Path(d) / "cohort.yaml"
        spec.write_text(cohort_yaml(args.teams))
        runs = iter(range(10**6))

        def render_fresh() -> None:
            render(spec, Path(d) / f"out-{next(runs)}")

        t_val = _timed(lambda: validate_cohort(spec), args.repeat)
        t_ren = _timed(render_fresh, args.repeat)
        files, size = _tree_size(Path(d) / "out-0")
        cohort, rendered = validate_and_render(spec)
        shapes = len({k8s_validate.shape(t.name, [naming.bucket_name(cohort.cohort.cohort, t.name), *t.members],
                                         *rendered[t.name], t.lab.kubernetes_version) for t in cohort.teams})
        objects = sum(len(k8s_validate.parse_files(f)[0]) for f, _ in rendered.values())
        t_each = _timed(lambda: [k8s_validate.validate_team(f, v, t.lab.kubernetes_version)
                                 for t in cohort.teams for f, v in [rendered[t.name]]], args.repeat)
    print(f"{args.teams} teams ({shapes} shapes, {objects} Kubernetes objects), {args.repeat} runs each:")
    print(_line("  validate_cohort", t_val, " (goal <= 1 s at 100 teams)"))
    print(_line("  render", t_ren, " (goal <= 1 s at 100 teams)") + f"; wrote {files} files, {size / 1e6:.1f} MB")
    print(_line("  every team's manifests validated one by one (no shapes)", t_each))


if __name__ == "__main__":
    main()
