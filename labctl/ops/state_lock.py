"""Terraform's S3 state lock of a team, from the facilitator's side: who holds it, releasing one
a killed run left (``labctl team unlock TEAM --cohort C``), and taking over, without asking, one
that this state directory's own killed run provably left. The lock itself is Terraform's
(labctl.ops.remote_state explains the layout); labctl never writes or deletes the lock object
itself, it asks terraform (``force-unlock``), which checks the lock id.

When a lock is provably stale (:func:`stale`), like the cohort lock a killed command leaves
(labctl.state.CohortState.exclusive): all three hold, else the lock is only reported, and `up`
waits for it and then refuses, naming the holder and ``team unlock``:

1. the lock was written on this machine (terraform's ``Who`` is ``user@host``), so its ``Created``
   and the run's event times come from one clock;
2. the team's last ``apply`` or ``plan`` run in this state directory has ended: no live process
   holds its output file (labctl.tf.run_trace: terraform inherits the runner's flock on it);
3. that run reported work terraform does only while it holds the lock (refreshing, planning,
   applying a resource, summing up a plan) at or after the lock's ``Created``. A lock object lives
   from its creation until its release, and two cannot exist at once, so the lock that run held
   then is this one.

The same holds for a killed ``plan`` (`team plan`, or `up`'s plan of a team that has resources) as
for a killed ``apply``: both runs are traced alike. Every command that runs terraform on a team
takes such a lock over before it starts (:func:`take_over_all`: `up` for each team it plans or
applies, `team plan` and `team apply`, `down` before it destroys), so none waits out the lock
timeout (120 s) on its own dead run's lock. A dry run (`up --dry-run`, `down --dry-run`) says it
would release the lock and changes nothing; it does not plan that team, whose plan would wait on
the lock it just said it would release.
"""

from __future__ import annotations

import socket
from pathlib import Path

from labctl.aws import state_store
from labctl.errors import LabctlError, RefusedError
from labctl.ops import remote_state
from labctl.ops.common import RunContext, prepare, resolve_cohort_id
from labctl.ops.reconcile import Reconciliation
from labctl.ops.target import Connection, connect_recorded
from labctl.state import CohortState, StateDir
from labctl.tf import argv as A
from labctl.tf import run_trace


def holder_message(cohort_ref: str | Path, state_dir: Path, team: str) -> str | None:
    """Who holds ``team``'s lock and how to release it (None: a local-state cohort, or no lock)."""
    cs = StateDir(state_dir).existing_cohort(resolve_cohort_id(cohort_ref, state_dir))
    if remote_state.recorded(cs) is None:
        return None
    return remote_state.lock_message(cs, connect_recorded(cs.meta(), state_dir, start_emulator=False), team)


def unlock(cohort_ref: str | Path, state_dir: Path, team: str, lock_id: str | None = None) -> str:
    """Release a team's S3 state lock left by a run that was killed (``terraform force-unlock``).
    Without ``lock_id``, the lock the team holds now; with it, only that lock (a lock taken again
    meanwhile by a live run is left alone). Returns what was done."""
    cohort_id = resolve_cohort_id(cohort_ref, state_dir)
    cs = StateDir(state_dir).existing_cohort(cohort_id)
    rs = remote_state.recorded(cs)
    if rs is None:
        raise RefusedError(f"cohort {cohort_id} keeps its state in local files: terraform's lock there is the "
                           "kernel's and goes with the process that held it; nothing to release")
    with cs.exclusive(f"team unlock {team}"):
        conn = connect_recorded(cs.meta(), state_dir)
        holder = state_store.lock_holder(conn.aws(), rs.bucket, team)
        if holder is None:
            return f"team {team}'s state is not locked"
        if lock_id is not None and lock_id != holder.id:
            raise RefusedError(f"team {team}'s state is locked by {holder.describe()}, not by lock {lock_id} "
                               "(released already, or taken again since); nothing released")
        release(prepare(state_dir, cohort_id, conn), team, holder)
        cs.audit("team-unlock", "ok", team=team, lock_id=holder.id, holder=holder.who, since=holder.created)
        return f"released team {team}'s state lock held by {holder.describe()}"


