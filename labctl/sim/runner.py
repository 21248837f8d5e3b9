"""Runs a whole class: every team's simulated cluster on one clock, telemetry out, a report back.

Cost is not computed here: the ledger derives it from the lifecycle rows this writes to the
store (:func:`labctl.telemetry.usage.to_usage`). Every priced line item of a team is in those rows
(labctl.cost.items): its nodes with their root volumes and public IPv4 addresses, and, from the
class's first second, its EKS control plane and checkpoint bucket (from the team's Terraform state
when ``items`` gives it, else what labctl's modules create). The report carries what only the simulator
knows: GPU-hours provisioned, used by computing training pods and idle; jobs completed;
interruptions, evictions and progress lost; pods that never found a node and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from decimal import Decimal

from labctl.cost.catalog import Catalog
from labctl.cost.items import StandingItem, TeamItems, labctl_modules
from labctl.sim.cloud import NodeSource, PureNodes
from labctl.sim.clock import SimClock
from labctl.sim.cluster import SimulatedCluster, _secs
from labctl.sim.inputs import TeamInputs
from labctl.sim.record import SOURCE, Recorder
from labctl.sim.workload import WorkModel, resolve_rates
from labctl.telemetry.provisioned import standing_rows
from labctl.telemetry.store import Store


@dataclass(frozen=True)
class TeamReport:
    team: str
    strategy: dict[str, Any]
    gpu_hours: float                 # GPUs on the team's nodes, launch to end
    gpu_hours_used: float            # held by a training pod that computes
    gpu_hours_idle: float            # on a node, held by nothing that computes or serves
    gpu_utilization_pct: float       # used / provisioned
    node_hours: dict[str, float]     # instance type -> node-hours
    jobs_submitted: int
    jobs_completed: int
    interruptions: int
    evictions: int
    preemptions: int
    lost_steps: float
    scale_ups: int
    scale_downs: int
    capacity_failures: int
    pending_pod_hours: float
    unschedulable: dict[str, str]
    warnings: list[str]
    gpu_hours_serving: float = 0.0   # held by the inference Deployment's replicas (k8s/inference.yaml.j2)


@dataclass(frozen=True)
class SimReport:
    cohort: str
    seed: int
    hours: float
    start: str
    mode: str                        # "emulator" (EC2 instances launched) | "pure"
    teams: list[TeamReport]
    strategies: dict[str, dict[str, Any]]
    throughput_sources: dict[str, str]
    rows: dict[str, int] = field(default_factory=dict)

    def team(self, name: str) -> TeamReport:
        return next(t for t in self.teams if t.team == name)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sized(items: TeamItems) -> TeamItems:
    """A bucket starts the class empty: 0 GB (a known zero, not an unknown size the ledger would
    have to leave unpriced) until the first checkpoint (:class:`_CheckpointStorage`)."""
    return TeamItems(tuple(StandingItem(i.address, i.type, i.kind, i.resource_id,
                                        Decimal(0) if i.kind == "bucket" and i.gb is None else i.gb)
                           for i in items.standing), items.public_node_ipv4)


# The trainer keeps this many checkpoint bodies under its prefix and deletes older ones
# (labs/workload/trainer/checkpoint.py KEEP).
TRAINER_KEEPS = 3


class _CheckpointStorage:
    """What the checkpoint bucket holds as the class goes: after each durable save, the newest
    ``TRAINER_KEEPS`` bodies of the checkpoint size (the job's parameters x 12 B). Each change of
    size closes the bucket's row and opens one at the new size, so the ledger prices the GB-hours
    the bucket really held (a team that never checkpoints keeps a 0 GB bucket)."""

    def __init__(self, recorder: Recorder, clock: SimClock, items: Mapping[str, TeamItems]) -> None:
        self.recorder, self.clock = recorder, clock
        self.bucket = {team: next((i.resource_id for i in it.standing if i.kind == "bucket" and i.resource_id), None)
                       for team, it in items.items()}
        self.held: dict[str, int] = {}

    def update(self, c: SimulatedCluster) -> None:
        team = c.team.team
        bucket = self.bucket.get(team)
        if bucket is None:
            return
        durable = [(j, len([s for s in j.checkpoint.values() if s > 0])) for j in c.jobs.values()]
        held = sum(min(j.saves, TRAINER_KEEPS * max(n, 1)) * c.work.step.checkpoint_bytes(j.shape.hidden)
                   for j, n in durable if n)
        held = max(held, self.held.get(team, 0))       # bodies of earlier runs stay until replaced
        if held == self.held.get(team, 0):
            return
        self.held[team] = held
        now = self.clock.at(c.t)
        rows = [r for r in self.recorder.lifecycle.values()
                if r.team == team and r.resource_id == bucket and r.end is None]
        for r in rows:
            self.recorder.put_lifecycle(replace(r, end=now))
            self.recorder.put_lifecycle(replace(r, start=now, gb=Decimal(held) / Decimal(10**9),
                                                attrs={**r.attrs, "checkpoint_bodies": "newest "
                                                       f"{TRAINER_KEEPS} kept by the trainer"}))


def _h(seconds: float) -> float:
    return round(seconds / 3600, 6)


def run_class(teams: Sequence[TeamInputs], *, start: datetime, hours: float, catalog: Catalog,
              estimates: Mapping[str, Any], seed: int = 0, speed: float | None = None,
              nodes: Callable[[TeamInputs], NodeSource] | None = None, store: Store | None = None,
              mode: str = "pure", clock_sleep: Callable[[float], None] | None = None,
              items: Mapping[str, TeamItems] | None = None) -> SimReport:
    """Simulate ``hours`` of class for ``teams``; write telemetry to ``store`` when given.
    ``items``: team -> its line items from its Terraform state (default: labctl's modules)."""
    if not teams:
        raise ValueError("no teams to simulate")
    sim = teams[0].simulation
    tick, sample_every = _secs(sim.tick), _secs(sim.sample_every)
    if tick <= 0 or sample_every % tick:
        raise ValueError(f"simulation.sample_every ({sim.sample_every}) must be a multiple of the tick ({sim.tick})")
    clock = SimClock(start, speed, **({"sleep": clock_sleep} if clock_sleep else {}))
    team_items = {t.team: (items or {}).get(t.team) or labctl_modules(t.cluster_name) for t in teams}
    recorder = Recorder(team_items)
    for t in sorted(teams, key=lambda t: t.team):
        # The class starts on provisioned clusters: their standing items exist from its first second.
        for row in standing_rows(t.team, t.region, _sized(team_items[t.team]), clock.at(0), SOURCE,
                                 use_created=False):
            recorder.put_lifecycle(row)
    pure = PureNodes()
    clusters = []
    for t in sorted(teams, key=lambda t: t.team):
        work = WorkModel(t.simulation, resolve_rates(t.simulation, dict(estimates), catalog))
        clusters.append(SimulatedCluster(t, clock=clock, catalog=catalog, work=work,
                                         nodes=nodes(t) if nodes else pure, seed=seed, recorder=recorder))
    storage = _CheckpointStorage(recorder, clock, {t.team: team_items[t.team] for t in teams})
    for c in clusters:
        c.start()
        c.sample()
    end = int(round(hours * 3600))
    while clock.t < end:
        dt = min(tick, end - int(clock.t))
        clock.advance(dt)
        for c in clusters:
            c.step(dt)
            storage.update(c)
            if c.t % sample_every == 0:
                c.sample()
    for c in clusters:
        c.finish()
    if store is not None:
        recorder.flush(store)
    reports = []
    for c in clusters:
        s = c.stats
        used = min(s.gpu_busy_seconds, s.gpu_seconds)
        serving = min(s.serving_gpu_seconds, s.gpu_seconds - used)
        reports.append(TeamReport(
            team=c.team.team, strategy=c.team.knobs, gpu_hours=_h(s.gpu_seconds), gpu_hours_used=_h(used),
            gpu_hours_idle=_h(s.gpu_seconds - used - serving), gpu_hours_serving=_h(serving),
            gpu_utilization_pct=round(100 * used / s.gpu_seconds, 3) if s.gpu_seconds else 0.0,
            node_hours={k: _h(v) for k, v in sorted(s.node_seconds.items())},
            jobs_submitted=c._runs_submitted, jobs_completed=s.jobs_completed, interruptions=s.interruptions,
            evictions=s.evictions, preemptions=s.preemptions, lost_steps=round(s.lost_steps, 3),
            scale_ups=s.scale_ups, scale_downs=s.scale_downs, capacity_failures=s.capacity_failures,
            pending_pod_hours=_h(s.pending_seconds), unschedulable=dict(sorted(s.unschedulable.items())),
            warnings=list(c.warnings)))
    rates = resolve_rates(sim, dict(estimates), catalog)
    return SimReport(
        cohort=teams[0].cohort, seed=seed, hours=hours, start=clock.at(0).isoformat(), mode=mode, teams=reports,
        strategies={c.team.team: c.team.knobs for c in clusters},
        throughput_sources={k: v.source for k, v in sorted(rates.items())},
        rows={"lifecycle": len(recorder.lifecycle), "samples": len(recorder.samples), "events": len(recorder.events)})
