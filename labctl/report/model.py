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
from labctl.telemetry import usage as tu
from labctl.telemetry.store import Event, Lifecycle, Sample

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
class Choice:
    """One knob a team changed: the dotted path, the lab's value and the team's."""

    path: str
    baseline: Any
    value: Any

    @property
    def lever(self) -> str:
        return lever_of(self.path)


@dataclass(frozen=True)
class TeamPlan:
    name: str
    budget_usd: Decimal | None = None
    choices: tuple[Choice, ...] = ()

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


def lever_of(path: str) -> str:
    parts = path.split(".")
    if parts[0] == "job":
        if parts[-1] == "checkpoint_every_steps":
            return "checkpointing"
        if parts[-1] == "pool":
            return "spot instances"
        return "job resources"
    if parts[0] == "autoscaler":
        return "auto-scaling"
    if parts[0] == "node_groups":
        if parts[1] == "gpu_spot":
            return "spot instances"
        if parts[-1] in ("instance_types", "disk_gib"):
            return "right-sizing"
        return "auto-scaling"
    return "other"


def choices(baseline: Mapping[str, Any], team: Mapping[str, Any], prefix: str = "") -> list[Choice]:
    """Every leaf where a team's merged lab settings differ from the lab's (dotted paths)."""
    out: list[Choice] = []
    for key in sorted(set(baseline) | set(team)):
        path = f"{prefix}{key}"
        b, t = baseline.get(key), team.get(key)
        if isinstance(b, Mapping) and isinstance(t, Mapping):
            out += choices(b, t, path + ".")
        elif b != t:
            out.append(Choice(path, b, t))
    return out


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
        return "network"


