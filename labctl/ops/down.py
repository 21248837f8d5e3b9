"""`labctl down`: destroy every team in parallel, sweep what Terraform forgot, prove zero is left.

Order per cohort: drain the clusters; sweep what carries the cohort's tags but is in no state (an
interrupted apply's last creations: a subnet terraform does not know keeps its VPC from being
deleted, and terraform would retry that delete for twenty minutes); terraform destroy, several
teams per command as `up` creates them (labctl.ops.down_batch; the teams a failed batch leaves are
destroyed alone), bounded in time (DESTROY_TIMEOUT_S; alone, falling back to -refresh=false when
refreshing fails); one sweep over every resource type the modules create, found by the cohort tag
per service, for whatever is left; then a final inventory. Each team gets a teardown report: what
was destroyed, what was swept before and after, what another command removed meanwhile, and what
is left (an empty list when clean), including what an earlier `down` stopped partway had removed
(labctl.ops.teardown_journal). Ctrl-C or SIGTERM stops terraform gracefully and exits 130.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labctl.aws.accounts import inventory_in, sweep_in
from labctl.aws.sweep import plan_sweep
from labctl.errors import LabctlError, NotFoundError
from labctl.k8s import kind
from labctl.ops import batch as batches
from labctl.ops import down_eks, reconcile, remote_state, state_lock
from labctl.ops.common import RunContext, prepare, resolve_cohort_id  # noqa: F401 - its callers' old home
from labctl.ops.down_batch import PER_TEAM_BYTES, can_batch, destroy_batch
from labctl.ops.interrupt import interruptible
from labctl.ops.parallel import default_in_flight, default_parallelism
from labctl.ops.progress import Board
from labctl.ops.target import connect_recorded
from labctl.ops.teardown_journal import Journal
from labctl.state import CohortState, StateDir, now, write_atomic
from labctl.telemetry.provisioned import record_team
from labctl.tf import argv as A
from labctl.tf import state as tfstate
from labctl.ops.clusters import DRAIN_TIMEOUT_S, drain_teams

COHORT_LEVEL = "(cohort)"

# How long one team's `terraform destroy` may run before labctl stops it (SIGINT, state saved) and
# leaves the rest to the sweep. An emulator deletes everything in seconds: 5 minutes means
# terraform is retrying something that will not go (DependencyViolation on a VPC). On AWS an
# EKS cluster and its node groups take 10-20 minutes to delete: 45 minutes leaves room for that.
DESTROY_TIMEOUT_S = {"embedded": 300.0, "localstack": 300.0, "aws": 2700.0}


@dataclass
class TeamTeardown:
    team: str
    destroy: str                       # destroyed | nothing-to-destroy | failed | timed-out | interrupted | skipped-stale-state
    destroyed: list[str] = field(default_factory=list)
    swept: list[str] = field(default_factory=list)           # by the sweeps before and after destroy
    swept_before: list[str] = field(default_factory=list)    # in no state: swept before destroying
    removed_elsewhere: list[str] = field(default_factory=list)   # gone meanwhile, by another command
    sweep_failed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    error: str | None = None
    report: str | None = None
    drained: list[str] = field(default_factory=list)     # cluster objects deleted before destroy
    # Of ``destroyed``, what went through the EKS API just before the destroy (labctl.ops.down_eks).
    deleted_through_eks_api: list[str] = field(default_factory=list)
    # Starts of earlier `down` runs stopped partway whose removals this report also lists.
    earlier_runs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DownReport:
    cohort: str
    dry_run: bool
    teams: list[TeamTeardown]
    left: list[str]
    unreadable: list[str]
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.left and not self.unreadable

    def as_dict(self) -> dict[str, Any]:
        return {"cohort": self.cohort, "dry_run": self.dry_run, "clean": self.clean,
                "seconds": round(self.seconds, 1), "left": self.left, "unreadable": self.unreadable,
                "notes": self.notes, "teams": {t.team: t.as_dict() for t in self.teams}}


def down(cohort_ref: str | Path, state_dir: Path, teams: list[str] | None = None, dry_run: bool = False,
         parallelism: int | None = None, quiet: bool = False, reason: str = "down",
         cluster_factory: Any = None, drain_timeout: float | None = None,
         batch_size: int | None = None) -> DownReport:
    """``batch_size``: teams per terraform destroy (default: as `up` sizes its batches; 1: one
    destroy per team)."""
    cohort_id = resolve_cohort_id(cohort_ref, state_dir)
    cs = StateDir(state_dir).existing_cohort(cohort_id)
    if dry_run:
        return _down(cs, state_dir, teams, True, parallelism, quiet, reason, cluster_factory, drain_timeout)
    cancel = threading.Event()
    with interruptible(cancel, f"labctl down {cohort_id}"):
        with cs.exclusive("down" if reason == "down" else f"down ({reason})"):     # one writer per cohort
            return _down(cs, state_dir, teams, False, parallelism, quiet, reason, cluster_factory, drain_timeout,
                         cancel, batch_size)


def _down(cs: CohortState, state_dir: Path, teams: list[str] | None, dry_run: bool, parallelism: int | None,
          quiet: bool, reason: str, cluster_factory: Any, drain_timeout: float | None,
          cancel: threading.Event | None = None, batch_size: int | None = None) -> DownReport:
    cohort_id = cs.id
    meta = cs.meta()
    if not meta.recorded:
        raise NotFoundError(f"cohort {cohort_id!r} has no recorded deployment in {state_dir}")
    conn = connect_recorded(meta, state_dir)
    # Nothing unreadable may block teardown: a state cut off by a full disk is set aside (and said
    # so), and what it held is found by the sweep, by tag.
    notes: list[str] = []
    ctx = prepare(state_dir, cohort_id, conn, on_unreadable=notes.append)
    if cancel is not None:
        ctx.cancel = cancel         # the signal handler's event reaches every terraform run
    known = sorted(set(meta.all_teams) | set(cs.teams_with_state()))
    chosen = [t for t in known if not teams or t in teams]
    unknown = [t for t in (teams or []) if t not in known]
    if unknown:
        raise NotFoundError(f"cohort {cohort_id!r} has no {'team' if len(unknown) == 1 else 'teams'} {', '.join(unknown)}")
    notes += [f"{t}: {line}" for t, line in state_lock.take_over_all(ctx, chosen, dry_run).items()]   # S3: own dead runs' locks
    for team in chosen:
        state_file = cs.team_dir(team) / tfstate.STATE_FILE
        try:
            tfstate.read(state_file)
        except tfstate.StateUnreadable as exc:
            if dry_run:
                notes.append(f"{team}: its Terraform state is unreadable ({exc.reason}); `down` sets it aside and sweeps")
                continue
            aside = tfstate.set_aside(state_file)
            cs.audit("down", "state-unreadable", team=team, reason=exc.reason, set_aside=str(aside))
            notes.append(f"{team}: its Terraform state was unreadable ({exc.reason}); set aside as {aside}, "
                         "its resources are swept by tag")
    stale = conn.target == "embedded" and meta.emulator_boot_id not in (None, conn.emulator_boot_id)
    started = time.monotonic()

    if dry_run:
        report = _dry_run(ctx, cs, chosen, stale, started)
        carried = Journal(cs.root, "").earlier()
        if carried:
            notes.append(f"an earlier `down` stopped partway had removed {len(carried)} resources and cluster objects; "
                         "the next `down`'s proofs list them")
        report.notes = notes + report.notes
        return report
    # What an earlier `down` stopped partway had removed goes into this run's proofs; what this
    # run removes is written down as it goes, for the next one should this one be stopped too.
    journal = Journal(cs.root, now().isoformat())
    earlier = journal.earlier()

    # Ordered drain: while the clusters still run, delete what their controllers made in the
    # cloud behind Terraform's back (LoadBalancer Services, PVCs), then destroy.
    drain_timeout = DRAIN_TIMEOUT_S if drain_timeout is None else drain_timeout
    drain = drain_teams(cs, meta, [t for t in chosen if cs.has_resources(t)], factory=cluster_factory,
                        timeout=drain_timeout)
    notes += list(drain.notes) + [f"drain: {u}" for u in drain.unreadable]
    notes += [f"drain: {t}: still present after {int(drain_timeout)}s: {', '.join(r)}" for t, r in drain.remaining.items()]
    for team, objs in drain.drained.items():
        journal.record(team, "drained", objs)

    # What is tagged but in no state goes first: terraform cannot delete a VPC around a subnet it
    # does not know. Everything listed now is accounted for at the end (destroyed, swept, or
    # removed meanwhile by another command).
    targets = conn.aws_accounts()     # one per team account (accounts: per-team), else the one
    before = inventory_in(targets, cohort_id)
    in_scope = [r for r in before.resources if not teams or r.team in chosen]
    states = {t: None if stale else tfstate.read_or_none(cs.team_dir(t) / tfstate.STATE_FILE) for t in chosen}
    state_ids = {t: tfstate.ids(state) for t, state in states.items()}
    all_ids = set().union(*state_ids.values()) if state_ids else set()
    first = reconcile.orphans(in_scope, all_ids, for_teardown=True)
    swept_before = sweep_in(targets, plan_sweep(first), dry_run=False) if first else None
    _record_swept(journal, "swept_before", swept_before)
    eks_first = _delete_eks_first(conn, states, journal, notes)
    timeout = DESTROY_TIMEOUT_S.get(conn.target, DESTROY_TIMEOUT_S["aws"])
    with Board(f"down {cohort_id} ({conn.target})", chosen, quiet=quiet) as board:
        results = _destroy_all(ctx, cs, chosen, stale, board, timeout, parallelism, batch_size, journal)
    by_team = {r.team: r for r in results}
    for team, gone in eks_first.items():
        if team in by_team and gone.addresses:
            by_team[team].deleted_through_eks_api = gone.addresses
            by_team[team].destroyed[:0] = [a for a in gone.addresses if a not in by_team[team].destroyed]
    for t in chosen:   # what the destroy removed leaves the lifecycle (labctl.telemetry.provisioned)
        record_team(cs.root, cs.team_dir(t), t, meta.region, now())
    for team, objs in drain.drained.items():
        if team in by_team:
            by_team[team].drained = objs

    found = inventory_in(targets, cohort_id)
    resources = [r for r in found.resources if not teams or r.team in chosen]
    sweep = sweep_in(targets, plan_sweep(resources), dry_run=False)
    _record_swept(journal, "swept", sweep)
    gone_elsewhere: list[Any] = []
    # A volume the sweep found gone after it terminated the volume's instance went with it
    # (DeleteOnTermination): it was swept, not removed by another command.
    terminated = {o.resource.id for result in (swept_before, sweep) for o in (result.outcomes if result else ())
                  if o.status == "deleted" and o.resource.type == "ec2:instance"}
    for when, result in (("before", swept_before), ("after", sweep)):
        for o in result.outcomes if result is not None else ():
            t = by_team.setdefault(o.resource.team or COHORT_LEVEL, TeamTeardown(o.resource.team or COHORT_LEVEL, "n/a"))
            if o.status == "already-gone" and o.resource.type == "ec2:volume" and o.resource.parent in terminated:
                t.swept.append(f"{o.resource.describe()} (with instance {o.resource.parent})")
            elif o.status == "deleted":
                t.swept.append(o.resource.describe())
                if when == "before":
                    t.swept_before.append(o.resource.describe())
            elif o.status == "failed":
                t.sweep_failed.append(f"{o.resource.describe()}: {o.reason}")
            elif o.status == "already-gone":
                gone_elsewhere.append(o.resource)

    final = inventory_in(targets, cohort_id)
    left_all = [r for r in final.resources if not teams or r.team in chosen]
    # What terraform creates, listed at the start, gone at the end, and neither destroyed (in a
    # state) nor swept here: another command removed it meanwhile (a `labctl sweep` from another
    # shell, the console). What EKS made for a node group goes with it and is not counted.
    still = {(r.type, r.id) for r in final.resources} | {(r.type, r.id) for r in final.pending_deletion}
    for r in [*(r for r in in_scope if r.type in reconcile.MODULE_TYPES), *gone_elsewhere]:
        key = r.team or COHORT_LEVEL
        t = by_team.setdefault(key, TeamTeardown(key, "n/a"))
        if ((r.type, r.id) in still or r.describe() in t.swept or r.describe() in t.removed_elsewhere
                or reconcile.known(r, state_ids.get(r.team or "", set()))):
            continue
        t.removed_elsewhere.append(r.describe())
    for r in left_all:
        key = r.team or COHORT_LEVEL
        by_team.setdefault(key, TeamTeardown(key, "n/a")).left.append(r.describe())
    if earlier:
        _carry(by_team, earlier)
        notes.append(f"an earlier `down` stopped partway ({', '.join(sorted({e.run for e in earlier}))}) had removed "
                     f"{len(earlier)} resources and cluster objects; the proofs list them too")
    proof_at = now().isoformat()
    cs.reports_dir.mkdir(parents=True, exist_ok=True)
    for t in by_team.values():
        t.report = str(_write_proof(cs, t, {
            "cohort": cohort_id, "team": t.team, "finished_at": proof_at, "reason": reason,
            "target": conn.target, "account": conn.accounts.account_of(t.team),
            "destroy": t.destroy, "drained": t.drained, "destroyed": t.destroyed,
            "deleted_through_eks_api": t.deleted_through_eks_api, "swept": t.swept,
            "swept_before_destroy": t.swept_before, "removed_elsewhere": t.removed_elsewhere,
            "sweep_failed": t.sweep_failed, "final_inventory": t.left,
            "unreadable_services": list(final.unreadable), "clean": not t.left and not final.unreadable,
            # KMS keys go only after a waiting period (no charge meanwhile): not left, but named.
            "pending_deletion": [r.describe() for r in final.pending_deletion if (r.team or COHORT_LEVEL) == t.team],
            "earlier_runs": t.earlier_runs,
        }))
    journal.clear()         # every proof now lists what it held
    if not teams and meta.k8s == "kind" and not left_all:
        notes.append(_delete_kind(cohort_id))
    report = DownReport(cohort_id, False, sorted(by_team.values(), key=lambda t: t.team),
                        [r.describe() for r in left_all], list(final.unreadable), time.monotonic() - started, notes)
    if not teams:
        cs.update_meta(status="down" if report.clean else "down-with-leftovers", down_at=proof_at)
    cs.audit("down", "clean" if report.clean else "leftovers", reason=reason, teams=chosen,
             left=report.left)
    # state: {backend: s3}: only now, with every proof written, may the state bucket go.
    report.notes += remote_state.after_down(ctx.tf, cs, conn, chosen, whole_cohort=not teams, clean=report.clean)
    return report


def _write_proof(cs: CohortState, t: TeamTeardown, proof: dict[str, Any]) -> Path:
    """A teardown proof is evidence: a later `down` never overwrites it. One that found nothing to
    do writes nothing and points at the proof already there; one that did something keeps the
    earlier proof beside it, named by the time it was written."""
    path = cs.reports_dir / f"teardown-{t.team.strip('()')}.json"
    noop = (not (t.destroyed or t.drained or t.swept or t.sweep_failed or t.left or t.removed_elsewhere)
            and t.destroy not in ("failed", "timed-out"))
    if path.exists():
        if noop and not proof["unreadable_services"]:
            return path
        try:
            earlier = json.loads(path.read_text()).get("finished_at", "")
        except ValueError:
            earlier = ""
        stamp = "".join(ch for ch in earlier if ch.isalnum()) or str(int(time.time()))
        path.replace(path.with_name(f"{path.stem}.{stamp}.json"))
    write_atomic(path, json.dumps(proof, indent=2, sort_keys=True))
    return path


def _delete_kind(cohort_id: str) -> str:
    """Every team is gone from the cloud side: the cohort's kind cluster goes too."""
    try:
        gone = kind.delete_cluster(cohort_id)
    except LabctlError as exc:
        return f"kind cluster {kind.cluster_name(cohort_id)} not deleted: {exc}"
    return f"kind cluster {kind.cluster_name(cohort_id)} {'deleted' if gone else 'was already gone'}"