def release(ctx: RunContext, team: str, holder: state_store.LockHolder) -> None:
    """``terraform force-unlock`` of exactly ``holder``'s lock (terraform checks the id)."""
    ctx.ensure_init(team)
    res = ctx.tf(team).run(A.force_unlock(holder.id))
    if not res.ok:
        raise RefusedError(f"team {team}: terraform force-unlock failed: {remote_state.last_line(res.stderr)}")


def stale(cs: CohortState, conn: Connection, team: str) -> state_store.LockHolder | None:
    """The holder of ``team``'s S3 lock when it is provably a lock this state directory's own
    killed run left (the module docstring's three conditions); None otherwise, or when unlocked."""
    rs = remote_state.recorded(cs)
    if rs is None:
        return None
    holder = state_store.lock_holder(conn.aws(), rs.bucket, team)
    return holder if holder is not None and left_by_dead_run(holder, cs.team_dir(team)) else None


def left_by_dead_run(holder: state_store.LockHolder, team_dir: Path) -> bool:
    """Whether ``holder``'s lock is provably the one the last ``apply`` or ``plan`` run in
    ``team_dir`` took and left when it was killed (the module docstring's three conditions)."""
    created = run_trace.parse_time(holder.created)
    if created is None or holder.who.rpartition("@")[2] != socket.gethostname():
        return False
    for command in ("apply", "plan"):
        out = run_trace.output_file(team_dir, command)
        worked = run_trace.last_locked_event_at(out)
        if worked is not None and created <= worked and run_trace.ended(out):
            return True
    return False


def take_over_stale(ctx: RunContext, team: str, dry_run: bool = False) -> str | None:
    """Release ``team``'s S3 lock if this state directory's own killed run provably left it, and
    say so (audited as ``state-lock taken-over``); None when there was nothing to take over."""
    cs = ctx.cohort_state
    holder = stale(cs, ctx.conn, team)
    if holder is None:
        return None
    what = (f"its state lock, left by {holder.describe()}, whose terraform on this machine was killed "
            "(its run ended holding the lock)")
    if dry_run:
        return f"would release {what}"
    try:
        release(ctx, team, holder)
    except LabctlError as exc:          # left held: the caller waits for it, then names it and `team unlock`
        cs.audit("state-lock", "failed", team=team, lock_id=holder.id, holder=holder.who, error=str(exc))
        return None
    cs.audit("state-lock", "taken-over", team=team, lock_id=holder.id, holder=holder.who, since=holder.created)
    return f"released {what}"


def take_over_all(ctx: RunContext, teams: list[str], dry_run: bool = False) -> dict[str, str]:
    """:func:`take_over_stale` for each of ``teams``: {team: what was done (or would be)} for the
    teams whose lock this state directory's own killed run provably left."""
    if remote_state.recorded(ctx.cohort_state) is None:
        return {}
    return {team: line for team in teams if (line := take_over_stale(ctx, team, dry_run))}


def before_plans(ctx: RunContext, teams: list[str], dry_run: bool, reconciled: dict[str, Reconciliation],
                 refused: dict[str, str]) -> None:
    """`up`, before it plans or applies ``teams``: each provably stale lock is taken over, and said
    in the team's output (added to ``reconciled``, unless the crash recovery has said it already).
    A dry run says it would, and puts the team in ``refused``: it is not planned, since its plan
    would wait on the lock (up to 120 s), then fail on it."""
    for team, line in take_over_all(ctx, [t for t in teams if t not in refused], dry_run).items():
        rec = reconciled.setdefault(team, Reconciliation(team, dry_run=dry_run))
        if line not in rec.notes:
            rec.notes.insert(0, line)
        if dry_run:
            refused[team] = (f"not planned: {line}; its plan would wait on that lock. `labctl up` releases it, "
                             "then plans and applies")
