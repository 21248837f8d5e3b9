"""`labctl debrief`: read the cohort's store and spec, build the debrief, write it.

    DIR/debrief.html   self-contained page (inline SVG charts, no network)
    DIR/debrief.json   every figure the page shows
    DIR/focus.csv      the FOCUS 1.2 export of the same ledger
    DIR/focus.parquet  the same rows with FOCUS's column types (what FinOps tools ingest)
    DIR/ledger.csv     the plain ledger (labctl.cost.export): an entry a row, its price's provenance,
                       and the account it ran in (the team's own, or the facilitator's when known)

With ``billed`` (`--billed`), Cost Explorer's figures for the cohort's window are read through the
cohort's recorded target (a real account only when that target is ``aws``) and shown beside the
ledger's (labctl.cost.reconcile). Cost Explorer failing never stops the debrief: it is written
with one line saying why billed figures are unavailable.

:func:`load_inputs` is shared with the live view and the guardrail: the team list, budgets and
choices come from the cohort file copied into the state dir at `up` (with the lab it names);
the rows from the telemetry store.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from labctl import resources
from labctl.aws.pricing import billed_costs
from labctl.aws.session import AwsTarget
from labctl.cost.catalog import Catalog, load_catalog
from labctl.cost.export import ledger_csv
from labctl.cost.focus import FocusContext, focus_rows, write_csv, write_parquet
from labctl.cost.ledger import Ledger, unmetered
from labctl.cost.reconcile import BilledReport, billing_period, reconcile
from labctl.errors import LabctlError
from labctl.report import html, lesson
from labctl.report.model import (
    DebriefInputs,
    TeamPlan,
    as_of_from_rows,
    build_debrief,
    choices,
    ledger_for,
)
from labctl.spec.load import KNOB_SECTIONS
from labctl.spec.models import Cohort, Lab, Window
from labctl.spec.yamlsrc import load_yaml
from labctl.state import CohortState, StateDir, now, write_atomic
from labctl.telemetry import usage as tu
from labctl.telemetry.provisioned import items_of_state, read_state
from labctl.telemetry.store import Store
from labctl.ops import remote_state
from labctl.ops.target import connect_recorded, recorded_accounts


def team_plans(cs: CohortState) -> tuple[str, list[TeamPlan], datetime | None, datetime | None, list[str]]:
    """(lab, plans, window start, window end, notes) from the cohort file copy, else from meta."""
    meta = cs.meta()
    notes: list[str] = []
    if cs.spec_copy.exists():
        try:
            lab, teams, window = _read_spec(cs.spec_copy)
        except (LabctlError, ValueError, OSError) as exc:
            notes.append(f"{cs.spec_copy}: could not be read ({str(exc).splitlines()[0]}); no budgets or choices shown")
        else:
            base = lab.model_dump(mode="json")
            plans = []
            for name, budget, team_lab in teams:
                mine = team_lab.model_dump(mode="json")
                diff = choices({k: base[k] for k in KNOB_SECTIONS}, {k: mine[k] for k in KNOB_SECTIONS})
                plans.append(TeamPlan(name, budget, tuple(diff)))
            return lab.name, plans, window.start, window.ends_at, notes
    notes.append("no cohort file in the state directory: teams from meta.json, without budgets or choices")
    return meta.lab or "?", [TeamPlan(t) for t in meta.all_teams], meta.window_start, meta.window_end, notes


def _read_spec(path: Path) -> tuple[Lab, list[tuple[str, Decimal, Lab]], Window]:
    """The cohort file `up` copied, with each team's knobs merged onto its lab.

    The file was fully validated at `up`; this reads it without the region/offering checks of
    labctl.spec.load (they import moto's EC2 data, two seconds a debrief does not need).
    """
    cohort = Cohort.model_validate(load_yaml(path).data)
    lab_data = load_yaml(resources.labs_dir() / cohort.lab / "lab.yaml").data
    lab = Lab.model_validate(lab_data)
    teams = [(t.name, t.budget_usd if t.budget_usd is not None else lab.budget_usd,
              Lab.model_validate(_merge(lab_data, dict(t.knobs)))) for t in cohort.teams]
    return lab, teams, cohort.window


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_inputs(cs: CohortState, *, as_of: datetime | None = None, catalog: Catalog | None = None,
                live: bool = False) -> tuple[DebriefInputs, list[str]]:
    """Rows and plans of a cohort. ``as_of``: given, or for a live view the later of now and the
    last observation, else the last observation (a finished class is costed to its last sample)."""
    lab, plans, start, end, notes = team_plans(cs)
    with Store.for_cohort(cs.root) as store:
        lifecycle, samples, events = store.lifecycle(), store.samples_bulk(tu.REPORT_METRICS), store.events()
    last = as_of_from_rows(lifecycle, samples, events)
    if as_of is None:
        if live:
            as_of = max(now(), last) if last else now()
        else:
            as_of = last or (min(end, now()) if end else now())
    inp = DebriefInputs(cohort=cs.id, lab=lab, as_of=as_of, teams=tuple(plans), lifecycle=lifecycle,
                        samples=samples, events=events, catalog=catalog or load_catalog(),
                        window_start=start, window_end=end, generated_at=now())
    return lesson.with_lesson(inp, cs.root / "audit.log"), notes


def read_billed(state_dir: Path, cs: CohortState, inp: DebriefInputs, ledger: Ledger, *,
                target: AwsTarget | None = None) -> BilledReport:
    """Cost Explorer's figures per team for the cohort's window, lined up with the ledger; any
    failure (emulator down, no credentials, access denied) becomes ``unavailable`` with its reason."""
    start = inp.window_start or min((r.start for r in inp.lifecycle), default=None)
    if start is None:
        return BilledReport(requested=True, unavailable="the cohort has no window and no recorded resources to bill")
    period = billing_period(start, max(inp.window_end or inp.as_of, start))
    try:
        # Per-team accounts: each team account's own Cost Explorer (a member account sees its own
        # bill; the facilitator's may not be the payer); otherwise the one target.
        targets = ([target] if target is not None else
                   list(connect_recorded(cs.meta(), state_dir, start_emulator=False).aws_accounts().values()))
        billed = [b for t in targets for b in billed_costs(t, period[0], period[1], cohort=cs.id)]
    except LabctlError as exc:
        return BilledReport(requested=True, period=period, unavailable=str(exc).splitlines()[0] if str(exc) else
                            type(exc).__name__)
    except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
        return BilledReport(requested=True, period=period,
                            unavailable=f"unexpected Cost Explorer response ({type(exc).__name__}: {str(exc)[:120]})")
    rows = reconcile(ledger, billed, cohort=cs.id)
    return BilledReport(requested=True, rows=tuple(rows), period=period)


def _with_unmetered(ledger: Ledger, inp: DebriefInputs, cs: CohortState) -> Ledger:
    """The ledger, warning also about each item of a team's Terraform state that nothing recorded
    (labctl.cost.ledger.unmetered): a priced item with no usage is never a silent zero."""
    expected = {}
    for team in inp.teams:
        items = items_of_state(read_state(cs.team_dir(team.name)))
        if items.standing:
            expected[team.name] = items
    if not expected:
        return ledger
    known = {(w.team, w.resource_id) for w in ledger.warnings}
    extra = [w for w in unmetered(tu.usages(inp.lifecycle)[0], expected) if (w.team, w.resource_id) not in known]
    return dataclasses.replace(ledger, warnings=ledger.warnings + tuple(extra)) if extra else ledger


def write_debrief(state_dir: Path, cohort_id: str, out_dir: Path, *, as_of: datetime | None = None,
                  catalog: Catalog | None = None, billed: bool = False,
                  target: AwsTarget | None = None) -> dict[str, Any]:
    """Write debrief.html, debrief.json and focus.csv into ``out_dir``; returns paths + summary.
    ``billed``: add Cost Explorer's figures (``target``: where to read them, default the cohort's)."""
    cs = StateDir(Path(state_dir)).existing_cohort(cohort_id)
    inp, notes = load_inputs(cs, as_of=as_of, catalog=catalog)
    notes = notes + [n for n in [remote_state.refresh_for_reading(cs, Path(state_dir))] if n]    # state in S3: as it is now
    ledger = _with_unmetered(ledger_for(inp, session_only=True), inp, cs)
    bill = read_billed(Path(state_dir), cs, inp, ledger, target=target) if billed else BilledReport(requested=False)
    data = build_debrief(inp, ledger=ledger, billed=bill)
    if inp.window_start is not None:
        notes = notes + [f"costs cover the session from its start ({inp.window_start.isoformat()}): what ran "
                         "before it (provisioning with `labctl up`) is not in these figures; `labctl status` shows it"]
    data["notes"] = notes + data["notes"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"html": out_dir / "debrief.html", "json": out_dir / "debrief.json", "focus_csv": out_dir / "focus.csv",
             "focus_parquet": out_dir / "focus.parquet", "ledger_csv": out_dir / "ledger.csv"}
    write_atomic(paths["json"], json.dumps(data, separators=(",", ":"), default=str))
    write_atomic(paths["html"], html.render(data))
    sub_accounts = recorded_accounts(Path(state_dir), cs.id).teams     # per-team accounts: each team's own
    facilitator = remote_state.facilitator_account(cs) or ""       # shared mode: known from the state bucket's name
    rows = focus_rows(ledger, FocusContext(cohort=cs.id, lab=inp.lab, sub_accounts=sub_accounts,
                                           sub_account_id=facilitator or None), inp.catalog)
    write_atomic(paths["focus_csv"], write_csv(rows))
    write_atomic(paths["ledger_csv"], ledger_csv(ledger, accounts=sub_accounts, account=facilitator))
    part = paths["focus_parquet"].with_name(f".{paths['focus_parquet'].name}.{os.getpid()}.tmp")
    write_parquet(rows, part)
    os.replace(part, paths["focus_parquet"])
    cs.audit("debrief", "ok", out=str(out_dir), teams=len(data["teams"]))
    board = data["leaderboard"]
    summary = {
        "cohort": cs.id, "teams": len(data["teams"]), "as_of": data["as_of"],
        "total_cost_usd": data["totals"]["cost_usd"]["value"], "basis": data["provenance"]["cost_basis"],
        "leader": next((r["team"] for r in board if r["rank"] == 1), None),   # none without a completed run
        "completed_runs": data["totals"]["completed_runs"]["value"],
        "warnings": len(data["warnings"]),
        "over_budget": sorted(n for n, t in data["teams"].items() if t["within_budget"] is False),
        "billed": {k: data["billed"][k] for k in ("included", "reason", "total_usd", "estimated")},
    }
    return {**{k: str(v) for k, v in paths.items()}, "summary": summary}
