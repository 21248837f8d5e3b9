"""The debrief model: every figure the debrief page shows, computed from the store's rows through
the metered ledger (labctl.cost), as one JSON-ready dict. Pure: no I/O.

The HTML page is rendered from this dict and nothing else, so ``debrief.json`` holds every figure
the page shows, and every figure is traceable to the ledger: costs are ledger entries summed per
team, idle GPU cost is the OpenCost allocation of the same ledger, spot savings re-price the same
ledger entries at on-demand.

Every figure carries ``basis``: ``simulated`` (rows the simulated class wrote), ``metered``
(collected from AWS, the cluster or DCGM, priced by labctl), ``billed`` (the provider's bill), or
a ``+`` of them when mixed. Money is exact: strings of dollars to the micro-dollar, or integer
micro-dollars in series.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

from labctl.cost.allocation import (
    OPENCOST,
    allocate,
    nodes_from_ledger,
    split_node_cost,
)
from labctl.cost.catalog import Catalog
from labctl.cost.kpis import cost_per_completed_run, team_kpis
from labctl.cost.ledger import Ledger, build_ledger
from labctl.cost.model import BILLED, Usage
from labctl.cost.money import usd
from labctl.cost.reconcile import BilledReport
from labctl.report import lesson
from labctl.report.choices import Choice, KnobSegment, choices, lever_of  # noqa: F401 - the model's vocabulary
from labctl.telemetry import usage as tu
from labctl.telemetry.rows import Event, Lifecycle, Sample

SCHEMA = "labctl.debrief/1"

# Thresholds of the measurable rubric checks, with the reason each is what it is.
GPU_EFFICIENCY_TARGET = Decimal("0.5")   # pricing.md: below ~50% utilisation is often called recoverable
IDLE_GPU_SHARE_MAX = Decimal("0.3")      # at most 30% of GPU spend idle: a workshop-level bar, stated on the page

LEVERS = ("right-sizing", "spot instances", "auto-scaling", "checkpointing", "job resources")

CANNOT_MEASURE = {
    "comprehensiveness": "the written optimisation plan itself: its rationale, the trade-offs discussed, cloud-native "
                         "AI services considered, and anything the team proposed but did not deploy",
    "feasibility": "whether the plan would hold at production scale or under other performance requirements, and "
                   "the team's process and roles",
    "finops_alignment": "accountability, forecasting and collaboration between finance and engineering: FinOps "
                        "practices a cluster and a bill do not show",
}


@dataclass(frozen=True)
class TeamPlan:
    name: str
    budget_usd: Decimal | None = None
    choices: tuple[Choice, ...] = ()
    segments: tuple[KnobSegment, ...] = ()

    @property
    def is_baseline(self) -> bool:
        return not self.choices


@dataclass(frozen=True)
class DebriefInputs:
    cohort: str
    lab: str
    as_of: datetime
    teams: tuple[TeamPlan, ...]
    lifecycle: Sequence[Lifecycle]
    samples: Sequence[Sample]
    events: Sequence[Event]
    catalog: Catalog = field(repr=False)
    window_start: datetime | None = None
    window_end: datetime | None = None
    generated_at: datetime | None = None
    takeaways: tuple[str, ...] = ()          # the lab README's "What to look for in the debrief"


def _fig(value: Any, unit: str, basis: str, how: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "basis": basis, "how": how}


def _money(micros: int | None) -> str | None:
    return None if micros is None else str(usd(micros))


def _dec(x: Decimal | None, places: int = 4) -> str | None:
    return None if x is None else str(x.quantize(Decimal(1).scaleb(-places)))


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


class _Categories:
    """Cost-by-resource categories of a ledger entry (GPU from the catalog's specs)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._gpu: dict[tuple[str, str], int] = {}

    def gpus(self, region: str, itype: str) -> int:
        key = (region, itype)
        if key not in self._gpu:
            info = self.catalog.instance(region, itype)
            self._gpu[key] = (info.gpus or 0) if info else 0
        return self._gpu[key]

    def of(self, e: Any) -> str:
        u = e.usage
        if u.kind == "instance":
            if self.gpus(u.region, u.instance_type or "") > 0:
                return "GPU nodes (spot)" if u.market == "spot" else "GPU nodes (on-demand)"
            return "CPU nodes"
        if u.kind == "cluster":
            return "EKS control plane"
        if u.kind in ("volume", "bucket"):
            return "storage"
        if u.kind == "kms-key":
            return "encryption keys"
        return "network"


CATEGORIES = ("GPU nodes (on-demand)", "GPU nodes (spot)", "CPU nodes", "EKS control plane", "storage", "network",
              "encryption keys")


def build_debrief(inp: DebriefInputs, ledger: Ledger | None = None,
                  billed: BilledReport | None = None) -> dict[str, Any]:
    """The debrief as a JSON-ready dict; ``ledger`` may be passed when the caller built it already
    (from the same rows, with :func:`ledger_for`) to export it too. ``billed``: Cost Explorer's
    figures (`debrief --billed`), shown beside the ledger's and never mixed into them."""
    billed = billed or BilledReport(requested=False)
    usages, usage_notes = tu.usages(inp.lifecycle)
    if ledger is None:
        ledger = build_ledger(usages, inp.catalog, as_of=inp.as_of)
    workloads = tu.workloads(inp.samples, inp.events, node_ids=tu.node_ids(inp.lifecycle))
    nodes, node_notes = nodes_from_ledger(ledger, inp.catalog)
    alloc = allocate(nodes, workloads, mode=OPENCOST)
    util = tu.gpu_utilisation(inp.samples)
    cx = _Class(inp=inp, ledger=ledger, cost_by_team=ledger.by_team(), kpis=team_kpis(ledger, alloc, inp.catalog),
                sources=_sources(usages, inp.samples, inp.events), events_by_team=_events_by_team(inp.events),
                totals=_ledger_totals(ledger, _Categories(inp.catalog), inp.lifecycle),
                runs=tu.completed_runs(inp.events), util=util, util_metric=tu.utilisation_metric(inp.samples),
                progress=tu.job_progress(inp.samples), idle=_idle_gpu(alloc, util, workloads),
                busy=_busy_gpu_hours(inp.samples))

    plans = {p.name: p for p in inp.teams}
    teams: dict[str, dict[str, Any]] = {}
    facts: dict[str, dict[str, Any]] = {}
    for name in sorted(set(plans) | set(ledger.teams())):
        teams[name], facts[name] = _team_section(cx, plans.get(name, TeamPlan(name)))

    # each step adds to the team sections, in this order (the JSON keeps it)
    billed_section = _billed(billed, teams)
    _effects(teams, facts)
    board = _leaderboard(teams)
    _scorecards(teams)
    warnings = [{"team": w.team, "resource_id": w.resource_id, "message": w.message} for w in ledger.warnings]
    return {
        "schema": SCHEMA,
        "cohort": inp.cohort,
        "lab": inp.lab,
        "window": {"start": _iso(inp.window_start), "end": _iso(inp.window_end)},
        "as_of": _iso(inp.as_of),
        "generated_at": _iso(inp.generated_at),
        "provenance": _provenance(cx, billed),
        "totals": _cohort_totals(cx, teams, billed, billed_section),
        "billed": billed_section,
        "lesson": _lesson(inp, teams),
        "leaderboard": board,
        "teams": teams,
        "rubric": {"criteria": ["comprehensiveness", "feasibility", "finops_alignment"],
                   "cannot_measure": CANNOT_MEASURE,
                   "thresholds": {"gpu_efficiency_min": str(GPU_EFFICIENCY_TARGET),
                                  "idle_gpu_share_max": str(IDLE_GPU_SHARE_MAX)}},
        "warnings": warnings,
        "notes": usage_notes + node_notes + list(alloc.warnings),
    }


@dataclass(frozen=True)
class _Sources:
    """Per team, the sources behind each family of figures (their basis: simulated, metered...)."""

    cost: Mapping[str, set[str]]
    utilisation: Mapping[str, set[str]]
    progress: Mapping[str, set[str]]
    events: Mapping[str, set[str]]

    def all_cost(self) -> set[str]:
        return set().union(*self.cost.values()) if self.cost else set()


def _sources(usages: Sequence[Usage], samples: Sequence[Sample], events: Sequence[Event]) -> _Sources:
    cost: dict[str, set[str]] = defaultdict(set)
    for u in usages:
        cost[u.team].add(u.source)
    utilisation: dict[str, set[str]] = defaultdict(set)
    progress: dict[str, set[str]] = defaultdict(set)
    for s in samples:
        if s.metric in (tu.ENGINE_ACTIVE, tu.GPU_UTIL):
            utilisation[s.team].add(s.source)
        elif s.metric in (tu.JOB_PROGRESS, tu.JOB_PROGRESS_RATIO):
            progress[s.team].add(s.source)
    by_event: dict[str, set[str]] = defaultdict(set)
    for ev in events:
        by_event[ev.team].add(ev.source)
    return _Sources(cost, utilisation, progress, by_event)


def _events_by_team(events: Sequence[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = defaultdict(list)
    for ev in events:
        out[ev.team].append(ev)
    return out


@dataclass(frozen=True)
class _LedgerTotals:
    """One pass over the ledger, per team: cost per minute and per category, GPU cost, GPU
    node-hours (all and spot), the GPUs paid for as (start, end, GPUs), and GPU node-hours per
    (team, node group)."""

    per_minute: Mapping[str, Mapping[datetime, int]]
    by_category: Mapping[str, Mapping[str, int]]
    gpu_cost: Mapping[str, int]
    gpu_node_hours: Mapping[str, Decimal]
    spot_gpu_hours: Mapping[str, Decimal]
    gpu_spans: Mapping[str, list[tuple[datetime, datetime, int]]]
    pool_hours: Mapping[tuple[str, str], Decimal]


def _ledger_totals(ledger: Ledger, cats: _Categories, lifecycle: Sequence[Lifecycle]) -> _LedgerTotals:
    per_minute: dict[str, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
    for line in ledger.lines:
        per_minute[line.entry.usage.team][line.minute] += line.cost_micros
    by_cat: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    gpu_cost: dict[str, int] = defaultdict(int)
    gpu_node_hours: dict[str, Decimal] = defaultdict(Decimal)
    spot_gpu_hours: dict[str, Decimal] = defaultdict(Decimal)
    gpu_spans: dict[str, list[tuple[datetime, datetime, int]]] = defaultdict(list)
    pool_hours: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    pools = {(r.team, r.resource_id): r.pool for r in lifecycle if r.pool}
    for e in ledger.entries:
        c = cats.of(e)
        by_cat[e.usage.team][c] += e.cost_micros
        if c.startswith("GPU"):
            node_hours = e.hours * e.usage.count
            gpu_cost[e.usage.team] += e.cost_micros
            gpu_node_hours[e.usage.team] += node_hours
            if e.usage.market == "spot":
                spot_gpu_hours[e.usage.team] += node_hours
            gpu_spans[e.usage.team].append((e.start, e.end, cats.gpus(e.usage.region, e.usage.instance_type or "")
                                            * e.usage.count))
            pool_hours[(e.usage.team, pools.get((e.usage.team, e.usage.resource_id), "?"))] += node_hours
    return _LedgerTotals(per_minute, by_cat, gpu_cost, gpu_node_hours, spot_gpu_hours, gpu_spans, pool_hours)


@dataclass(frozen=True)
class _Class:
    """What every team's section is computed from: the inputs, the ledger, and what is derived
    from them once for the whole class."""

    inp: DebriefInputs
    ledger: Ledger
    cost_by_team: Mapping[str, int]
    kpis: Mapping[str, Any]
    sources: _Sources
    events_by_team: Mapping[str, list[Event]]
    totals: _LedgerTotals
    runs: Mapping[str, set[str]]
    util: Mapping[str, Mapping[datetime, float]]
    util_metric: Mapping[str, str]
    progress: Mapping[str, float]
    idle: Mapping[str, tuple[int, str]]
    # GPU time spent computing (DCGM engine active x GPUs x the sample's interval): over the GPUs
    # paid for, the team's GPU efficiency
    busy: Mapping[str, list[tuple[datetime, Decimal]]]


def _team_section(cx: _Class, plan: TeamPlan) -> tuple[dict[str, Any], dict[str, Any]]:
    """One team's section of the debrief, and the facts :func:`_effects` credits its choices by."""
    name = plan.name
    cost = cx.cost_by_team.get(name, 0)
    cbasis = tu.basis_of(cx.sources.cost.get(name, ()))
    ubasis = tu.basis_of(cx.sources.utilisation.get(name, ()))
    ebasis = tu.basis_of(cx.sources.events.get(name, ()))
    tev = cx.events_by_team.get(name, [])
    n_runs = len(cx.runs.get(name, ()))
    intr = _interruptions(tev, _gpu_cost_per_gpu_hour(cx, name))
    section = {
        "team": name,
        "baseline_team": plan.is_baseline,
        **_cost_figures(cx, plan, cost, cbasis),
        **_run_figures(cost, n_runs, cbasis, ebasis),
        **_gpu_figures(cx, name, cbasis, ubasis),
        **_interruption_figures(tev, intr, ebasis),
        "evictions": _fig(sum(1 for e in tev if e.kind == tu.EVICTION), "pods", ebasis, "pod-evicted events"),
        "guardrail_actions": [{"at": _iso(e.ts), "kind": e.kind, "entity": e.entity} for e in tev
                              if e.kind.startswith("guardrail")],
        "job_progress": _fig(_dec(Decimal(str(cx.progress[name])), 3) if name in cx.progress else None, "ratio",
                             tu.basis_of(cx.sources.progress.get(name, ())),
                             "latest job_progress of each job, averaged"),
        "cost_by_resource_usd": {c: _money(cx.totals.by_category.get(name, {}).get(c, 0)) for c in CATEGORIES},
        "series": _team_series(cx, name, cbasis, ubasis),
        "choices": [{"knob": c.path, "lab_baseline": c.baseline, "team": c.value, "lever": c.lever}
                    for c in plan.choices],
        "knobs_in_force": _knobs_in_force(plan, cx.inp, cx.totals.per_minute.get(name, {}),
                                          cx.totals.gpu_spans.get(name, []), cx.busy.get(name, []), cbasis),
        "why_no_completed_run": None if n_runs else _why_no_run(tev, cx.progress.get(name)),
    }
    busy = cx.busy.get(name, [])
    facts = {"pool_hours": {pool: h for (tm, pool), h in cx.totals.pool_hours.items() if tm == name},
             "scaled": any(e.kind in ("scale-down", "scale-up") for e in tev),
             "job_ran": bool(busy) and any(h > 0 for _, h in busy),
             "interrupted": bool(intr["log"])}
    return section, facts


def _cost_figures(cx: _Class, plan: TeamPlan, cost: int, cbasis: str) -> dict[str, Any]:
    """The team's cost against its budget, and where it is heading by the window's end."""
    budget_micros = int(plan.budget_usd * 1_000_000) if plan.budget_usd is not None else None
    return {
        "cost_usd": _fig(_money(cost), "USD", cbasis, "sum of the team's ledger entries (lifecycle x catalog price)"),
        "budget_usd": _fig(None if plan.budget_usd is None else str(plan.budget_usd), "USD", "configured",
                           "the team's budget in the cohort file (else the lab's)"),
        "budget_used_pct": _fig(_dec(Decimal(cost) * 100 / budget_micros, 1) if budget_micros else None, "%", cbasis,
                                "cost / budget"),
        "within_budget": None if budget_micros is None else cost <= budget_micros,
        "projected_at_window_end_usd": _fig(_money(_projected_cost(cx, plan.name, cost)), "USD", cbasis,
                                            "cost so far + running resources' $/h x hours left"),
    }


def _projected_cost(cx: _Class, name: str, cost: int) -> int | None:
    """Micro-dollars at the window's end if what still runs keeps running; None once it has ended."""
    inp = cx.inp
    if inp.window_end is None or inp.as_of >= inp.window_end:
        return None
    rem_hours = Decimal((inp.window_end - inp.as_of).total_seconds()) / 3600
    running = sum(e.rate.usd_per_hour * 1 for e in cx.ledger.entries if e.usage.team == name and e.usage.end is None)
    if not running:
        return cost
    return cost + int(Decimal(running.numerator) / Decimal(running.denominator) * rem_hours * 1_000_000)


def _run_figures(cost: int, n_runs: int, cbasis: str, ebasis: str) -> dict[str, Any]:
    cpr = cost_per_completed_run(cost, n_runs)
    return {
        "completed_runs": _fig(n_runs, "runs", ebasis, "distinct runs with a job-completed event"),
        "cost_per_completed_run_usd": _fig(None if cpr is None else str(cpr.quantize(Decimal("0.000001"))), "USD",
                                           cbasis, "team cost / completed runs; none when no run completed"),
    }


def _gpu_efficiency(cx: _Class, name: str) -> tuple[Decimal | None, str]:
    """GPU-hours computing / GPU-hours paid for, else the mean utilisation; with how it was made."""
    eff = _efficiency(cx.totals.gpu_spans.get(name, []), cx.busy.get(name, []))
    if eff is not None:
        return eff, (f"GPU-hours computing ({cx.util_metric.get(name, 'DCGM')} x GPUs) / GPU-hours of the team's GPU "
                     "nodes in the ledger: GPUs paid for and idle count against it")
    series = cx.util.get(name, {})
    mean_util = sum(series.values()) / len(series) if series else None
    return (Decimal(str(round(mean_util, 4))) if mean_util is not None else None,
            f"mean of {cx.util_metric.get(name, 'GPU')} over the team's GPUs and minutes (no GPU node in the "
            "ledger to set it against)")


def _gpu_figures(cx: _Class, name: str, cbasis: str, ubasis: str) -> dict[str, Any]:
    """How well the team used the GPUs it paid for, what idle GPUs cost, and what spot saved."""
    k = cx.kpis.get(name)
    eff, eff_how = _gpu_efficiency(cx, name)
    requested_eff = k.gpu_efficiency if k and k.gpu_efficiency is not None else None
    idle_micros, idle_how = cx.idle.get(name, (0, "no GPU nodes"))
    spot = k.spot if k else None
    gpu_hours = cx.totals.gpu_node_hours
    return {
        "gpu_efficiency": _fig(_dec(eff), "ratio", ubasis, eff_how),
        "gpu_efficiency_of_requested": _fig(_dec(requested_eff), "ratio", ubasis,
                                            "used / requested GPU-hours of the team's pods (OpenCost allocation, "
                                            "DCGM engine active): how well the pods use the GPUs they asked for"),
        "gpu_node_hours": _fig(_dec(gpu_hours.get(name, Decimal(0)), 3), "h", cbasis,
                               "hours of GPU instances in the ledger (x count)"),
        "spot_share_of_gpu_hours": _fig(_dec(cx.totals.spot_gpu_hours.get(name, Decimal(0)) / gpu_hours[name])
                                        if gpu_hours.get(name) else None,
                                        "ratio", cbasis, "spot GPU node-hours / GPU node-hours"),
        "idle_gpu_cost_usd": _fig(_money(idle_micros), "USD",
                                  tu.basis_of(cx.sources.cost.get(name, set())
                                              | cx.sources.utilisation.get(name, set())),
                                  idle_how),
        "gpu_cost_usd": _fig(_money(cx.totals.gpu_cost.get(name, 0)), "USD", cbasis, "ledger entries of GPU instances"),
        "spot_savings_usd": _fig(_money(spot.savings_micros) if spot else "0.000000", "USD", cbasis,
                                 "the same spot instance-hours at the catalog on-demand price, less their cost"),
        "spot_savings_pct": _fig(_dec(spot.savings_pct, 1) if spot and spot.savings_pct is not None else None, "%",
                                 cbasis, "savings / on-demand equivalent"),
    }


def _gpu_cost_per_gpu_hour(cx: _Class, name: str) -> Decimal:
    """Micro-dollars per GPU-hour of the team's GPU nodes: what a GPU-hour lost or kept is worth."""
    paid = sum((_overlap_hours(a, b, None, None) * g for a, b, g in cx.totals.gpu_spans.get(name, [])), Decimal(0))
    return (Decimal(cx.totals.gpu_cost.get(name, 0)) / paid) if paid else Decimal(0)


def _interruption_figures(tev: Sequence[Event], intr: Mapping[str, Any], ebasis: str) -> dict[str, Any]:
    """Spot interruptions the team met and survived, and what they and its checkpoints cost or kept."""
    notices = sorted((e for e in tev if e.kind == tu.INTERRUPTION), key=lambda e: e.ts)
    completions = sorted(e.ts for e in tev if e.kind == tu.JOB_COMPLETED)
    survived = sum(1 for n in notices if any(c > n.ts for c in completions))
    return {
        "interruptions": _fig(len(notices), "notices", ebasis, "spot-interruption-notice events"),
        "interruptions_survived": _fig(survived, "notices", ebasis,
                                       "notices after which the team still completed a run"),
        "interruption_drills": _fig(sum(1 for n in notices if n.payload.get("drill")), "notices", ebasis,
                                    "notices a facilitator's drill sent (simulation.drills)"),
        "resumed_from_checkpoint": _fig(intr["resumed"], "restarts", ebasis,
                                        "job restarts that resumed from a checkpoint instead of step 0"),
        "interruption_cost_usd": _fig(_money(intr["lost_micros"]), "USD", ebasis,
                                      "GPU time the runs lost (work redone + waiting for a new node and the "
                                      "restore) x the team's GPU cost per GPU-hour"),
        "checkpoint_saved_usd": _fig(_money(intr["kept_micros"]), "USD", ebasis,
                                     "GPU time of the work checkpoints kept (it would have been redone from step 0) "
                                     "x the team's GPU cost per GPU-hour"),
        "checkpoint_save_cost_usd": _fig(_money(intr["saving_micros"]), "USD", ebasis,
                                         "GPU time spent saving checkpoints (the GPU waits) in completed runs x the "
                                         "team's GPU cost per GPU-hour"),
        "interruption_log": intr["log"],
    }


def _team_series(cx: _Class, name: str, cbasis: str, ubasis: str) -> dict[str, Any]:
    """The team's charts: cumulative cost per minute (micro-dollars) and GPU utilisation."""
    cum, total = [], 0
    for minute, c in sorted(cx.totals.per_minute.get(name, {}).items()):
        total += c
        cum.append([_iso(minute), total])
    series = cx.util.get(name, {})
    return {
        "cost_cumulative_micro_usd": {"basis": cbasis, "step_seconds": 60, "points": cum},
        "gpu_utilisation": {"basis": ubasis, "metric": cx.util_metric.get(name), "step_seconds": 60,
                            "points": [[_iso(t), round(v, 4)] for t, v in series.items()]},
    }


def _provenance(cx: _Class, billed: BilledReport) -> dict[str, Any]:
    """Where the figures come from: the legend of bases, the rows' sources, the ledger's basis."""
    inp = cx.inp
    return {
        "legend": {"simulated": "rows written by the simulated class (source=simulator), priced by labctl's ledger",
                   "metered": "collected from AWS, the cluster or DCGM and priced by labctl's ledger",
                   "billed": ("the provider's bill (Cost Explorer), beside the ledger's figures, never mixed "
                              "into them" if billed.included else
                              "the provider's bill (Cost Explorer); not part of this debrief"),
                   "configured": "set in the cohort file or the lab"},
        "sources": sorted({r.source for r in inp.lifecycle} | {s.source for s in inp.samples}
                          | {e.source for e in inp.events}),
        "cost_basis": tu.basis_of(cx.sources.all_cost()),
        "ledger_basis": cx.ledger.basis,
        "allocation": "OpenCost default split of node cost into CPU/RAM/GPU; idle = node cost not requested",
    }


def _cohort_totals(cx: _Class, teams: Mapping[str, dict[str, Any]], billed: BilledReport,
                   billed_section: Mapping[str, Any]) -> dict[str, Any]:
    """The cohort's figures: sums over the teams (and the bill's, when it is included)."""
    cost_basis = tu.basis_of(cx.sources.all_cost())
    return {
        "cost_usd": _fig(str(cx.ledger.total()), "USD", cost_basis, "sum of all ledger entries"),
        "idle_gpu_cost_usd": _fig(_money(sum(v[0] for v in cx.idle.values())), "USD", cost_basis, "sum over teams"),
        "spot_savings_usd": _fig(str(sum((Decimal(t["spot_savings_usd"]["value"]) for t in teams.values()),
                                         Decimal(0))),
                                 "USD", cost_basis, "sum over teams"),
        "completed_runs": _fig(sum(t["completed_runs"]["value"] for t in teams.values()), "runs",
                               tu.basis_of({e.source for e in cx.inp.events}), "sum over teams"),
        **({"billed_cost_usd": {**_fig(billed_section["total_usd"], "USD", BILLED, "sum of the teams' billed cost"),
                                "estimated": billed_section["estimated"]}} if billed.included else {}),
    }


BILLED_SOURCE = ("Cost Explorer GetCostAndUsage, UnblendedCost, grouped by the labctl:cohort and labctl:team tags, "
                 "DAILY (whole UTC days)")


def _billed(billed: BilledReport, teams: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The debrief's ``billed`` section, and per team (when included) the billed cost and billed
    minus metered, each with basis ``billed`` and Cost Explorer's ``estimated`` flag."""
    period = None if billed.period is None else {"start": billed.period[0].isoformat(),
                                                 "end_exclusive": billed.period[1].isoformat()}
    out: dict[str, Any] = {"included": billed.included, "basis": BILLED, "source": BILLED_SOURCE, "period": period,
                           "reason": billed.reason, "teams": [], "total_usd": None, "estimated": False}
    if not billed.included:
        return out
    span = f"{period['start']} to {period['end_exclusive']} (exclusive)" if period else "the cohort's window"
    rows = {r.team: r for r in billed.rows}
    for name, t in teams.items():
        r = rows.get(name)
        est = bool(r and r.billed_estimated)
        t["billed_cost_usd"] = {**_fig(None if r is None or r.billed is None else str(r.billed), "USD", BILLED,
                                       f"Cost Explorer, resources tagged labctl:team={name}, {span}"
                                       + ("; Cost Explorer marks it estimated" if est else "")), "estimated": est}
        diff = None if r is None or r.billed is None else str(r.billed - Decimal(t["cost_usd"]["value"]))
        t["billed_minus_metered_usd"] = {**_fig(diff, "USD", BILLED,
                                                f"billed - ledger cost ({t['cost_usd']['basis']}); the bill lags hours to "
                                                "a day and holds charges labctl does not meter (requests, support, tax)"),
                                         "estimated": est}
    for name in sorted(set(teams) | set(rows)):
        r = rows.get(name)
        if name in teams:       # the debrief's own figure, so the table matches the team's section
            metered, mbasis = teams[name]["cost_usd"]["value"], teams[name]["cost_usd"]["basis"]
        else:                   # billed for a team the ledger does not know (e.g. before a restart)
            metered, mbasis = None, None
        bill = None if r is None else r.billed
        out["teams"].append({
            "team": name, "basis": BILLED, "estimated": bool(r and r.billed_estimated),
            "billed_usd": None if bill is None else str(bill), "metered_usd": metered, "metered_basis": mbasis,
            "difference_usd": None if bill is None or metered is None else str(bill - Decimal(metered))})
    amounts = [r.billed for r in billed.rows if r.billed is not None]
    out["total_usd"] = str(sum(amounts, Decimal(0)))
    out["estimated"] = any(r.billed_estimated for r in billed.rows)
    return out


def _idle_gpu(alloc: Any, util: Mapping[str, Mapping[datetime, float]],
              workloads: Sequence[Any]) -> dict[str, tuple[int, str]]:
    """Idle GPU cost per team, from the allocation of the ledger.

    With pods known: the GPU part of node cost no pod requested, plus the requested GPU cost
    times (1 - engine active). Without pods but with node GPU samples: the GPU part of node cost
    times (1 - the team's mean utilisation). Without either: the whole GPU part (nothing shows use).
    """
    with_pods = {w.team for w in workloads}
    out: dict[str, tuple[int, str]] = {}
    teams = {n.node.team for n in alloc.nodes}
    for team in teams:
        tnodes = [n for n in alloc.nodes if n.node.team == team and n.node.gpus > 0]
        if not tnodes:
            continue
        if team in with_pods:
            unrequested = sum(n.idle.gpu for n in tnodes)
            unused = 0
            for w in alloc.workloads:
                if w.team == team and w.gpu_micros and w.workload.gpu_engine_active is not None:
                    unused += int(w.gpu_micros * (1 - w.workload.gpu_engine_active))
            out[team] = (unrequested + unused, "GPU share of node cost no pod requested + requested GPU cost x "
                                               "(1 - DCGM engine active) (OpenCost allocation)")
        else:
            series = util.get(team, {})
            gpu_part = sum(split_node_cost(n.node.cost_micros, n.node.vcpu, n.node.ram_gib, n.node.gpus).gpu
                           for n in tnodes)
            if series:
                mean = sum(series.values()) / len(series)
                out[team] = (int(gpu_part * (1 - mean)), "GPU share of node cost x (1 - mean GPU utilisation); "
                                                         "no pod data")
            else:
                out[team] = (gpu_part, "GPU share of node cost; no utilisation data, so all of it counts as idle")
    return out


def _leaderboard(teams: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Teams with a completed run, ranked by cost per completed run (lowest first); then, unranked,
    the teams without one (by total cost), each with why no job completed. Both from the ledger."""
    def key(t: dict[str, Any]) -> tuple:
        cpr = t["cost_per_completed_run_usd"]["value"]
        return (cpr is None, Decimal(cpr) if cpr is not None else Decimal(t["cost_usd"]["value"]),
                Decimal(t["cost_usd"]["value"]), t["team"])

    out = []
    rank = 0
    for t in sorted(teams.values(), key=key):
        ranked = t["completed_runs"]["value"] > 0
        rank += ranked
        out.append({"rank": rank if ranked else None, "team": t["team"], "cost_usd": t["cost_usd"]["value"],
                    "completed_runs": t["completed_runs"]["value"],
                    "cost_per_completed_run_usd": t["cost_per_completed_run_usd"]["value"],
                    "gpu_efficiency": t["gpu_efficiency"]["value"], "idle_gpu_cost_usd": t["idle_gpu_cost_usd"]["value"],
                    "spot_savings_usd": t["spot_savings_usd"]["value"],
                    "budget_used_pct": t["budget_used_pct"]["value"], "basis": t["cost_usd"]["basis"],
                    "why_no_completed_run": t.get("why_no_completed_run")})
    return out


# Events that say why a job could not run, in the order a reader should look at them.
_BLOCKERS = ("quota-rejected", "job-refused", "autoscaler-failed", "throughput-missing", "pod-unschedulable",
             "scale-up-timeout", "capacity-shortage")


def _why_no_run(events: Sequence[Event], progress: float | None) -> str:
    """One line: why no training run completed, from what the cluster reported."""
    by_kind: dict[str, Event] = {}
    for e in sorted(events, key=lambda e: e.ts):
        by_kind[e.kind] = e          # the latest of each kind
    submitted = any(e.kind == "job-submitted" for e in events)
    for kind in _BLOCKERS:
        e = by_kind.get(kind)
        if e is not None:
            msg = str(e.payload.get("message") or kind)
            return f"{kind} ({e.entity}): {msg}" if e.entity else f"{kind}: {msg}"
    if progress is not None and progress > 0:
        return f"the job was still running when the class ended ({progress:.0%} of its steps done)"
    if not submitted and events:
        return "no training job was submitted"
    return "no job-completed event was recorded for the team"


def _knobs_in_force(plan: TeamPlan, inp: DebriefInputs, per_minute: Mapping[datetime, int],
                    spans: Sequence[tuple[datetime, datetime, int]], busy: Sequence[tuple[datetime, Decimal]],
                    basis: str) -> list[dict[str, Any]]:
    """Each part of the class with the knobs in force then: its cost and GPU efficiency."""
    segs = plan.segments or (KnobSegment(inp.window_start, "cohort file", plan.choices),)
    end = min(inp.window_end, inp.as_of) if inp.window_end else inp.as_of
    out = []
    for i, seg in enumerate(segs):
        lo, hi = seg.start, segs[i + 1].start if i + 1 < len(segs) else None
        cost = sum(c for m, c in per_minute.items() if (lo is None or m >= lo) and (hi is None or m < hi))
        out.append({"from": _iso(lo), "to": _iso(hi or end), "source": seg.source,
                    "changes": [{"knob": c.path, "lab_baseline": c.baseline, "team": c.value, "lever": c.lever}
                                for c in seg.choices],
                    "cost_usd": _money(cost), "gpu_efficiency": _dec(_efficiency(spans, busy, lo, hi)), "basis": basis})
    return out


_EFFECT = {
    # lever -> (figure key, what it shows)
    "right-sizing": ("gpu_cost_usd", "GPU node cost"),
    "spot instances": ("spot_savings_usd", "spot savings"),
    "auto-scaling": ("idle_gpu_cost_usd", "idle GPU cost"),
    "checkpointing": ("checkpoint_saved_usd", "work kept by checkpoints"),
    "job resources": ("gpu_efficiency", "GPU efficiency"),
}


def _pool_of(path: str) -> str | None:
    parts = path.split(".")
    return parts[1] if parts[0] == "node_groups" and len(parts) > 1 else None


def _credit(c: Mapping[str, Any], t: Mapping[str, Any], f: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether the choice could have moved its figure, and if not, why (one line)."""
    lever, pool = c["lever"], _pool_of(c["knob"])
    ran = {p for p, h in f.get("pool_hours", {}).items() if h > 0}
    if pool is not None and pool not in ran and lever != "spot instances":
        return False, f"no effect: the {pool} pool never ran a GPU node"
    if lever == "spot instances":
        if not Decimal(t["spot_share_of_gpu_hours"]["value"] or 0):
            return False, "no effect: no spot GPU node ran"
    elif lever == "auto-scaling" and not f.get("scaled"):
        return False, "no effect: the autoscaler never scaled a node group"
    elif lever == "checkpointing":
        if t["job_progress"]["value"] is None and not f.get("job_ran"):
            return False, "no effect: no training job ran"
        if not f.get("interrupted"):
            return False, ("no interruption hit a running job: checkpoints only cost their saves "
                           f"({t['checkpoint_save_cost_usd']['value'] or '0'} USD of GPU time)")
    elif lever == "job resources" and not f.get("job_ran"):
        return False, "no effect: no training job ran"
    return True, ""


def _effects(teams: Mapping[str, dict[str, Any]], facts: Mapping[str, Mapping[str, Any]]) -> None:
    """Next to each choice, the figure it moves: the team's value and the baseline team's (a team
    of the cohort that kept the lab as it is), when there is one. Only a lever that had an effect
    is credited (a pool that never ran moves nothing), and each figure is shown once per team:
    further choices of the same lever (and pool) point at the first."""
    base = next((t for t in teams.values() if t["baseline_team"]), None)
    for name, t in teams.items():
        shown: dict[tuple[str, str | None], str] = {}
        for c in t["choices"]:
            key, label = _EFFECT.get(c["lever"], ("cost_usd", "team cost"))
            credited, why = _credit(c, t, facts.get(name, {}))
            group = (c["lever"], _pool_of(c["knob"]) if c["lever"] == "right-sizing" else None)
            effect: dict[str, Any] = {"figure": key, "label": label, "credited": credited, "note": why,
                                      "same_as": None, "team": None, "basis": t[key]["basis"],
                                      "baseline_team": base["team"] if base else None, "baseline": None}
            if credited and group in shown:
                effect["same_as"] = shown[group]
            elif credited:
                shown[group] = c["knob"]
                effect.update(team=t[key]["value"], baseline=base[key]["value"] if base else None)
            c["effect"] = effect


def _scorecards(teams: Mapping[str, dict[str, Any]]) -> None:
    cprs = [Decimal(t["cost_per_completed_run_usd"]["value"]) for t in teams.values()
            if t["cost_per_completed_run_usd"]["value"] is not None]
    med = median(cprs) if cprs else None
    for t in teams.values():
        used = sorted({c["lever"] for c in t["choices"] if c["lever"] in LEVERS})
        comp = [{"check": f"uses {lever}", "passed": lever in used} for lever in LEVERS]
        runs = t["completed_runs"]["value"]
        notices = t["interruptions"]["value"]
        feas = [
            {"check": "completed at least one training run", "passed": runs > 0},
            {"check": "stayed within budget", "passed": t["within_budget"]},
            {"check": "survived every spot interruption (or had none)",
             "passed": notices == 0 or t["interruptions_survived"]["value"] == notices},
            {"check": "no guardrail scale-to-zero",
             "passed": not any("scale" in a["kind"] for a in t["guardrail_actions"])},
        ]
        eff = t["gpu_efficiency"]["value"]
        gpu_cost = Decimal(t["gpu_cost_usd"]["value"])
        idle = Decimal(t["idle_gpu_cost_usd"]["value"] or 0)
        cpr = t["cost_per_completed_run_usd"]["value"]
        fin = [
            {"check": f"GPU efficiency at least {GPU_EFFICIENCY_TARGET:%}".replace(".0%", "%"),
             "passed": None if eff is None else Decimal(eff) >= GPU_EFFICIENCY_TARGET},
            {"check": f"idle GPU cost at most {IDLE_GPU_SHARE_MAX:%} of GPU cost".replace(".0%", "%"),
             "passed": None if gpu_cost == 0 else idle / gpu_cost <= IDLE_GPU_SHARE_MAX},
            {"check": "cost per completed run at or below the cohort median",
             "passed": None if cpr is None or med is None else Decimal(cpr) <= med},
            {"check": "used spot capacity for GPU work",
             "passed": Decimal(t["spot_share_of_gpu_hours"]["value"] or 0) > 0},
        ]

        def score(checks: list[dict[str, Any]]) -> dict[str, Any]:
            known = [c for c in checks if c["passed"] is not None]
            return {"passed": sum(1 for c in known if c["passed"]), "measurable": len(known), "checks": checks}

        t["scorecard"] = {
            "comprehensiveness": {**score(comp), "cannot_measure": CANNOT_MEASURE["comprehensiveness"]},
            "feasibility": {**score(feas), "cannot_measure": CANNOT_MEASURE["feasibility"]},
            "finops_alignment": {**score(fin), "cannot_measure": CANNOT_MEASURE["finops_alignment"]},
        }


def window_hours(start: datetime | None, end: datetime | None) -> Decimal | None:
    if start is None or end is None:
        return None
    return Decimal((end - start) // timedelta(seconds=1)) / 3600


def as_of_from_rows(lifecycle: Sequence[Lifecycle], samples: Sequence[Sample],
                    events: Sequence[Event]) -> datetime | None:
    """The last moment anything was observed: the end of the debrief's ledger."""
    times = [r.end or r.start for r in lifecycle] + [s.ts for s in samples] + [e.ts for e in events]
    return max(times) if times else None


MOVED_KINDS = ("nat-data", "transfer-out", "transfer-cross-az")   # gb = amount moved over [start, end)


def within_session(usages: Sequence[Usage], start: datetime, as_of: datetime) -> list[Usage]:
    """Usage from the session window's start on: what was provisioned before the class (the night
    before, or the minutes `up` took) is cut at the start, so the debrief compares what teams
    spent in class, the same for every team and every rehearsal of the same seed. Amounts moved
    (per-GB kinds) are prorated with the time kept."""
    out: list[Usage] = []
    for u in usages:
        if u.start >= start:
            out.append(u)
            continue
        end = min(u.end or as_of, as_of)
        if end <= start:
            continue
        gb = u.gb
        if u.kind in MOVED_KINDS and gb is not None:
            kept, whole = end - start, end - u.start
            gb = gb * Decimal(kept // timedelta(microseconds=1)) / Decimal(whole // timedelta(microseconds=1))
        out.append(replace(u, start=start, gb=gb))
    return out


def ledger_for(inp: DebriefInputs, *, session_only: bool = False) -> Ledger:
    """The same ledger the debrief uses (for the FOCUS export). ``session_only``: usage before the
    window's start is left out (the written debrief; the live view shows everything so far)."""
    usages = tu.usages(inp.lifecycle)[0]
    if session_only and inp.window_start is not None:
        return build_ledger(within_session(usages, inp.window_start, inp.as_of), inp.catalog, as_of=inp.as_of,
                            origin=inp.window_start)
    return build_ledger(usages, inp.catalog, as_of=inp.as_of)


def _overlap_hours(a: datetime, b: datetime, lo: datetime | None, hi: datetime | None) -> Decimal:
    start, end = max(a, lo) if lo else a, min(b, hi) if hi else b
    return Decimal((end - start) // timedelta(microseconds=1)) / Decimal(3_600_000_000) if end > start else Decimal(0)


def _busy_gpu_hours(samples: Sequence[Sample]) -> dict[str, list[tuple[datetime, Decimal]]]:
    """Per team, GPU time computing: each sample's engine active (else GPU_UTIL) x its GPUs x the
    time to the same series' next sample (the last sample: its previous interval).

    Whole-node series (the simulator's: a node entity with a ``gpus`` count) cover every GPU of
    the node, so a team that has them is counted from them alone; otherwise (a DCGM exporter: one
    series per GPU, named after the pod it is assigned to, else after the node) every series is
    one GPU, pod or not."""
    gpu_metrics = (tu.ENGINE_ACTIVE, tu.GPU_UTIL)
    whole_node = {s.team for s in samples if s.metric in gpu_metrics and not tu.is_pod(s) and "gpus" in s.attrs}
    series: dict[tuple[str, str, str], list[Sample]] = defaultdict(list)
    for s in samples:
        if s.metric in gpu_metrics and not (s.team in whole_node and tu.is_pod(s)):
            series[(s.team, s.metric, s.entity)].append(s)
    has_ea = {t for (t, m, _) in series if m == tu.ENGINE_ACTIVE}
    out: dict[str, list[tuple[datetime, Decimal]]] = defaultdict(list)
    for (team, metric, _), rows in sorted(series.items()):
        if metric == tu.GPU_UTIL and team in has_ea:
            continue
        rows.sort(key=lambda s: s.ts)
        for i, smp in enumerate(rows):
            gap = (rows[i + 1].ts - smp.ts if i + 1 < len(rows) else
                   smp.ts - rows[i - 1].ts if i else timedelta(minutes=1))
            gpus = smp.attrs.get("gpus") if isinstance(smp.attrs.get("gpus"), (int, float)) else 1
            ratio = min(max(smp.value / 100 if metric == tu.GPU_UTIL else smp.value, 0.0), 1.0)
            busy_gpus = Decimal(str(round(ratio * gpus, 6)))
            out[team].append((smp.ts, busy_gpus * Decimal(gap // timedelta(seconds=1)) / 3600))
    return dict(out)


def _efficiency(spans: Sequence[tuple[datetime, datetime, int]], busy: Sequence[tuple[datetime, Decimal]],
                lo: datetime | None = None, hi: datetime | None = None) -> Decimal | None:
    """GPU-hours computing / GPU-hours paid for, between ``lo`` and ``hi``; None without either."""
    paid = sum((_overlap_hours(a, b, lo, hi) * g for a, b, g in spans), Decimal(0))
    if not paid or not busy:
        return None
    used = sum((h for t, h in busy if (lo is None or t >= lo) and (hi is None or t < hi)), Decimal(0))
    return min(used / paid, Decimal(1))


def _interruptions(events: Sequence[Event], per_gpu_hour_micros: Decimal) -> dict[str, Any]:
    """What interruptions cost a team and what its checkpoints saved, from the restarts they caused
    (job-restarted: GPU-seconds redone and kept; job-resumed: how long the run waited for a node
    and its restore, GPUs held or not) and the saves of its completed runs."""
    lost = kept = saving = Decimal(0)
    resumed = 0
    log: list[dict[str, Any]] = []
    for e in sorted(events, key=lambda e: e.ts):
        p = e.payload
        if e.kind == "job-resumed":
            waited_h = Decimal(str(p.get("waited_s") or 0)) * int(p.get("gpus") or 1) / 3600
            lost += waited_h
            row = next((r for r in reversed(log) if r["job"] == e.entity and r["waited_minutes"] is None), None)
            if row is not None:
                row["waited_minutes"] = round(float(p.get("waited_s") or 0) / 60, 1)
        elif e.kind == "job-restarted":
            lost_h = Decimal(str(p.get("lost_gpu_seconds") or 0)) / 3600
            kept_h = Decimal(str(p.get("kept_gpu_seconds") or 0)) / 3600
            lost += lost_h
            if p.get("resume_from_step"):
                resumed += 1
                kept += kept_h
            log.append({"at": _iso(e.ts), "job": e.entity, "reason": p.get("reason"),
                        "resume_from_step": p.get("resume_from_step"), "lost_steps": p.get("lost_steps"),
                        "lost_gpu_hours": _dec(lost_h, 4), "waited_minutes": None,
                        "kept_gpu_hours": _dec(kept_h if p.get("resume_from_step") else Decimal(0), 4)})
        elif e.kind == tu.JOB_COMPLETED and p.get("checkpoint_save_seconds"):
            saving += Decimal(str(p["checkpoint_save_seconds"])) / 3600
    return {"lost_micros": int(lost * per_gpu_hour_micros), "kept_micros": int(kept * per_gpu_hour_micros),
            "saving_micros": int(saving * per_gpu_hour_micros), "resumed": resumed, "log": log}


def _lesson(inp: DebriefInputs, teams: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The lesson plan on the page: its phases over the window, the lab's takeaways, and markers for
    the facilitator's drills, the knob sets teams applied and the market's own interruptions."""
    markers: list[dict[str, Any]] = []
    drills: dict[tuple[datetime, str, str], set[str]] = defaultdict(set)
    for e in inp.events:
        if e.kind == "drill":
            drills[(e.ts, str(e.payload.get("drill") or "drill"), e.entity)].add(e.team)
        elif e.kind == tu.INTERRUPTION and not e.payload.get("drill"):
            markers.append({"at": _iso(e.ts), "kind": "interruption", "team": e.team,
                            "label": f"spot interruption ({e.entity})"})
    for (ts, kind, entity), who in sorted(drills.items()):
        what = "spot interruption" if kind == "interrupt" else "capacity shortage"
        markers.append({"at": _iso(ts), "kind": "drill", "team": None, "teams": sorted(who),
                        "label": f"drill: {what} ({entity})"})
    for name, t in sorted(teams.items()):
        for seg in t["knobs_in_force"][1:]:
            markers.append({"at": seg["from"], "kind": "change", "team": name,
                            "label": f"{name}: {seg['source']} ({len(seg['changes'])} knob(s) differ from the lab)"})
    markers.sort(key=lambda m: (m["at"] or "", m["kind"], m.get("team") or ""))
    return {"phases": lesson.phases(inp.window_start, inp.window_end), "phases_source": lesson.PHASES_SOURCE,
            "takeaways": list(inp.takeaways),
            "takeaways_source": f"labs/{inp.lab}/README.md, What to look for in the debrief",
            "markers": markers}
