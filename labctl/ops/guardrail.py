"""`labctl guardrail`: warn a team whose burn rate would pass its budget before the window ends;
past ``threshold`` percent of its budget, scale its GPU node groups to zero (EKS
UpdateNodegroupConfig min=0 desired=0; max is kept, as EKS requires max >= 1). ``dry_run`` says
what it would do and changes nothing. Every action (not a dry run) goes to the cohort's audit log
and, as an event, to the store, so the debrief shows it.

`labctl collect --every` runs it after each pass (:class:`GuardrailOptions`); there a team still
heading over budget is reported every pass, but logged again only after ``rewarn_after``, so a
loop every minute does not fill the audit log and the debrief with the same warning.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from labctl.aws import eks
from labctl.aws.session import AwsError, AwsTarget
from labctl.ops.common import resolve_cohort_id
from labctl.ops.live import live_status
from labctl.state import StateDir, now
from labctl.telemetry.store import Event, Store
from labctl.tf import state as tfstate
from labctl.ops.target import Connection, connect_recorded

DEFAULT_THRESHOLD_PCT = Decimal(90)
DEFAULT_REWARN_AFTER = timedelta(minutes=30)
SOURCE = "labctl"
WARNING_EVENT = "guardrail-warning"


@dataclass(frozen=True)
class GuardrailOptions:
    """How `collect` runs the guardrail after a pass (the same knobs as `labctl guardrail`)."""

    threshold_pct: Decimal = DEFAULT_THRESHOLD_PCT
    dry_run: bool = False
    rewarn_after: timedelta | None = DEFAULT_REWARN_AFTER


@dataclass
class Action:
    team: str
    kind: str                 # warn | scale-to-zero | already-zero | failed
    detail: str
    nodegroup: str | None = None
    done: bool = False


@dataclass
class GuardrailReport:
    cohort: str
    threshold_pct: str
    dry_run: bool
    actions: list[Action] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def gpu_nodegroups(cs: Any, team: str, target: AwsTarget, cluster: str) -> list[str]:
    """GPU node groups of a team: Terraform's outputs when present, else the cluster's node groups
    whose name ends in a GPU pool (``...-gpu_on_demand`` / ``...-gpu-spot``)."""
    try:
        groups = tfstate.team_outputs(cs.team_dir(team)).get("node_groups") or {}
        names = [g["name"] for pool, g in sorted(groups.items()) if pool.startswith("gpu")]
        if names:
            return names
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        pass
    listed = eks.list_nodegroups(target, cluster, emulator=False)
    return [n for n in listed if "gpu" in n.replace("_", "-").split(f"{cluster}-", 1)[-1]]


def _last_warnings(cs: Any) -> dict[str, datetime]:
    """Per team, when the guardrail last logged a warning (from the store's events)."""
    with Store.for_cohort(cs.root) as store:
        out: dict[str, datetime] = {}
        for e in store.events(kind=WARNING_EVENT):
            if e.source == SOURCE and (e.team not in out or e.ts > out[e.team]):
                out[e.team] = e.ts
    return out


def guardrail(state_dir: Path, cohort_ref: str | Path, *, threshold_pct: Decimal = DEFAULT_THRESHOLD_PCT,
              dry_run: bool = False, rewarn_after: timedelta | None = None, target: AwsTarget | None = None,
              at: datetime | None = None) -> GuardrailReport:
    """``rewarn_after``: a warning already logged for a team within this long is reported, not
    logged again (None: log every warning, as a one-off `labctl guardrail` does)."""
    cohort_id = resolve_cohort_id(cohort_ref, state_dir)
    cs = StateDir(state_dir).existing_cohort(cohort_id)
    st = live_status(state_dir, cohort_id, at=at)
    report = GuardrailReport(cohort_id, str(threshold_pct), dry_run)
    events: list[Event] = []
    warned = _last_warnings(cs) if rewarn_after is not None else {}
    conn: Connection | None = None
    for t in st.teams:
        if t.budget_usd is None or t.budget_used_pct is None:
            continue
        used = Decimal(t.budget_used_pct)
        if t.state in ("at-risk", "over") and used < threshold_pct:
            a = Action(t.team, "warn", f"cost ${t.cost_usd} ({used}% of ${t.budget_usd}), burning ${t.burn_usd_per_hour}/h: "
                                       f"projected ${t.projected_usd} by the window's end")
            report.actions.append(a)
            last = warned.get(t.team)
            if last is not None and rewarn_after is not None and now() - last < rewarn_after:
                a.detail += (f" (already logged at {last.isoformat()[:19]}Z; logged again at most every "
                             f"{int(rewarn_after.total_seconds() // 60)} min)")
                continue
            if not dry_run:
                a.done = True
                cs.audit("guardrail", "warn", team=t.team, detail=a.detail)
                events.append(Event(t.team, now(), WARNING_EVENT, SOURCE, "", {"detail": a.detail}))
            continue
        if used < threshold_pct:
            continue
        if target is not None:
            where = target
        else:
            conn = conn or connect_recorded(cs.meta(), state_dir, start_emulator=False)
            where = conn.team_aws(t.team)        # per-team accounts: the team's own
        cluster = f"{cohort_id}-{t.team}"
        try:
            groups = gpu_nodegroups(cs, t.team, where, cluster)
        except AwsError as exc:
            report.actions.append(Action(t.team, "failed", f"listing node groups of {cluster}: {exc}"))
            continue
        for ng in groups:
            try:
                group = eks.describe_nodegroup(where, cluster, ng, emulator=False)
            except AwsError as exc:
                report.actions.append(Action(t.team, "failed", str(exc), ng))
                continue
            if group.min_size == 0 and group.desired_size == 0:
                report.actions.append(Action(t.team, "already-zero", "min 0 desired 0", ng, done=True))
                continue
            detail = (f"{used}% of ${t.budget_usd} used (threshold {threshold_pct}%): scale {ng} from "
                      f"min {group.min_size} desired {group.desired_size} to min 0 desired 0")
            a = Action(t.team, "scale-to-zero", detail, ng)
            report.actions.append(a)
            if dry_run:
                continue
            try:
                eks.set_nodegroup_size(where, cluster, ng, min_size=0, desired_size=0,
                                       max_size=max(group.max_size, 1), emulator=False)
            except AwsError as exc:
                a.kind, a.detail = "failed", f"{detail}: {exc}"
                cs.audit("guardrail", "failed", team=t.team, nodegroup=ng, detail=a.detail)
                continue
            a.done = True
            cs.audit("guardrail", "scale-to-zero", team=t.team, nodegroup=ng, detail=detail)
            events.append(Event(t.team, now(), "guardrail-scale-to-zero", SOURCE, ng, {"detail": detail}))
    if events:
        with Store.for_cohort(cs.root) as store:
            store.put_events(events)
    return report
