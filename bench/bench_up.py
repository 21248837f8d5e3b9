"""Benchmark `labctl up` and `down` on the embedded default, and a sequential baseline.

Prints wall time, CPU seconds (labctl + terraform + providers + the emulator) and peak memory
(sum of RSS over the whole process tree, sampled every 0.25 s) for each cohort size, then the
same root applied the plain way: `terraform init && terraform apply` per team, one after
another, with terraform's defaults (no GOGC tuning, no shared init), then `terraform destroy` of
each. Last, the ratios the issue asks for: n teams x the plain per-team time / labctl's time.

    .venv/bin/python bench/bench_up.py --sizes 1,4,8 --baseline 2
    .venv/bin/python bench/bench_up.py --smoke     # 1 team and a 1-team baseline (CI)
    .venv/bin/python bench/bench_up.py --sizes 100 --baseline 0 --broken 3   # 3 teams made to fail

Without terraform on PATH or a provider mirror (offline: init cannot install hashicorp/aws) it
prints why and exits 0, as the real-terraform tests skip.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labctl.aws import emulator  # noqa: E402
from labctl.aws.session import AwsTarget  # noqa: E402
from labctl.ops.down import down  # noqa: E402
from labctl.ops.up import up  # noqa: E402
from labctl.render.terraform import tfvars, write_root  # noqa: E402
from labctl.spec.load import load_cohort  # noqa: E402
from labctl.tf.config import detect_mirror, render_cli_config  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _procs() -> dict[int, tuple[int, int, float]]:
    """pid -> (ppid, rss bytes, cpu seconds incl. reaped children)."""
    return {pid: (ppid, rss, cpu) for pid, (ppid, rss, cpu, _, _) in _procs_full().items()}


def _procs_full() -> dict[int, tuple[int, int, float, float, str]]:
    """pid -> (ppid, rss bytes, cpu seconds incl. reaped children, its own cpu seconds, comm)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                head, tail = fh.read().rsplit(")", 1)
        except OSError:
            continue
        parts = tail.split()
        ppid = int(parts[1])
        own = (int(parts[11]) + int(parts[12])) / TICKS
        cpu = own + (int(parts[13]) + int(parts[14])) / TICKS
        out[int(d)] = (ppid, int(parts[21]) * PAGE, cpu, own, head.split("(", 1)[1])
    return out


def _kind(comm: str) -> str:
    if comm.startswith("terraform-prov"):      # comm is cut at 15 characters
        return "aws provider"
    if comm == "terraform":
        return "terraform core"
    return "other"


def _tree(root: int, procs) -> set[int]:
    kids: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        kids.setdefault(ppid, []).append(pid)
    seen, stack = set(), [root]
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        stack.extend(kids.get(p, []))
    return seen


