"""`labctl status --watch`: per team, cost so far and burn rate, budget used, nodes by capacity
type, GPU utilisation, job progress and time left, from the store through the metered ledger.

A team is *at risk* when its cost so far plus its burn rate until the window ends would pass its
budget; *over* when it already has. The guardrail (labctl.ops.guardrail) acts on the same figures.
"""

from __future__ import annotations

import textwrap
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from labctl.cost.catalog import Catalog
from labctl.cost.money import fmt_usd, usd
from labctl.ops.debrief import load_inputs
from labctl.ops.common import TORN_DOWN
from labctl.ops.common import resolve_cohort_id
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
    has_telemetry: bool = True             # False: nothing collected or simulated yet
    torn_down_at: str | None = None        # set once `down` ran: final figures, nothing burning

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def live_status(state_dir: Path, cohort_ref: str | Path, *, at: datetime | None = None,
                catalog: Catalog | None = None) -> LiveStatus:
    cohort_id = resolve_cohort_id(cohort_ref, state_dir)
    cs = StateDir(state_dir).existing_cohort(cohort_id)
    meta = cs.meta()
    torn_down = meta.down_at if meta.status in TORN_DOWN else None
    # A torn-down cohort is shown as it ended (its final figures), not burning at a later time.
    inp, notes = load_inputs(cs, as_of=at, catalog=catalog, live=torn_down is None)
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
        if not torn_down and (u.end is None or u.end > as_of):     # still running at as_of
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
                     warnings=notes + [f"{w.team}/{w.resource_id}: {w.message}" for w in ledger.warnings],
                     has_telemetry=bool(ledger.entries or inp.samples), torn_down_at=torn_down)
    for team in sorted(set(budgets) | set(by_team)):
        cost = by_team.get(team, 0)
        rate = burn.get(team, Fraction(0))
        budget = budgets.get(team)
        if budget is None and team in collected:
            budget = Decimal(str(collected[team][0]))
        projected = None
        if torn_down:
            projected = cost
        elif left_h is not None:
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


WIDE = 100   # columns from which the one-row-per-team layout is used

LEGEND = ("!  at risk: cost so far + burn rate to the window's end passes the budget",
          "!! over budget: cost so far has reached the budget",
          "basis: metered (from the cloud), simulated (labctl simulate), none (no data)")


def _money(amount: str | None, places: int = 2) -> str:
    if amount is None:
        return "-"
    value = Decimal(amount)
    if places == 0 and value != value.to_integral_value():
        places = 2                        # a budget of $120.50 is not shown as $120
    return fmt_usd(value, places=places)


def _left(st: LiveStatus) -> str:
    return "?" if st.seconds_left is None else f"{st.seconds_left // 3600}h{st.seconds_left % 3600 // 60:02d}m"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def render_lines(st: LiveStatus, width: int = 80) -> list[tuple[str, str | None]]:
    """The live view as (line, style) pairs that fit ``width`` columns: one row per team when
    ``width >= WIDE``, else two lines per team. Names and amounts are never cut; a team name longer
    than its column pushes the rest of its line right."""
    mark = {"over": "!!", "at-risk": "!"}
    style = {"over": "bold red", "at-risk": "bold yellow"}
    if st.torn_down_at:
        head = (f"cohort {st.cohort}: torn down at {st.torn_down_at[:19]}Z; final figures, nothing running "
                "(teardown proofs in the cohort's reports/)")
    else:
        head = f"cohort {st.cohort}, as of {st.as_of[:19]}Z, {_left(st)} left in the window"
    out: list[tuple[str, str | None]] = [(line, "bold") for line in textwrap.wrap(head, width, subsequent_indent="  ")]
    name_w = max([len(t.team) for t in st.teams] + [4])
    if width >= WIDE:
        head = (f"{'':2} {'team':<{name_w}} {'cost':>11} {'$/h':>9} {'budget':>9} {'used':>7} {'projected':>11} "
                f"{'on-dem':>6} {'spot':>4} {'GPU':>4} {'job':>4}  basis")
        out.append((head, "bold"))
        for t in st.teams:
            out.append((f"{mark.get(t.state, ''):2} {t.team:<{name_w}} {_money(t.cost_usd):>11} "
                        f"{_money(t.burn_usd_per_hour):>9} {_money(t.budget_usd, 0):>9} "
                        f"{'-' if t.budget_used_pct is None else t.budget_used_pct + '%':>7} "
                        f"{_money(t.projected_usd):>11} {t.nodes.get('on-demand', 0):>6} {t.nodes.get('spot', 0):>4} "
                        f"{_pct(t.gpu_utilisation):>4} {_pct(t.job_progress):>4}  {t.basis}", style.get(t.state)))
    else:
        for t in st.teams:
            used = "" if t.budget_used_pct is None else f" ({t.budget_used_pct}%)"
            fields = [f"{_money(t.cost_usd)} so far", f"{_money(t.burn_usd_per_hour)}/h",
                      f"budget {_money(t.budget_usd, 0)}{used}", f"projected {_money(t.projected_usd)}",
                      f"nodes {t.nodes.get('on-demand', 0)} on-demand {t.nodes.get('spot', 0)} spot",
                      f"GPU {_pct(t.gpu_utilisation)}", f"job {_pct(t.job_progress)}", t.basis]
            out += [(line, style.get(t.state)) for line in _pack(f"{mark.get(t.state, ''):2} {t.team}:", fields, width)]
    out += [(line, "dim") for text in LEGEND for line in textwrap.wrap(text, width, subsequent_indent="   ")]
    for w in st.warnings:
        out += [(line, "dim") for line in textwrap.wrap(f"note: {w}", width, subsequent_indent="   ")]
    return out


def _pack(head: str, fields: list[str], width: int, indent: str = "     ") -> list[str]:
    """``head`` then the fields, '; '-separated, as many per line as fit ``width``; a field is
    never split."""
    lines, cur = [], head
    for i, f in enumerate(fields):
        piece = f + (";" if i < len(fields) - 1 else "")
        if cur.strip() and len(cur) + 1 + len(piece) > width and cur != head:
            lines.append(cur)
            cur = indent + piece
        else:
            cur = f"{cur} {piece}" if cur else piece
    lines.append(cur)
    return lines


def render_text(st: LiveStatus, width: int = 80) -> str:
    """The live view as plain text (a snapshot when stdout is not a terminal)."""
    return "\n".join(line for line, _ in render_lines(st, width))