CATEGORIES = ("GPU nodes (on-demand)", "GPU nodes (spot)", "CPU nodes", "EKS control plane", "storage", "network")


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
    kpis = team_kpis(ledger, alloc, inp.catalog)
    cats = _Categories(inp.catalog)

    plans = {p.name: p for p in inp.teams}
    team_names = sorted(set(plans) | set(ledger.teams()))
    by_team_cost = ledger.by_team()
    runs = tu.completed_runs(inp.events)
    util = tu.gpu_utilisation(inp.samples)
    util_metric = tu.utilisation_metric(inp.samples)
    progress = tu.job_progress(inp.samples)

    # sources per team, for each family of figures
    cost_src: dict[str, set[str]] = defaultdict(set)
    for u in usages:
        cost_src[u.team].add(u.source)
    sample_src: dict[str, set[str]] = defaultdict(set)
    progress_src: dict[str, set[str]] = defaultdict(set)
    for s in inp.samples:
        if s.metric in (tu.ENGINE_ACTIVE, tu.GPU_UTIL):
            sample_src[s.team].add(s.source)
        elif s.metric in (tu.JOB_PROGRESS, tu.JOB_PROGRESS_RATIO):
            progress_src[s.team].add(s.source)
    event_src: dict[str, set[str]] = defaultdict(set)
    events_by_team: dict[str, list[Event]] = defaultdict(list)
    for ev in inp.events:
        event_src[ev.team].add(ev.source)
        events_by_team[ev.team].append(ev)

    # one pass over the ledger: per team per minute, per category, GPU node-hours
    per_minute: dict[str, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
    for line in ledger.lines:
        per_minute[line.entry.usage.team][line.minute] += line.cost_micros
    by_cat: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    gpu_cost: dict[str, int] = defaultdict(int)
    gpu_node_hours: dict[str, Decimal] = defaultdict(Decimal)
    spot_gpu_hours: dict[str, Decimal] = defaultdict(Decimal)
    for e in ledger.entries:
        c = cats.of(e)
        by_cat[e.usage.team][c] += e.cost_micros
        if c.startswith("GPU"):
            gpu_cost[e.usage.team] += e.cost_micros
            gpu_node_hours[e.usage.team] += e.hours * e.usage.count
            if e.usage.market == "spot":
                spot_gpu_hours[e.usage.team] += e.hours * e.usage.count

    idle = _idle_gpu(alloc, util, workloads)

    teams: dict[str, dict[str, Any]] = {}
    for name in team_names:
        plan = plans.get(name, TeamPlan(name))
        k = kpis.get(name)
        cost = by_team_cost.get(name, 0)
        cbasis = tu.basis_of(cost_src.get(name, ()))
        ubasis = tu.basis_of(sample_src.get(name, ()))
        ebasis = tu.basis_of(event_src.get(name, ()))
        n_runs = len(runs.get(name, ()))
        cpr = cost_per_completed_run(cost, n_runs)
        notices = sorted((e for e in events_by_team.get(name, []) if e.kind == tu.INTERRUPTION), key=lambda e: e.ts)
        completions = sorted(e.ts for e in events_by_team.get(name, []) if e.kind == tu.JOB_COMPLETED)
        survived = sum(1 for n in notices if any(c > n.ts for c in completions))
        evictions = sum(1 for e in events_by_team.get(name, []) if e.kind == tu.EVICTION)
        guardrail = [e for e in events_by_team.get(name, []) if e.kind.startswith("guardrail")]
        series = util.get(name, {})
        mean_util = sum(series.values()) / len(series) if series else None
        eff = k.gpu_efficiency if k and k.gpu_efficiency is not None else (
            Decimal(str(round(mean_util, 4))) if mean_util is not None else None)
        eff_how = ("used / requested GPU-hours of the team's pods (OpenCost allocation, DCGM engine active)"
                   if k and k.gpu_efficiency is not None else
                   f"mean of {util_metric.get(name, 'GPU')} over the team's GPUs and minutes")
        idle_micros, idle_how = idle.get(name, (0, "no GPU nodes"))
        spot = k.spot if k else None
        budget_micros = int(plan.budget_usd * 1_000_000) if plan.budget_usd is not None else None
        cum, total = [], 0
        for minute, c in sorted(per_minute.get(name, {}).items()):
            total += c
            cum.append([_iso(minute), total])
        rem_hours = None
        projected = None
        if inp.window_end is not None and inp.as_of < inp.window_end:
            rem_hours = Decimal((inp.window_end - inp.as_of).total_seconds()) / 3600
            running = sum(e.rate.usd_per_hour * 1 for e in ledger.entries
                          if e.usage.team == name and e.usage.end is None)
            projected = cost + int(Decimal(running.numerator) / Decimal(running.denominator) * rem_hours * 1_000_000) if running else cost
        teams[name] = {
            "team": name,
            "baseline_team": plan.is_baseline,
            "cost_usd": _fig(_money(cost), "USD", cbasis, "sum of the team's ledger entries (lifecycle x catalog price)"),
            "budget_usd": _fig(None if plan.budget_usd is None else str(plan.budget_usd), "USD", "configured",
                               "the team's budget in the cohort file (else the lab's)"),
            "budget_used_pct": _fig(_dec(Decimal(cost) * 100 / budget_micros, 1) if budget_micros else None, "%", cbasis,
                                    "cost / budget"),
            "within_budget": None if budget_micros is None else cost <= budget_micros,
            "projected_at_window_end_usd": _fig(_money(projected), "USD", cbasis,
                                                "cost so far + running resources' $/h x hours left"),
            "completed_runs": _fig(n_runs, "runs", ebasis, "distinct runs with a job-completed event"),
            "cost_per_completed_run_usd": _fig(None if cpr is None else str(cpr.quantize(Decimal("0.000001"))), "USD",
                                               cbasis, "team cost / completed runs; none when no run completed"),
            "gpu_efficiency": _fig(_dec(eff), "ratio", ubasis, eff_how),
            "gpu_node_hours": _fig(_dec(gpu_node_hours.get(name, Decimal(0)), 3), "h", cbasis,
                                   "hours of GPU instances in the ledger (x count)"),
            "spot_share_of_gpu_hours": _fig(_dec(spot_gpu_hours[name] / gpu_node_hours[name]) if gpu_node_hours.get(name) else None,
                                            "ratio", cbasis, "spot GPU node-hours / GPU node-hours"),
            "idle_gpu_cost_usd": _fig(_money(idle_micros), "USD", tu.basis_of(cost_src.get(name, set()) | sample_src.get(name, set())),
                                      idle_how),
            "gpu_cost_usd": _fig(_money(gpu_cost.get(name, 0)), "USD", cbasis, "ledger entries of GPU instances"),
            "spot_savings_usd": _fig(_money(spot.savings_micros) if spot else "0.000000", "USD", cbasis,
                                     "the same spot instance-hours at the catalog on-demand price, less their cost"),
            "spot_savings_pct": _fig(_dec(spot.savings_pct, 1) if spot and spot.savings_pct is not None else None, "%",
                                     cbasis, "savings / on-demand equivalent"),
            "interruptions": _fig(len(notices), "notices", ebasis, "spot-interruption-notice events"),
            "interruptions_survived": _fig(survived, "notices", ebasis,
                                           "notices after which the team still completed a run"),
            "evictions": _fig(evictions, "pods", ebasis, "pod-evicted events"),
            "guardrail_actions": [{"at": _iso(e.ts), "kind": e.kind, "entity": e.entity} for e in guardrail],
            "job_progress": _fig(_dec(Decimal(str(progress[name])), 3) if name in progress else None, "ratio",
                                 tu.basis_of(progress_src.get(name, ())),
                                 "latest job_progress of each job, averaged"),
            "cost_by_resource_usd": {c: _money(by_cat[name].get(c, 0)) for c in CATEGORIES},
            "series": {
                "cost_cumulative_micro_usd": {"basis": cbasis, "step_seconds": 60, "points": cum},
                "gpu_utilisation": {"basis": ubasis, "metric": util_metric.get(name), "step_seconds": 60,
                                    "points": [[_iso(t), round(v, 4)] for t, v in series.items()]},
            },
            "choices": [{"knob": c.path, "lab_baseline": c.baseline, "team": c.value, "lever": c.lever}
                        for c in plan.choices],
        }

    billed_section = _billed(billed, teams)
    _effects(teams)
    board = _leaderboard(teams)
    _scorecards(teams)
    warnings = [{"team": w.team, "resource_id": w.resource_id, "message": w.message} for w in ledger.warnings]
    all_cost_src = set().union(*cost_src.values()) if cost_src else set()
    return {
        "schema": SCHEMA,
        "cohort": inp.cohort,
        "lab": inp.lab,
        "window": {"start": _iso(inp.window_start), "end": _iso(inp.window_end)},
        "as_of": _iso(inp.as_of),
        "generated_at": _iso(inp.generated_at),
        "provenance": {
            "legend": {"simulated": "rows written by the simulated class (source=simulator), priced by labctl's ledger",
                       "metered": "collected from AWS, the cluster or DCGM and priced by labctl's ledger",
                       "billed": ("the provider's bill (Cost Explorer), beside the ledger's figures, never mixed "
                                  "into them" if billed.included else
                                  "the provider's bill (Cost Explorer); not part of this debrief"),
                       "configured": "set in the cohort file or the lab"},
            "sources": sorted({r.source for r in inp.lifecycle} | {s.source for s in inp.samples}
                              | {e.source for e in inp.events}),
            "cost_basis": tu.basis_of(all_cost_src),
            "ledger_basis": ledger.basis,
            "allocation": "OpenCost default split of node cost into CPU/RAM/GPU; idle = node cost not requested",
        },
        "totals": {
            "cost_usd": _fig(str(ledger.total()), "USD", tu.basis_of(all_cost_src), "sum of all ledger entries"),
            "idle_gpu_cost_usd": _fig(_money(sum(v[0] for v in idle.values())), "USD", tu.basis_of(all_cost_src),
                                      "sum over teams"),
            "spot_savings_usd": _fig(str(sum((Decimal(t["spot_savings_usd"]["value"]) for t in teams.values()), Decimal(0))),
                                     "USD", tu.basis_of(all_cost_src), "sum over teams"),
            "completed_runs": _fig(sum(t["completed_runs"]["value"] for t in teams.values()), "runs",
                                   tu.basis_of({e.source for e in inp.events}), "sum over teams"),
            **({"billed_cost_usd": {**_fig(billed_section["total_usd"], "USD", BILLED, "sum of the teams' billed cost"),
                                    "estimated": billed_section["estimated"]}} if billed.included else {}),
        },
        "billed": billed_section,
        "leaderboard": board,
        "teams": teams,
        "rubric": {"criteria": ["comprehensiveness", "feasibility", "finops_alignment"],
                   "cannot_measure": CANNOT_MEASURE,
                   "thresholds": {"gpu_efficiency_min": str(GPU_EFFICIENCY_TARGET),
                                  "idle_gpu_share_max": str(IDLE_GPU_SHARE_MAX)}},
        "warnings": warnings,
        "notes": usage_notes + node_notes + list(alloc.warnings),
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


def _idle_gpu(alloc: Any, util: Mapping[str, Mapping[datetime, float]], workloads: Sequence[Any]) -> dict[str, tuple[int, str]]:
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
            gpu_part = sum(split_node_cost(n.node.cost_micros, n.node.vcpu, n.node.ram_gib, n.node.gpus).gpu for n in tnodes)
            if series:
                mean = sum(series.values()) / len(series)
                out[team] = (int(gpu_part * (1 - mean)), "GPU share of node cost x (1 - mean GPU utilisation); "
                                                         "no pod data")
            else:
                out[team] = (gpu_part, "GPU share of node cost; no utilisation data, so all of it counts as idle")
    return out


def _leaderboard(teams: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Ranked by cost per completed run (lowest first); teams without a completed run follow,
    by total cost. Both come straight from the ledger."""
    def key(t: dict[str, Any]) -> tuple:
        cpr = t["cost_per_completed_run_usd"]["value"]
        return (cpr is None, Decimal(cpr) if cpr is not None else Decimal(t["cost_usd"]["value"]),
                Decimal(t["cost_usd"]["value"]), t["team"])

    out = []
    for rank, t in enumerate(sorted(teams.values(), key=key), 1):
        out.append({"rank": rank, "team": t["team"], "cost_usd": t["cost_usd"]["value"],
                    "completed_runs": t["completed_runs"]["value"],
                    "cost_per_completed_run_usd": t["cost_per_completed_run_usd"]["value"],
                    "gpu_efficiency": t["gpu_efficiency"]["value"], "idle_gpu_cost_usd": t["idle_gpu_cost_usd"]["value"],
                    "spot_savings_usd": t["spot_savings_usd"]["value"],
                    "budget_used_pct": t["budget_used_pct"]["value"], "basis": t["cost_usd"]["basis"]})
    return out


_EFFECT = {
    # lever -> (figure key, what it shows)
    "right-sizing": ("gpu_cost_usd", "GPU node cost"),
    "spot instances": ("spot_savings_usd", "spot savings"),
    "auto-scaling": ("idle_gpu_cost_usd", "idle GPU cost"),
    "checkpointing": ("interruptions_survived", "interruptions survived"),
    "job resources": ("gpu_efficiency", "GPU efficiency"),
}


def _effects(teams: Mapping[str, dict[str, Any]]) -> None:
    """Next to each choice, the figure it moves: the team's value and the baseline team's (a team
    of the cohort that kept the lab as it is), when there is one."""
    base = next((t for t in teams.values() if t["baseline_team"]), None)
    for t in teams.values():
        for c in t["choices"]:
            key, label = _EFFECT.get(c["lever"], ("cost_usd", "team cost"))
            c["effect"] = {"figure": key, "label": label, "team": t[key]["value"], "basis": t[key]["basis"],
                           "baseline_team": base["team"] if base else None,
                           "baseline": base[key]["value"] if base else None}


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
            {"check": "no guardrail scale-to-zero", "passed": not any("scale" in a["kind"] for a in t["guardrail_actions"])},
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
            {"check": "used spot capacity for GPU work", "passed": Decimal(t["spot_share_of_gpu_hours"]["value"] or 0) > 0},
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


def as_of_from_rows(lifecycle: Sequence[Lifecycle], samples: Sequence[Sample], events: Sequence[Event]) -> datetime | None:
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
            gb = gb * Decimal((end - start) // timedelta(microseconds=1)) / Decimal((end - u.start) // timedelta(microseconds=1))
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
