"""Terraform's S3 state lock of a team, from the facilitator's side: who holds it, and releasing
one a killed run left (``labctl team unlock TEAM --cohort C``). The lock itself is Terraform's
(labctl.ops.remote_state explains the layout); labctl never writes or deletes the lock object
itself, it asks terraform (``force-unlock``), which checks the lock id."""

from __future__ import annotations

from pathlib import Path

from labctl.aws import state_store
from labctl.errors import RefusedError
from labctl.ops import remote_state
from labctl.ops.common import prepare, resolve_cohort_id
from labctl.ops.target import connect_recorded
from labctl.state import StateDir
from labctl.tf import argv as A


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
        ctx = prepare(state_dir, cohort_id, conn)
        ctx.ensure_init(team)
        res = ctx.tf(team).run(A.force_unlock(holder.id))
        if not res.ok:
            raise RefusedError(f"team {team}: terraform force-unlock failed: {remote_state.last_line(res.stderr)}")
        cs.audit("team-unlock", "ok", team=team, lock_id=holder.id, holder=holder.who, since=holder.created)
        return f"released team {team}'s state lock held by {holder.describe()}"
