"""`labctl plan`: what `up` would change for each team, and what it would cost over the session.

Each team is planned with real terraform (saved plan, read with `show -json`); the cost engine
prices the planned values for the session length (node groups at min, desired and max size), and
for a team that already exists, prices the prior state the same way, so a change reads as
"spot pool instead of on-demand: -$X over the session". Nothing is applied.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from labctl.cost.catalog import load_catalog
from labctl.cost.estimate import Estimate, diff_estimates, estimate_plan, render_diff, render_estimate
from labctl.ops.common import RunContext, check_emulator_matches, prepare, select_teams
from labctl.ops.parallel import default_parallelism
from labctl.ops.progress import Board
from labctl.ops.target import connect
from labctl.ops.team import with_team_knobs
from labctl.ops.validate import validate_cohort
from labctl.render.terraform import tfvars, write_root
from labctl.tf import argv as A


@dataclass
class TeamPlan:
    team: str
    status: str                         # no-changes | would-change | failed
    changes: list[str] = field(default_factory=list)
    estimate: Estimate | None = None
    previous: Estimate | None = None
    error: str | None = None

    def as_dict(self, hours: Decimal) -> dict[str, Any]:
        out: dict[str, Any] = {"team": self.team, "status": self.status, "changes": self.changes, "error": self.error}
        if self.estimate is not None:
            lo, mid, hi = self.estimate.total()
            out["estimate_usd"] = {"min": str(lo), "desired": str(mid), "max": str(hi)}
            out["warnings"] = [f"{w.address}: {w.message}" for w in self.estimate.warnings]
            out["estimate_text"] = render_estimate(self.estimate)
        if self.previous is not None and self.estimate is not None:
            out["cost_change"] = render_diff(diff_estimates(self.previous, self.estimate), hours)
        return out


@dataclass
class PlanReport:
    cohort: str
    hours: Decimal
    teams: list[TeamPlan]
    seconds: float

    def totals(self) -> tuple[Decimal, Decimal, Decimal]:
        lo = mid = hi = Decimal(0)
        for t in self.teams:
            if t.estimate is not None:
                a, b, c = t.estimate.total()
                lo, mid, hi = lo + a, mid + b, hi + c
        return lo, mid, hi

    def as_dict(self) -> dict[str, Any]:
        lo, mid, hi = self.totals()
        return {"cohort": self.cohort, "session_hours": str(self.hours), "seconds": round(self.seconds, 1),
                "cohort_estimate_usd": {"min": str(lo), "desired": str(mid), "max": str(hi)},
                "teams": [t.as_dict(self.hours) for t in self.teams]}


def plan(spec_path: Path, state_dir: Path, teams: list[str] | None = None, parallelism: int | None = None,
         quiet: bool = False) -> PlanReport:
    cohort = with_team_knobs(validate_cohort(spec_path), state_dir)
    chosen = select_teams(cohort, teams)
    conn = connect(cohort.cohort, state_dir)
    ctx = prepare(state_dir, cohort.id, conn)
    check_emulator_matches(ctx.cohort_state, conn)
    hours = cohort.cohort.window.hours
    catalog = load_catalog()
    started = time.monotonic()
    width = parallelism or default_parallelism(len(chosen))

    def one(name: str) -> TeamPlan:
        return _plan_team(ctx, cohort, name, hours, catalog, board)

    with Board(f"plan {cohort.id}", chosen, quiet=quiet) as board:
        with ThreadPoolExecutor(max_workers=width) as pool:
            results = list(pool.map(one, chosen))
    return PlanReport(cohort.id, hours, results, time.monotonic() - started)


def _plan_team(ctx: RunContext, cohort, name: str, hours: Decimal, catalog, board: Board) -> TeamPlan:  # type: ignore[no-untyped-def]
    d = ctx.cohort_state.team_dir(name)
    try:
        board.update(name, phase="render")
        write_root(d, tfvars(cohort, cohort.team(name), ctx.conn.provider))
        ctx.ensure_init(name)
        tf = ctx.tf(name)
        has_state = ctx.cohort_state.has_resources(name)
        plan_file = d / "tfplan.estimate"
        board.update(name, phase="plan")
        res = tf.run(A.plan(out=plan_file, refresh=has_state))
        if res.returncode not in (0, 2):
            errs = "; ".join(e.one_line() for e in res.progress.errors[:3]) or "terraform plan failed"
            board.update(name, phase="failed", note=errs[:100])
            return TeamPlan(name, "failed", error=errs)
        doc = tf.show_plan(plan_file)
        plan_file.unlink(missing_ok=True)
        changes = [f"{rc['change']['actions']} {rc['address']}" for rc in doc.get("resource_changes", [])
                   if rc["change"]["actions"] not in (["no-op"], ["read"])]
        est = estimate_plan(doc, cohort.cohort.region, hours, catalog, team=name)
        previous = None
        prior = (doc.get("prior_state") or {}).get("values")
        if has_state and prior:
            previous = estimate_plan({"planned_values": prior}, cohort.cohort.region, hours, catalog, team=name)
        status = "would-change" if res.returncode == 2 else "no-changes"
        board.update(name, phase=status)
        return TeamPlan(name, status, changes, est, previous)
    except Exception as exc:  # noqa: BLE001 - one team's failure must not stop the others
        board.update(name, phase="failed", note=str(exc)[:100])
        return TeamPlan(name, "failed", error=str(exc))
