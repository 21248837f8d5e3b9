"""The debrief's first-class KPIs, computed from the ledger and the allocation only.

- cost per completed training run: the team's whole metered cost (nodes, idle, cluster fee,
  storage: what the run really cost the team) / completed runs; None when no run completed.
- idle GPU-hours: allocated GPU-hours x (1 - engine active), as the reference defines it; GPU-hours
  no workload requested are reported apart as ``unallocated_gpu_hours``.
- GPU efficiency: used / requested GPU-hours (None when not measured).
- spot savings: what the same spot usage would have cost on-demand, less what it cost.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from labctl.cost.allocation import Allocation
from labctl.cost.catalog import ON_DEMAND, SPOT, Catalog
from labctl.cost.ledger import Ledger
from labctl.cost.money import Rate, usd
from labctl.cost.pricing import instance_price


def cost_per_completed_run(cost_micros: int, completed_runs: int) -> Decimal | None:
    if completed_runs <= 0:
        return None
    return usd(cost_micros) / completed_runs


@dataclass(frozen=True)
class SpotSavings:
    spot_micros: int                 # what the spot usage cost
    on_demand_micros: int            # the same instance-hours at the on-demand price
    unpriced: tuple[str, ...]        # spot resources with no on-demand price (left out of both)

    @property
    def savings_micros(self) -> int:
        return self.on_demand_micros - self.spot_micros

    @property
    def savings_pct(self) -> Decimal | None:
        if self.on_demand_micros == 0:
            return None
        return Decimal(self.savings_micros) * 100 / Decimal(self.on_demand_micros)


def spot_savings(ledger: Ledger, catalog: Catalog) -> dict[str, SpotSavings]:
    """Per team: spot cost vs the same usage on-demand (same periods, same grid)."""
    spot: dict[str, int] = defaultdict(int)
    od: dict[str, int] = defaultdict(int)
    unpriced: dict[str, list[str]] = defaultdict(list)
    for e in ledger.entries:
        u = e.usage
        if u.kind != "instance" or u.market != SPOT:
            continue
        r = instance_price(catalog, u.region, u.instance_type or "", ON_DEMAND)
        if r.basis is None:
            unpriced[u.team].append(u.resource_id)
            continue
        spot[u.team] += e.cost_micros
        od[u.team] += Rate(r.basis.unit_price * u.count).cost_micros(e.start, e.end, ledger.origin_us)
    teams = sorted(set(spot) | set(unpriced))
    return {t: SpotSavings(spot.get(t, 0), od.get(t, 0), tuple(unpriced.get(t, ()))) for t in teams}


@dataclass(frozen=True)
class TeamKpis:
    team: str
    metered_micros: int
    allocated_micros: int
    idle_micros: int
    completed_runs: int
    cost_per_completed_run: Decimal | None
    gpu_hours_requested: Decimal
    gpu_hours_used: Decimal | None
    gpu_efficiency: Decimal | None
    idle_gpu_hours: Decimal | None
    unallocated_gpu_hours: Decimal
    spot: SpotSavings | None


def team_kpis(ledger: Ledger, allocation: Allocation, catalog: Catalog) -> dict[str, TeamKpis]:
    metered = ledger.by_team()
    savings = spot_savings(ledger, catalog)
    teams = sorted(set(metered) | {w.team for w in allocation.workloads} | {n.node.team for n in allocation.nodes})
    out: dict[str, TeamKpis] = {}
    for team in teams:
        ws = [w for w in allocation.workloads if w.team == team]
        runs = len({w.workload.run_id for w in ws if w.workload.completed and w.workload.run_id})
        requested = sum((w.gpu_hours_requested for w in ws), Decimal(0))
        measured = all(w.gpu_hours_used is not None for w in ws if w.gpu_hours_requested > 0)
        used = sum((w.gpu_hours_used or Decimal(0) for w in ws), Decimal(0)) if measured else None
        capacity = sum((n.gpu_hours_capacity for n in allocation.nodes if n.node.team == team), Decimal(0))
        node_requested = sum((n.gpu_hours_requested for n in allocation.nodes if n.node.team == team), Decimal(0))
        total = metered.get(team, 0)
        out[team] = TeamKpis(
            team=team,
            metered_micros=total,
            allocated_micros=allocation.allocated_micros(team),
            idle_micros=allocation.idle_micros(team),
            completed_runs=runs,
            cost_per_completed_run=cost_per_completed_run(total, runs),
            gpu_hours_requested=requested,
            gpu_hours_used=used,
            gpu_efficiency=(used / requested) if used is not None and requested > 0 else None,
            idle_gpu_hours=(requested - used) if used is not None else None,
            unallocated_gpu_hours=max(capacity - node_requested, Decimal(0)),
            spot=savings.get(team),
        )
    return out