class Meter:
    """Peak RSS of this process tree (plus extra pids) and CPU used between start and stop."""

    def __init__(self, extra_pids=()):
        self.extra = set(extra_pids)
        self.peak = 0
        self.seen: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()

    def _sample(self):
        full = _procs_full()
        procs = {pid: v[:3] for pid, v in full.items()}
        tree = _tree(os.getpid(), procs)
        for pid in tree - {os.getpid()} - self.extra:     # last seen own CPU of each child, by kind
            self.seen[pid] = (_kind(full[pid][4]), full[pid][3])
        pids = tree | self.extra
        return sum(procs[p][1] for p in pids if p in procs), sum(procs[p][2] for p in self.extra if p in procs)

    def __enter__(self):
        self.t0 = time.monotonic()
        r = os.times()
        self.cpu0 = r.user + r.system + r.children_user + r.children_system
        self.self0 = r.user + r.system
        self.extra_cpu0 = self._sample()[1]
        self.seen.clear()            # children from before the start are not this run's
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self):
        while not self._stop.wait(0.25):
            rss, _ = self._sample()
            self.peak = max(self.peak, rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        r = os.times()
        self.wall = time.monotonic() - self.t0
        self.cpu = (r.user + r.system + r.children_user + r.children_system) - self.cpu0
        emulator = self._sample()[1] - self.extra_cpu0
        self.cpu += emulator
        # Where the CPU went: labctl's own process exactly, the emulator exactly, terraform and
        # its providers as last sampled (every 0.25 s); what no sample saw (short-lived
        # processes, the last moments of each) is "unsampled".
        split = {"labctl process": r.user + r.system - self.self0, "emulator": emulator,
                 "terraform core": 0.0, "aws provider": 0.0, "other": 0.0}
        for kind, own in self.seen.values():
            split[kind] += own
        split["unsampled"] = max(0.0, self.cpu - sum(split.values()))
        self.split = split


def cohort_file(d: Path, n: int, cid: str) -> Path:
    import yaml

    start = datetime.now(timezone.utc).replace(microsecond=0)
    spec = {"cohort": cid, "target": "embedded", "region": "us-east-1", "lab": "gpu-baseline",
            "window": {"start": start.isoformat(), "duration": "4h"},
            "teams": [{"name": f"t{i:02d}"} for i in range(n)]}
    p = d / f"{cid}.yaml"
    p.write_text(yaml.safe_dump(spec))
    return p


def fmt(m: Meter) -> str:
    split = ", ".join(f"{k} {v:.1f}" for k, v in m.split.items() if v >= 0.05)
    return f"wall {m.wall:6.1f} s  cpu {m.cpu:7.1f} s  peak {m.peak / 2**30:5.2f} GiB  (CPU-s: {split})"


def broken_teams(n: int, k: int) -> list[str]:
    """``k`` teams spread over the cohort, to be made to fail (``--broken``)."""
    return [f"t{i:02d}" for i in sorted({(j * n) // k + n // (2 * k) for j in range(k)})] if k else []


def bench_labctl(n: int, work: Path, parallelism: int | None, down_batch_size: int | None = None, broken: int = 0) -> dict:
    state = work / f"state-{n}"
    info, _ = emulator.start_background(state)
    try:
        spec = cohort_file(work, n, f"b{n}")
        # A role with a team's cluster role name already there fails that team's apply, as a clash
        # would in a real account: every other team must still be created (failures stay per team).
        bad = broken_teams(n, broken)
        iam = AwsTarget(kind="embedded", region="us-east-1", endpoint_url=info.url).client("iam")
        for t in bad:
            iam.create_role(RoleName=f"b{n}-{t}-cluster", AssumeRolePolicyDocument="{}")
        with Meter([info.pid]) as mu:
            rep = up(spec, state, quiet=True, parallelism=parallelism)
        assert sorted(t.team for t in rep.failed) == bad, [t.error for t in rep.failed]
        if bad:
            print(f"labctl  {n:2d} teams: the {len(bad)} broken ({', '.join(bad)}) failed alone, "
                  f"{len(rep.teams) - len(bad)} created", flush=True)
        with Meter([info.pid]) as md:
            drep = down(f"b{n}", state, quiet=True, parallelism=parallelism, batch_size=down_batch_size)
        assert drep.clean, drep.left
        print(f"labctl  {n:2d} teams (x{rep.parallelism})  up:   {fmt(mu)}", flush=True)
        print(f"labctl  {n:2d} teams (x{rep.parallelism})  down: {fmt(md)}", flush=True)
        return {"teams": n, "parallelism": rep.parallelism,
                "up": {"wall_s": round(mu.wall, 1), "cpu_s": round(mu.cpu, 1), "peak_gib": round(mu.peak / 2**30, 2),
                       "cpu_split_s": {k: round(v, 1) for k, v in mu.split.items()}},
                "down": {"wall_s": round(md.wall, 1), "cpu_s": round(md.cpu, 1), "peak_gib": round(md.peak / 2**30, 2),
                         "cpu_split_s": {k: round(v, 1) for k, v in md.split.items()}}}
    finally:
        emulator.stop_background(state)


def bench_sequential(n: int, work: Path) -> dict:
    """Plain terraform, one team after another: init + apply with terraform's defaults."""
    state = work / f"seq-{n}"
    info, _ = emulator.start_background(state)
    try:
        from labctl.ops.target import _emulated_env, provider_settings

        spec = cohort_file(work, n, f"s{n}")
        cohort = load_cohort(spec)
        rc = work / "plain.tfrc"
        rc.write_text(render_cli_config(detect_mirror()))
        # The emulator's endpoint and fake credentials, as labctl gives them; nothing else of labctl's.
        env = {**os.environ, "TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1",
               **_emulated_env(cohort.cohort.region, info.url)}
        dirs = []
        with Meter([info.pid]) as m:
            for team in cohort.teams:
                d = state / "teams" / team.name
                write_root(d, tfvars(cohort, team, provider_settings("embedded")))
                subprocess.run(["terraform", "init", "-input=false"], cwd=d, env=env, check=True, capture_output=True)
                subprocess.run(["terraform", "apply", "-auto-approve", "-input=false"], cwd=d, env=env, check=True,
                               capture_output=True)
                dirs.append(d)
        with Meter([info.pid]) as md:
            for d in dirs:
                subprocess.run(["terraform", "destroy", "-auto-approve", "-input=false"], cwd=d, env=env, check=True,
                               capture_output=True)
        print(f"plain terraform, {n:2d} teams one by one  up:   {fmt(m)}", flush=True)
        print(f"plain terraform, {n:2d} teams one by one  down: {fmt(md)}", flush=True)
        return {"teams": n, "wall_s": round(m.wall, 1), "cpu_s": round(m.cpu, 1), "peak_gib": round(m.peak / 2**30, 2),
                "down": {"wall_s": round(md.wall, 1), "cpu_s": round(md.cpu, 1), "peak_gib": round(md.peak / 2**30, 2)}}
    finally:
        emulator.stop_background(state)


def ratios(results: dict) -> list[str]:
    """n x (plain terraform's time per team) / labctl's time for n teams, up and down."""
    seq = results.get("sequential")
    if not seq:
        return []
    per_up, per_down = seq["wall_s"] / seq["teams"], seq["down"]["wall_s"] / seq["teams"]
    out = []
    for r in results["labctl"]:
        n = r["teams"]
        out.append(f"ratio, {n:2d} teams (n x plain per team / labctl): up {n * per_up / r['up']['wall_s']:.1f}x, "
                   f"down {n * per_down / r['down']['wall_s']:.1f}x  (plain per team: up {per_up:.1f} s, "
                   f"down {per_down:.1f} s, from {seq['teams']} in this run)")
    return out


def _missing_tools() -> str | None:
    import shutil

    if shutil.which("terraform") is None:
        return "terraform is not on PATH"
    if detect_mirror() is None:
        return ("no provider mirror (tf-plugins or $LABCTL_TF_MIRROR): terraform init cannot install "
                "hashicorp/aws offline")
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,4,8")
    ap.add_argument("--baseline", type=int, default=8, help="teams in the sequential baseline (0: skip)")
    ap.add_argument("--parallelism", type=int, default=None)
    ap.add_argument("--down-batch-size", type=int, default=None,
                    help="teams per terraform destroy in `down` (default: labctl's; 1: one destroy per team, as before batches)")
    ap.add_argument("--broken", type=int, default=0,
                    help="make this many teams fail (a clashing IAM role); the others must still be created")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--smoke", action="store_true", help="1 team and a 1-team baseline: proves the bench still runs")
    a = ap.parse_args()
    if a.smoke:
        a.sizes, a.baseline = "1", 1
    missing = _missing_tools()
    if missing:
        print(f"bench_up skipped: {missing}")
        return
    print(f"machine: {os.cpu_count()} cores; terraform + hashicorp/aws against labctl's embedded emulator", flush=True)
    results = {"labctl": [], "sequential": None}
    with tempfile.TemporaryDirectory(prefix="labctl-bench-") as tmp:
        work = Path(tmp)
        for n in [int(s) for s in a.sizes.split(",") if s]:
            results["labctl"].append(bench_labctl(n, work, a.parallelism, a.down_batch_size, a.broken))
        if a.baseline:
            results["sequential"] = bench_sequential(a.baseline, work)
    for line in ratios(results):
        print(line)
    if a.json:
        a.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