def _destroy_all(ctx: RunContext, cs: CohortState, chosen: list[str], stale: bool, board: Board,
                 timeout_s: float | None, parallelism: int | None, batch_size: int | None,
                 journal: Journal) -> list[TeamTeardown]:
    """Destroy every chosen team: those with resources in batches (one terraform command for
    several, sized as `up` sizes its batches: labctl.ops.down_batch), the others (nothing to
    destroy, a stale state) alone. ``batch_size`` 1 means one destroy per team."""
    live = [] if stale else [t for t in chosen if cs.has_resources(t)]
    if len(live) >= 2 and batch_size != 1 and can_batch(cs):
        width = parallelism or default_in_flight(len(live), PER_TEAM_BYTES if ctx.conn.accounts.per_team
                                                 else batches.PER_TEAM_SHARING_A_PROVIDER_BYTES)
        groups = batches.plan_batches(live, width, batch_size)
        workers = min(len(groups), max(2, width // max(len(g) for g in groups)))    # two batches at least
    else:
        groups, workers = [[t] for t in live], parallelism or default_parallelism(max(1, len(chosen)))
    groups += [[t] for t in chosen if t not in live]

    def record(team: str, address: str) -> None:
        journal.record(team, "destroyed", [address])

    def run(group: list[str]) -> list[TeamTeardown]:
        if len(group) == 1:
            return [_destroy_team(ctx, cs, group[0], stale, board, timeout_s, record)]
        return _destroy_in_batch(ctx, cs, group, board, timeout_s, record)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="tf") as pool:
        futures = [pool.submit(run, g) for g in groups]
        try:
            return [t for f in futures for t in f.result()]
        except KeyboardInterrupt:
            ctx.cancel.set()        # each terraform gets SIGINT; the pool waits for them to stop
            raise


def _destroy_in_batch(ctx: RunContext, cs: CohortState, names: list[str], board: Board, timeout_s: float | None,
                      record: Any) -> list[TeamTeardown]:
    """One batch destroy; then the teams it left after a failure (or could not start) are
    destroyed alone, at once, in what is left of their time: one team's failure never fails another."""
    t0 = time.monotonic()
    out: dict[str, TeamTeardown] = {}
    retry: dict[str, list[str]] = {}
    for n, b in destroy_batch(ctx, cs, names, board, timeout_s, record).items():
        if b.status in ("failed", "not-started"):
            board.update(n, phase="batch left it; destroying alone", note=(b.error or "")[:120])
            retry[n] = b.destroyed
            continue
        out[n] = TeamTeardown(n, b.status, destroyed=b.destroyed, error=b.error)
        board.update(n, phase="destroy timed out; sweeping" if b.status == "timed-out" else b.status)
        if b.status == "destroyed":
            cs.set_team(n, status="destroyed", error=None, at=now().isoformat())
        elif b.status == "timed-out":
            cs.set_team(n, status="destroy-failed", error=b.error, at=now().isoformat())
    if retry:
        left_s = None if timeout_s is None else max(1.0, timeout_s - (time.monotonic() - t0))
        with ThreadPoolExecutor(max_workers=len(retry), thread_name_prefix="tf-alone") as pool:
            alone = list(pool.map(lambda n: _destroy_team(ctx, cs, n, False, board, left_s, record), retry))
        for t in alone:
            t.destroyed = retry[t.team] + t.destroyed
            out[t.team] = t
    return [out[n] for n in names]


def _delete_eks_first(conn: Any, states: dict[str, Any], journal: Journal, notes: list[str]) -> dict[str, down_eks.Deleted]:
    """On an emulator target, each team's EKS node groups and cluster (as its state, read once by
    `down`, records them) go through the EKS API just before the destroy, which would otherwise
    sleep up to 60 s per cluster (labctl.ops.down_eks)."""
    if not down_eks.applies(conn.target):
        return {}
    clusters = [c for t, state in states.items() if (c := down_eks.team_cluster(t, state))]
    out = down_eks.delete_clusters(clusters, conn.team_aws, lambda team, a: journal.record(team, "destroyed", [a]))
    notes += [f"{d.team}: {d.note}" for d in out.values() if d.note]
    return out


def _record_swept(journal: Journal, how: str, result: Any) -> None:
    for o in result.outcomes if result is not None else ():
        if o.status == "deleted":
            journal.record(o.resource.team or COHORT_LEVEL, how, [o.resource.describe()])


def _carry(by_team: dict[str, TeamTeardown], earlier: list[Any]) -> None:
    """Fold what earlier `down` runs stopped partway removed into this run's reports, first."""
    for team in {e.team for e in earlier}:
        t = by_team.setdefault(team, TeamTeardown(team, "n/a"))
        mine = [e for e in earlier if e.team == team]
        t.earlier_runs = sorted({e.run for e in mine})
        for how, lists in (("drained", [t.drained]), ("destroyed", [t.destroyed]), ("swept", [t.swept]),
                           ("swept_before", [t.swept, t.swept_before])):
            items = [e.item for e in mine if e.how == how]
            for target in lists:
                target[:0] = [i for i in dict.fromkeys(items) if i not in target]


def _destroy_team(ctx: RunContext, cs: CohortState, team: str, stale: bool, board: Board,
                  timeout_s: float | None = None, on_destroyed: Any = None) -> TeamTeardown:
    d = cs.team_dir(team)
    if not cs.has_resources(team):
        board.update(team, phase="nothing to destroy")
        return TeamTeardown(team, "nothing-to-destroy")
    if stale:
        # The emulator restarted: what this state describes is already gone with it.
        tfstate.set_aside(d / tfstate.STATE_FILE, "stale")
        board.update(team, phase="stale state set aside")
        return TeamTeardown(team, "skipped-stale-state")
    tf = ctx.tf(team)
    board.update(team, phase="init")
    ctx.ensure_init(team)
    destroyed: list[str] = []

    def on_event(ev) -> None:  # type: ignore[no-untyped-def]
        if ev.type == "apply_complete" and ev.action == "delete" and ev.address:
            destroyed.append(ev.address)
            if on_destroyed is not None:
                on_destroyed(team, ev.address)
            board.update(team, done=len(destroyed))

    board.update(team, phase="destroy")
    deadline = None if timeout_s is None else time.monotonic() + timeout_s

    def destroy(refresh: bool = True):  # type: ignore[no-untyped-def]
        bound = {} if deadline is None else {"timeout_s": max(1.0, deadline - time.monotonic())}
        return tf.run(A.destroy(refresh=refresh), on_event=on_event, **bound)

    res = destroy()
    if not res.ok and not (res.timed_out or res.cancelled):
        board.update(team, phase="destroy (no refresh)")
        res = destroy(refresh=False)
    if res.cancelled:
        board.update(team, phase="interrupted")
        return TeamTeardown(team, "interrupted", destroyed=destroyed, error="interrupted")
    if res.timed_out:
        err = (f"terraform destroy did not finish within {timeout_s:.0f} s (stopped; its state saved); "
               "the sweep removes the rest")
        board.update(team, phase="destroy timed out; sweeping")
        cs.set_team(team, status="destroy-failed", error=err, at=now().isoformat())
        return TeamTeardown(team, "timed-out", destroyed=destroyed, error=err)
    if not res.ok:
        err = "; ".join(e.one_line() for e in res.progress.errors[:3]) or "terraform destroy failed"
        board.update(team, phase="destroy failed; sweeping", note=err[:120])
        cs.set_team(team, status="destroy-failed", error=err, at=now().isoformat())
        return TeamTeardown(team, "failed", destroyed=destroyed, error=err)
    board.update(team, phase="destroyed")
    cs.set_team(team, status="destroyed", error=None, at=now().isoformat())
    return TeamTeardown(team, "destroyed", destroyed=destroyed)


def _dry_run(ctx: RunContext, cs: CohortState, chosen: list[str], stale: bool, started: float) -> DownReport:
    out = []
    for team in chosen:
        t = TeamTeardown(team, "would-destroy" if cs.has_resources(team) and not stale else "nothing-to-destroy")
        if t.destroy == "would-destroy":
            t.destroyed = sorted(tfstate.addresses(tfstate.read_or_none(cs.team_dir(team) / tfstate.STATE_FILE)))
        out.append(t)
    targets = ctx.conn.aws_accounts()
    found = inventory_in(targets, cs.id)
    by_team = {t.team: t for t in out}
    # Count what the real run would count: what destroy removes is not swept afterwards.
    in_state = set().union(*(tfstate.ids(tfstate.read_or_none(cs.team_dir(t.team) / tfstate.STATE_FILE))
                             for t in out if t.destroy == "would-destroy"))
    orphans = [r for r in found.resources if not _known(r, in_state)]
    for a in sweep_in(targets, plan_sweep(orphans), dry_run=True).outcomes:
        key = a.resource.team or COHORT_LEVEL
        by_team.setdefault(key, TeamTeardown(key, "n/a")).swept.append("would delete " + a.resource.describe())
    notes = []
    if not stale and down_eks.applies(ctx.conn.target):
        n = sum(1 for t in out if t.destroy == "would-destroy" and down_eks.team_cluster(
            t.team, tfstate.read_or_none(cs.team_dir(t.team) / tfstate.STATE_FILE)))
        if n:
            notes.append(f"on this emulator target {n} EKS {'cluster goes' if n == 1 else 'clusters go'} through the EKS API "
                         "(node groups first) just before the destroy, instead of after the aws provider's 0-60 s wait")
    return DownReport(cs.id, True, list(by_team.values()), [], list(found.unreadable), time.monotonic() - started, notes)


_known = reconcile.known       # whether destroying what the states hold removes a resource
