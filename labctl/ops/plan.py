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
from labctl.cost.estimate import Estimate, diff_estimates, render_diff
from labctl.cost.money import fmt_usd
from labctl.ops.estimates import ExpectedUse, estimate_lines, estimate_team, manifests_expected_use, team_expected_use
from labctl.ops.common import RunContext, check_emulator_matches, prepare, select_teams
from labctl.ops.parallel import default_parallelism
from labctl.ops.progress import Board
from labctl.ops.target import connect
from labctl.ops.team import with_team_knobs
from labctl.ops.validate import validate_cohort
from labctl.render.terraform import tfvars, write_root
from labctl.text import change_line, plural
from labctl.tf import argv as A


@dataclass
class TeamPlan:
    team: str
    status: str                         # no-changes | would-change | failed
    changes: list[str] = field(default_factory=list)
    estimate: Estimate | None = None
    previous: Estimate | None = None
    error: str | None = None
    budget_usd: Decimal | None = None
    expected: ExpectedUse | None = None
    new_team: bool = True               # no state yet: every change is a create

    @property
    def over_budget(self) -> bool:
        return (self.estimate is not None and self.budget_usd is not None
                and self.estimate.total()[1] > self.budget_usd)

    def as_dict(self, hours: Decimal) -> dict[str, Any]:
        out: dict[str, Any] = {"team": self.team, "status": self.status, "changes": self.changes, "error": self.error,
                               "budget_usd": None if self.budget_usd is None else str(self.budget_usd),
                               "over_budget": self.over_budget}
        if self.estimate is not None:
            lo, mid, hi = self.estimate.total()
            # "desired": desired sizes, with the job's pool at what the job needs (expected_use)
            out["estimate_usd"] = {"min": str(lo), "desired": str(mid), "max": str(hi)}
            out["expected_use"] = None if self.expected is None else self.expected.as_dict()
            out["warnings"] = [f"{w.address}: {w.message}" for w in self.estimate.warnings]
            out["estimate_text"] = "\n".join(estimate_lines(self.estimate, self.expected))
        if self.previous is not None and self.estimate is not None:
            out["cost_change"] = render_diff(diff_estimates(self.previous, self.estimate), hours)
        return out

    def text(self, hours: Decimal, limit: int = 50) -> list[str]:
        head = f"== {self.team}: {self.status.replace('-', ' ')}"
        if self.error:
            return [f"{head}: {self.error}"]
        counts = {"create": 0, "update": 0, "replace": 0, "delete": 0}
        for c in self.changes:
            sym = c.split(" ", 1)[0]
            key = {"+": "create", "~": "update", "-": "delete"}.get(sym, "replace")
            counts[key] += 1
        if self.changes:
            head += " (" + ", ".join(f"{n} to {k}" for k, n in counts.items() if n) + ")"
        lines = [head]
        if self.new_team and self.changes:
            lines.append("  a new team: every resource is created (`labctl render` writes the files to read)")
        else:
            lines += [f"  {c}" for c in self.changes[:limit]]
            if len(self.changes) > limit:
                lines.append(f"  ... {len(self.changes) - limit} more")
        if self.estimate is not None:
            lines += [f"  {x}" for x in estimate_lines(self.estimate, self.expected)]
        if self.previous is not None and self.estimate is not None:
            diff = render_diff(diff_estimates(self.previous, self.estimate), hours)
            if diff:
                lines.append("  cost change:")
                lines += [f"    {x}" for x in diff.splitlines()]
        if self.over_budget and self.estimate is not None and self.budget_usd is not None:
            lines.append(f"  ! over budget: expected {fmt_usd(self.estimate.total()[1])} over the session, "
                         f"budget {fmt_usd(self.budget_usd)}")
        return lines


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

    @property
    def over_budget(self) -> list[TeamPlan]:
        return [t for t in self.teams if t.over_budget]

    def as_dict(self) -> dict[str, Any]:
        lo, mid, hi = self.totals()
        return {"cohort": self.cohort, "session_hours": str(self.hours), "seconds": round(self.seconds, 1),
                "cohort_estimate_usd": {"min": str(lo), "desired": str(mid), "max": str(hi)},
                "over_budget": [t.team for t in self.over_budget],
                "teams": [t.as_dict(self.hours) for t in self.teams]}

    def text(self) -> str:
        lines = [x for t in self.teams for x in t.text(self.hours)]
        lo, mid, hi = self.totals()
        n = len([t for t in self.teams if t.estimate is not None])
        lines.append(f"cohort {self.cohort}, {plural(n, 'team')}, {self.hours.normalize():f} h: {fmt_usd(lo)} (min), "
                     f"{fmt_usd(mid)} (expected), {fmt_usd(hi)} (max)")
        over = self.over_budget
        if over:
            lines.append(f"! {plural(len(over), 'team')} expected over budget: {', '.join(t.team for t in over)}")
        return "\n".join(lines)


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
        changes = [change_line(rc["change"]["actions"], rc["address"]) for rc in doc.get("resource_changes", [])
                   if rc["change"]["actions"] not in (["no-op"], ["read"])]
        spec = cohort.team(name)
        use = team_expected_use(spec)
        est = estimate_team(doc, cohort, name, hours, catalog, use)
        previous = None
        prior = (doc.get("prior_state") or {}).get("values")
        if has_state and prior:
            previous = estimate_team({"planned_values": prior}, cohort, name, hours, catalog,
                                     manifests_expected_use(d / "k8s", prior))
        status = "would-change" if res.returncode == 2 else "no-changes"
        board.update(name, phase=status)
        return TeamPlan(name, status, changes, est, previous, budget_usd=spec.budget_usd, expected=use,
                        new_team=not has_state)
    except Exception as exc:  # noqa: BLE001 - one team's failure must not stop the others
        board.update(name, phase="failed", note=str(exc)[:100])
        return TeamPlan(name, "failed", error=str(exc))
