"""`labctl status --watch`: per team, cost so far and burn rate, budget used, nodes by capacity
type, GPU utilisation, job progress and time left, from the store through the metered ledger.

A team is *at risk* when its cost so far plus its burn rate until the window ends would pass its
budget; *over* when it already has. The guardrail (labctl.ops.guardrail) acts on the same figures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from labctl.cost.catalog import Catalog
from labctl.cost.money import usd
from labctl.ops.debrief import load_inputs
from labctl.ops.down import resolve_cohort_id
from labctl.report.model import ledger_for
from labctl.state import StateDir
from labctl.telemetry import usage as tu

RECENT = timedelta(minutes=5)


@dataclass
class TeamLive:
    team: str
    cost_usd: str
    burn_usd_per_hour: str
    budget_usd: str | None
    budget_used_pct: str | None
    projected_usd: str | None
    nodes: dict[str, int]                 # running instances by market (on-demand / spot)
    gpu_utilisation: float | None          # mean over the last 5 minutes of samples, 0..1
    job_progress: float | None
    state: str                             # ok | at-risk | over | no-budget
    basis: str

    @property
    def at_risk(self) -> bool:
        return self.state in ("at-risk", "over")


@dataclass
class LiveStatus:
    cohort: str
    as_of: str
    window_end: str | None
    seconds_left: int | None
    teams: list[TeamLive] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def live_status(state_dir: Path, cohort_ref: str | Path, *, at: datetime | None = None,
                catalog: Catalog | None = None) -> LiveStatus:
    cohort_id = resolve_cohort_id(cohort_ref, state_dir)
    cs = StateDir(state_dir).existing_cohort(cohort_id)
    inp, notes = load_inputs(cs, as_of=at, catalog=catalog, live=True)
    ledger = ledger_for(inp)
    as_of = inp.as_of
    left_h = None
    if inp.window_end is not None:
        left_h = Fraction(max(int((inp.window_end - as_of).total_seconds()), 0), 3600)
    by_team = ledger.by_team()
    burn: dict[str, Fraction] = {}
    nodes: dict[str, dict[str, int]] = {}
    sources: dict[str, set[str]] = {}
    for e in ledger.entries:
        u = e.usage
        sources.setdefault(u.team, set()).add(u.source)
        if u.end is None or u.end > as_of:     # still running at as_of
            burn[u.team] = burn.get(u.team, Fraction(0)) + e.rate.usd_per_hour
            if u.kind == "instance":
                n = nodes.setdefault(u.team, {"on-demand": 0, "spot": 0})
                n[u.market] += u.count
    recent = [s for s in inp.samples if s.ts >= as_of - RECENT]
    util = tu.gpu_utilisation(recent)
    progress = tu.job_progress(inp.samples)
    budgets = {p.name: p.budget_usd for p in inp.teams}
    collected = tu.latest_value(inp.samples, tu.BUDGET_LIMIT)
    out = LiveStatus(cohort_id, as_of.isoformat(), inp.window_end.isoformat() if inp.window_end else None,
                     int(left_h * 3600) if left_h is not None else None,
                     warnings=notes + [f"{w.team}/{w.resource_id}: {w.message}" for w in ledger.warnings])
    for team in sorted(set(budgets) | set(by_team)):
        cost = by_team.get(team, 0)
        rate = burn.get(team, Fraction(0))
        budget = budgets.get(team)
        if budget is None and team in collected:
            budget = Decimal(str(collected[team][0]))
        projected = None
        if left_h is not None:
            projected = cost + int(rate * left_h * 1_000_000)
        state = "no-budget"
        used = None
        if budget:
            b = int(budget * 1_000_000)
            used = f"{Decimal(cost) * 100 / b:.1f}"
            state = "over" if cost >= b else "at-risk" if projected is not None and projected > b else "ok"
        series = util.get(team, {})
        out.teams.append(TeamLive(
            team=team, cost_usd=str(usd(cost)), burn_usd_per_hour=f"{Decimal(rate.numerator) / Decimal(rate.denominator):.4f}",
            budget_usd=None if budget is None else str(budget), budget_used_pct=used,
            projected_usd=None if projected is None else str(usd(projected)),
            nodes=nodes.get(team, {"on-demand": 0, "spot": 0}),
            gpu_utilisation=round(sum(series.values()) / len(series), 4) if series else None,
            job_progress=round(progress[team], 4) if team in progress else None,
            state=state, basis=tu.basis_of(sources.get(team, ()))))
    return out


def render_table(st: LiveStatus) -> Any:
    """A rich Table of the live status; at-risk and over-budget rows are marked and coloured."""
    from rich.table import Table

    left = "?" if st.seconds_left is None else f"{st.seconds_left // 3600}h{st.seconds_left % 3600 // 60:02d}m"
    table = Table(title=f"cohort {st.cohort} · as of {st.as_of[:19]}Z · {left} left in the window", expand=False)
    for col, just in (("", "left"), ("team", "left"), ("cost", "right"), ("$/h", "right"), ("budget", "right"),
                      ("used", "right"), ("projected", "right"), ("on-demand", "right"), ("spot", "right"),
                      ("GPU util", "right"), ("job", "right"), ("basis", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for t in st.teams:
        mark = {"over": "!!", "at-risk": "!"}.get(t.state, "")
        style = {"over": "bold red", "at-risk": "bold yellow"}.get(t.state)
        table.add_row(mark, t.team, f"${Decimal(t.cost_usd):,.2f}", f"${Decimal(t.burn_usd_per_hour):,.2f}",
                      "-" if t.budget_usd is None else f"${Decimal(t.budget_usd):,.0f}",
                      "-" if t.budget_used_pct is None else f"{t.budget_used_pct}%",
                      "-" if t.projected_usd is None else f"${Decimal(t.projected_usd):,.2f}",
                      str(t.nodes.get("on-demand", 0)), str(t.nodes.get("spot", 0)),
                      "-" if t.gpu_utilisation is None else f"{t.gpu_utilisation:.0%}",
                      "-" if t.job_progress is None else f"{t.job_progress:.0%}", t.basis, style=style)
    return table
