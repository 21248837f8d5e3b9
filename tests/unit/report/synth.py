"""A synthetic class written straight into a cohort's store, as the simulator would write it
(source="simulator"): no simulator code is used. Shared by the report tests, the browser check
and bench/bench_debrief.py.

Strategies rotate like `labctl demo`'s: baseline (2 x g5.12xlarge on-demand all session, one 1-GPU
job), rightsized (1 x g5.xlarge on-demand, scaled down after the run), spot (g5.xlarge spot with
checkpoints, one drill interruption survived from a checkpoint). Teams listed in ``no_run`` never complete a run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import yaml

from labctl.meta import CohortMeta
from labctl.state import StateDir
from labctl.telemetry.store import Event, Lifecycle, Sample, Store
from labctl.sim.strategies import DEMO_STRATEGIES

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
SRC = "simulator"
# The demo teams' knobs, as the demo provisions them (one source: labctl.sim.strategies).
KNOBS = DEMO_STRATEGIES
ORDER = ("baseline", "rightsized", "spot")


def strategy_of(i: int) -> str:
    return ORDER[i % 3]


def team_name(i: int, n: int) -> str:
    return strategy_of(i) if n <= 3 else f"{strategy_of(i)}-{i // 3 + 1}"


def write_class(state_dir: Path, cohort: str = "c1", n_teams: int = 3, hours: int = 4, *,
                no_run: Iterable[str] = (), budgets: dict[str, int] | None = None,
                start: datetime = T0) -> list[str]:
    """Write cohort.yaml + meta.json + the store of a finished class; returns the team names."""
    cs = StateDir(state_dir).cohort(cohort)
    cs.root.mkdir(parents=True, exist_ok=True)
    names = [team_name(i, n_teams) for i in range(n_teams)]
    teams = []
    for i, name in enumerate(names):
        t: dict = {"name": name}
        if KNOBS[strategy_of(i)]:
            t["knobs"] = KNOBS[strategy_of(i)]
        if budgets and name in budgets:
            t["budget_usd"] = budgets[name]
        teams.append(t)
    spec = {"cohort": cohort, "target": "embedded", "region": "us-east-1",
            "window": {"start": start.isoformat().replace("+00:00", "Z"), "duration": f"{hours}h"},
            "lab": "gpu-baseline", "teams": teams}
    cs.spec_copy.write_text(yaml.safe_dump(spec, sort_keys=False))
    end = start + timedelta(hours=hours)
    cs.write_meta(CohortMeta.from_dict({"cohort": cohort, "target": "embedded", "region": "us-east-1", "lab": "gpu-baseline",
                   "window_start": start.isoformat(), "window_end": end.isoformat(), "all_teams": names,
                   "status": "down"}))
    no_run = set(no_run)
    lc: list[Lifecycle] = []
    smp: list[Sample] = []
    ev: list[Event] = []
    minutes = hours * 60
    for i, name in enumerate(names):
        strat = strategy_of(i)
        lc += [Lifecycle(name, f"{cohort}-{name}", "cluster", "us-east-1", start, end, SRC),
               Lifecycle(name, f"labctl-{cohort}-{name}-ckpt", "bucket", "us-east-1", start, end, SRC, gb=Decimal(5)),
               Lifecycle(name, f"i-{name}-sys", "instance", "us-east-1", start, end, SRC, "m5.large", pool="system",
                         availability_zone="us-east-1a")]
        # (node id, type, market, spot price, start minute, end minute, engine active while the job runs)
        if strat == "baseline":
            nodes = [(f"i-{name}-g1", "g5.12xlarge", "on-demand", None, 0, minutes, 0.8),
                     (f"i-{name}-g2", "g5.12xlarge", "on-demand", None, 0, minutes, 0.0)]
            job_node, job_start, job_end = f"i-{name}-g1", 10, min(190, minutes - 5)
        elif strat == "rightsized":
            nodes = [(f"i-{name}-g1", "g5.xlarge", "on-demand", None, 5, min(200, minutes), 0.85)]
            job_node, job_start, job_end = f"i-{name}-g1", 8, min(190, minutes - 10)
        else:
            half = minutes // 2
            nodes = [(f"i-{name}-s1", "g5.xlarge", "spot", Decimal("0.4380"), 5, half, 0.82),
                     (f"i-{name}-s2", "g6.xlarge", "spot", Decimal("0.3750"), half + 3, min(230, minutes), 0.78)]
            job_node, job_start, job_end = f"i-{name}-s2", 8, min(220, minutes - 8)
            ev.append(Event(name, start + timedelta(minutes=half - 2), "drill", SRC, "gpu_spot",
                            {"drill": "interrupt", "nodes": [f"{name}-s1"]}))
            ev.append(Event(name, start + timedelta(minutes=half - 2), "spot-interruption-notice", SRC,
                            f"i-{name}-s1", {"notice_s": 120, "drill": True}))
            ev.append(Event(name, start + timedelta(minutes=half - 2), "job-restarted", SRC, f"team-{name}/train",
                            {"resume_from_step": 9000, "lost_steps": 0.5, "reason": "spot-interruption",
                             "from_zero": False, "checkpointing": True, "lost_gpu_seconds": 0.1,
                             "kept_gpu_seconds": 1800.0}))
            ev.append(Event(name, start + timedelta(minutes=half), "pod-evicted", SRC, f"team-{name}/train-0"))
            ev.append(Event(name, start + timedelta(minutes=half + 5), "job-resumed", SRC, f"team-{name}/train",
                            {"from_step": 9000, "waited_s": 420, "gpus": 1, "node": f"{name}-s2"}))
        for nid, itype, market, price, s, e, ea in nodes:
            lc.append(Lifecycle(name, nid, "instance", "us-east-1", start + timedelta(minutes=s),
                                start + timedelta(minutes=e), SRC, itype, market, price,
                                pool="gpu_spot" if market == "spot" else "gpu_on_demand", availability_zone="us-east-1a"))
            for m in range(s, e):
                ts = start + timedelta(minutes=m)
                running = job_start <= m < job_end and (nid == job_node or (strat == "spot" and m < minutes // 2))
                busy = ea if running else 0.0
                # as the simulator writes a node: the mean over its GPUs (the 1-GPU job on one of them)
                gpus = 4 if itype == "g5.12xlarge" else 1
                node = {"kind": "node", "gpus": gpus}
                smp += [Sample(name, ts, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", busy / gpus, SRC, nid, node),
                        Sample(name, ts, "DCGM_FI_DEV_GPU_UTIL", busy * 100 / gpus, SRC, nid, node),
                        Sample(name, ts, "DCGM_FI_DEV_FB_USED", 9000.0 if running else 0.0, SRC, nid, node)]
                if running:
                    pod = f"team-{name}/train-0"
                    attrs = {"kind": "pod", "node": nid, "job": f"{name}-run-1"}
                    smp += [Sample(name, ts, "pod_gpu_request", 1, SRC, pod, attrs),
                            Sample(name, ts, "pod_cpu_request", 4, SRC, pod, attrs),
                            Sample(name, ts, "pod_ram_request_gib", 16, SRC, pod, attrs),
                            Sample(name, ts, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", busy, SRC, pod, attrs)]
        for m in range(0, minutes):
            ts = start + timedelta(minutes=m)
            frac = max(0.0, min(1.0, (m - job_start) / max(job_end - job_start, 1)))
            if name in no_run:
                frac = min(frac, 0.6)
            smp.append(Sample(name, ts, "job_progress", frac, SRC, f"{name}-run-1", {"job": f"{name}-run-1"}))
            if m % 5 == 0:
                smp.append(Sample(name, ts, "nodegroup_desired_size", 2 if strat == "baseline" else 1, SRC,
                                  f"{cohort}-{name}-gpu", {"pool": "gpu_on_demand"}))
        if name not in no_run:
            ev.append(Event(name, start + timedelta(minutes=job_end), "job-completed", SRC, f"{name}-run-1"))
    with Store.for_cohort(cs.root) as st, st.batch():
        st.put_lifecycle(lc)
        st.put_samples(smp)
        st.put_events(ev)
    return names


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
