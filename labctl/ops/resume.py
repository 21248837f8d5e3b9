"""Teams whose last apply did not finish: the ``applying`` marker, and what is done before such a
team is applied again.

Every apply of a team (`up`, batched or alone, and `team apply`) records ``applying`` in the
team's entry of meta.json before terraform starts, and clears it once terraform has finished on
its own. A team still marked at the next apply was interrupted (a killed laptop, an OOM kill, a
signal): its state may lack what terraform created in its last seconds. Before applying it again,
:func:`reconcile_interrupted` lists the cohort by tag and name, and imports into the team's state
or deletes what the state lacks (labctl.ops.reconcile decides which), saying so per resource in
the audit log, so that nothing is created twice.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from labctl import naming
from labctl.aws.accounts import inventory_in, sweep_in
from labctl.aws.inventory import Resource
from labctl.aws.sweep import plan_sweep
from labctl.aws.walker import Walker
from labctl.errors import LabctlError
from labctl.ops import batch as batches
from labctl.ops import reconcile, remote_state, state_lock
from labctl.ops.common import RunContext
from labctl.render.terraform import tfvars
from labctl.spec.load import ResolvedCohort
from labctl.state import CohortState, now, write_atomic
from labctl.tf import state as tfstate
from labctl.tf.runner import Result


def mark_applying(cs: CohortState, names: list[str]) -> None:
    """Recorded before terraform starts to apply, cleared once it has finished on its own: a team
    still marked at the next apply was interrupted, and its state may lack what it created last."""
    for name in names:
        cs.set_team(name, applying=now().isoformat())


def finished(res: Result) -> dict[str, Any]:
    """The marker's update once terraform returned: cleared unless it was stopped from outside
    (its state was then written on a signal, and may be older than what it created)."""
    return {} if (res.cancelled or res.timed_out) else {"applying": None}


def interrupted(cs: CohortState, names: list[str]) -> list[str]:
    """Which of ``names`` carry the marker: their last apply did not finish."""
    meta = cs.meta()
    return [n for n in names if meta.team(n).applying]


def reconcile_interrupted(ctx: RunContext, cohort: ResolvedCohort, names: list[str], dry_run: bool = False
                          ) -> tuple[dict[str, reconcile.Reconciliation], dict[str, str]]:
    """Import or delete what the interrupted applies of ``names`` left outside their states, and
    say so per resource in the audit log. Returns what was done per team, and the teams that must
    not be applied now (with why): their leftovers could not be listed or removed."""
    cs = ctx.cohort_state
    refused: dict[str, str] = {}
    # State in S3: a lock this state directory's own killed run provably left is released first
    # (labctl.ops.state_lock says how it is proven), and said so; any other lock is waited for.
    took = {n: line for n in names if (line := state_lock.take_over_stale(ctx, n, dry_run))}
    # A terraform that outlived the labctl that started it (killed alone: terraform, in its own
    # session, goes on) is still creating: wait for it to finish and save, as recover() does for
    # batches, before taking anything for left behind.
    for name in names:
        if not batches.wait_unlocked(cs.team_dir(name) / tfstate.STATE_FILE, batches.LOCK_WAIT_S):
            refused[name] = (f"terraform is still applying it (its state is locked after {batches.LOCK_WAIT_S:.0f} s); "
                             "wait for it to finish, then run `labctl up` again")
        elif not (dry_run and name in took) and (held := remote_state.settle(cs, ctx.conn, name, batches.LOCK_WAIT_S)):
            refused[name] = held
    names = [n for n in names if n not in refused]
    try:
        targets = ctx.conn.aws_accounts()      # per-team accounts: every team's own
        found = inventory_in(targets, cohort.id)
    except (LabctlError, OSError) as exc:
        why = (f"its last apply was interrupted and what it left could not be listed ({exc}); nothing was "
               "applied, so nothing is created twice: run `labctl up` again")
        return {}, {**refused, **{n: why for n in names}}
    out: dict[str, reconcile.Reconciliation] = {}
    listed = list(found.resources) + [replace(r, account=key or None) for key, target in sorted(targets.items())
                                      for r in _untagged_buckets(target, cohort.id, names, found.resources)]
    for name in names:
        state, note = restore_cut_state(cs, name, dry_run)
        keys, enabled = reconcile.node_group_keys(tfvars(cohort, cohort.team(name), ctx.conn.provider))
        found_here = reconcile.orphans(listed, tfstate.ids(state), [name])
        out[name] = reconcile.Reconciliation(name, reconcile.plan(cohort.id, name, found_here, keys, enabled),
                                             dry_run=dry_run, notes=[x for x in (took.get(name), note) if x])
    if dry_run:
        return out, {}
    deletes = [s.resource for rec in out.values() for s in rec.deletes]
    failed: dict[str, list[str]] = {}
    if deletes:
        for o in sweep_in(targets, plan_sweep(deletes), dry_run=False).outcomes:
            if o.status == "failed":
                failed.setdefault(o.resource.team or "", []).append(f"{o.resource.describe()}: {o.reason}")
    for name, rec in out.items():
        rec.failed = failed.get(name, [])
        reconcile.write_imports(cs.team_dir(name), rec.steps)
        cs.audit("reconcile", "failed" if rec.failed else "ok", team=name,
                 imported=[f"{s.resource.describe()} -> {s.address}" for s in rec.imports],
                 deleted=[s.resource.describe() for s in rec.deletes if s.resource.describe() not in
                          {f.split(": ", 1)[0] for f in rec.failed}],
                 failed=rec.failed)
        if rec.failed:
            reconcile.clear_imports(cs.team_dir(name))
            refused[name] = ("its last apply was interrupted and what it left could not all be deleted ("
                             + "; ".join(rec.failed[:3]) + "); nothing was applied: remove it "
                             f"(`labctl sweep {cs.id} --dry-run` lists it), then run `labctl up` again")
    return out, refused


def restore_cut_state(cs: CohortState, name: str, dry_run: bool = False) -> tuple[dict[str, Any] | None, str | None]:
    """The team's state to reconcile against, and a line when it had to be mended.

    terraform rewrites its local state file in place, so a kill that lands while it saves leaves
    the file empty or cut off. It is set aside (kept for inspection) and terraform's own backup,
    the state it had saved before that write, takes its place: what was created since is then
    found like any other leftover and imported or deleted. With no readable backup the team's
    resources are all in no state, and all are found that way. A dry run reads, and moves nothing."""
    path = cs.team_dir(name) / tfstate.STATE_FILE
    try:
        return tfstate.read(path), None
    except tfstate.StateUnreadable as exc:
        reason = exc.reason
    backup = path.with_name(path.name + ".backup")
    restored = tfstate.read_or_none(backup)
    if dry_run:
        return restored, (f"would set aside its state ({reason}) and reconcile against "
                          + ("terraform's backup of it" if restored is not None else "no state"))
    aside = tfstate.set_aside(path)
    if restored is not None:
        write_atomic(path, backup.read_text())
    cs.audit("recover", "unreadable", team=name, reason=reason, set_aside=str(aside),
             restored_from=str(backup) if restored is not None else None)
    return restored, (f"its state was unreadable ({reason}): set aside as {aside.name}, "
                      + ("terraform's backup of it put in its place" if restored is not None
                         else "and it had no readable backup: all it holds is found by tag and name"))


def _untagged_buckets(target: Any, cohort: str, names: list[str], found: Any) -> list[Resource]:
    """The teams' checkpoint buckets that exist without their tags: the aws provider creates a
    bucket and tags it in a second call, so a kill between the two leaves a bucket that no tag
    finds, under the team's own (deterministic) name."""
    tagged = {r.id for r in found if r.type == "s3:bucket"}
    existing = {b.get("Name") for b in Walker(target, cohort).buckets()}
    out = []
    for name in names:
        bucket = naming.bucket_name(cohort, name)
        if bucket in existing and bucket not in tagged:
            out.append(Resource(service="s3", type="s3:bucket", id=bucket, name=bucket, team=name,
                                arn=f"arn:aws:s3:::{bucket}", matched_by="name"))
    return out
