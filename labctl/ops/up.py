"""`labctl up`: render, init and apply every team in parallel, with live progress.

A failing team is reported and the others finish; a second `up` changes nothing and says so; an
`up` killed mid-apply is resumed by running `up` again: terraform saved its state as it went, and
what it created after its last save is found by tag and name and imported or deleted before the
team is applied again (labctl.ops.reconcile), so nothing exists twice. Ctrl-C or SIGTERM stops
terraform gracefully, releases the cohort lock and exits 130 (labctl.ops.interrupt).
"""

from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labctl.errors import LabctlError
from labctl.ops.common import (RunContext, check_emulator_matches, prepare, refuse_if_torn_down, select_teams,
                               write_team_manifests)
from labctl.ops import batch as batches
from labctl.ops import reconcile, remote_state, resume, state_lock
from labctl.ops.interrupt import interruptible
from labctl.ops.parallel import default_in_flight, default_parallelism
from labctl.ops.progress import Board
from labctl.ops.target import Connection, connect
from labctl.render.terraform import tfvars, write_root
from labctl.ops.team import with_team_knobs
from labctl.ops.validate import validate_cohort
from labctl.spec.load import ResolvedCohort
from labctl.state import StateDir, now
from labctl.tf import argv as A
from labctl.tf.batch import team_of, write_batch_root
from labctl.tf.events import Progress
from labctl.tf.runner import Result
from labctl.telemetry.provisioned import record_team
from labctl.ops.clusters import check_k8s_mode, deploy_kind


@dataclass
class TeamOutcome:
    team: str
    status: str                     # created | changed | unchanged | would-change | no-changes | failed
    summary: dict[str, Any] | None = None
    error: str | None = None
    seconds: float = 0.0
    planned: list[str] = field(default_factory=list)
    # What an interrupted apply had left outside the state, and what was done about it.
    reconciled: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class UpReport:
    cohort: str
    target: str
    dry_run: bool
    teams: list[TeamOutcome]
    seconds: float
    parallelism: int
    kind: Any = None                  # labctl.ops.clusters.KindDeploy with `--k8s kind`

    @property
    def failed(self) -> list[TeamOutcome]:
        return [t for t in self.teams if t.status == "failed"]

    def as_dict(self) -> dict[str, Any]:
        return {"cohort": self.cohort, "target": self.target, "dry_run": self.dry_run,
                "seconds": round(self.seconds, 1), "parallelism": self.parallelism,
                "teams": [t.as_dict() for t in self.teams],
                **({"kind": self.kind.as_dict()} if self.kind is not None else {})}


def up(spec_path: Path, state_dir: Path, teams: list[str] | None = None, dry_run: bool = False,
       parallelism: int | None = None, quiet: bool = False, emulator_url: str | None = None,
       emulator_boot_id: str | None = None, k8s: str | None = None, batch_size: int | None = None,
       allow_past: bool = False, reprovision: bool = False) -> UpReport:
    # All validation before anything is touched; a window that is over only when asked for.
    cohort = validate_cohort(spec_path, now=None if allow_past else now())
    args = (spec_path, state_dir, teams, dry_run, parallelism, quiet, emulator_url, emulator_boot_id, k8s,
            batch_size, reprovision)
    # Before the lock (which creates the cohort's directory): a refused mode touches nothing.
    check_k8s_mode(k8s or StateDir(state_dir).cohort(cohort.id).meta().k8s, cohort.cohort.target)
    if dry_run:
        return _up(cohort, *args)
    cancel = threading.Event()
    with interruptible(cancel, f"labctl up {spec_path}"):
        with StateDir(state_dir).cohort(cohort.id).exclusive("up"):     # one writer per cohort
            return _up(cohort, *args, cancel=cancel)


def _up(cohort: ResolvedCohort, spec_path: Path, state_dir: Path, teams: list[str] | None, dry_run: bool,
        parallelism: int | None, quiet: bool, emulator_url: str | None, emulator_boot_id: str | None,
        k8s: str | None, batch_size: int | None, reprovision: bool,
        cancel: threading.Event | None = None) -> UpReport:
    if not dry_run and not reprovision:
        refuse_if_torn_down(StateDir(state_dir).cohort(cohort.id), "`up`", spec_path)
    cohort = with_team_knobs(cohort, state_dir)     # teams' own knobs files (labctl team knobs)
    chosen = select_teams(cohort, teams)
    k8s = k8s or StateDir(state_dir).cohort(cohort.id).meta().k8s   # a kind cohort stays kind
    check_k8s_mode(k8s, cohort.cohort.target)
    conn = connect(cohort.cohort, state_dir, emulator_url=emulator_url, emulator_boot_id=emulator_boot_id, create_accounts=not dry_run)
    ctx = prepare(state_dir, cohort.id, conn)
    if cancel is not None:
        ctx.cancel = cancel         # the signal handler's event reaches every terraform run
    cs = ctx.cohort_state
    check_emulator_matches(cs, conn)
    if not dry_run:
        cs.root.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(spec_path, cs.spec_copy)
        cs.update_meta(**deployment_record(cohort, spec_path, conn))
        # state: {backend: s3}: the cohort's bucket exists before the first team needs it.
        remote_state.provision(cs, conn, cohort, spec_path)
    # Teams whose last apply did not finish (killed, or its batch recovered): what it created
    # after its last state save is imported or deleted first, and they apply in their own roots.
    # A dry run says what it would import and delete, and does neither.
    interrupted = resume.interrupted(cs, chosen)
    reconciled, refused = resume.reconcile_interrupted(ctx, cohort, interrupted, dry_run) if interrupted else ({}, {})
    state_lock.before_plans(ctx, chosen, dry_run, reconciled, refused)     # state in S3: own killed runs' locks
    # New teams go in batches (one terraform command for several teams: see labctl/tf/batch.py);
    # teams that already have resources, and dry runs, plan and apply in their own roots.
    new = [] if dry_run else [n for n in chosen if not cs.has_resources(n) and n not in interrupted]
    if len(new) >= 2 and batch_size != 1:
        width = parallelism or default_in_flight(len(chosen), batches.per_team_bytes(conn.accounts.per_team))
        groups = batches.plan_batches(new, width, batch_size) + [[n] for n in chosen if n not in new and n not in refused]
        workers = min(len(groups), max(2, width // max(len(g) for g in groups)))   # two batches at least
    else:
        width = parallelism or default_parallelism(len(chosen))
        groups = [[n] for n in chosen if n not in refused]
        workers = width
    started = time.monotonic()
    title = f"{'plan' if dry_run else 'up'} {cohort.id} ({conn.target}, {width} at a time)"
    with Board(title, chosen, quiet=quiet) as board:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tf") as pool:
            futures = [pool.submit(_batch_up, ctx, cohort, g, board) if len(g) > 1
                       else pool.submit(lambda n: [_team_up(ctx, cohort, n, dry_run, board)], g[0])
                       for g in groups]
            try:
                by_team = {o.team: o for f in futures for o in f.result()}
            except KeyboardInterrupt:
                ctx.cancel.set()        # each terraform gets SIGINT; the pool waits for them to stop
                raise
    for n, why in refused.items():
        by_team[n] = TeamOutcome(n, "failed", error=why)
    for n, rec in reconciled.items():
        by_team[n].reconciled = rec.lines()
    outcomes = [by_team[n] for n in chosen]
    if not dry_run:   # what exists now enters the lifecycle, failed teams' partial state too
        for n in chosen:
            record_team(cs.root, cs.team_dir(n), n, cohort.cohort.region, now())
    report = UpReport(cohort.id, conn.target, dry_run, outcomes, time.monotonic() - started, width)
    ok = [o.team for o in outcomes if o.status != "failed"]
    if not dry_run and k8s == "kind" and ok:
        # The cloud side is up; the kind cluster stands in for the teams' EKS clusters.
        try:
            report.kind = deploy_kind(cs, ok)
        except LabctlError as exc:
            cs.audit("up", "failed", teams=chosen, outcomes={o.team: o.status for o in outcomes}, k8s=k8s,
                     error=f"kind: {exc}")
            raise LabctlError(f"every team's cloud side is up, but the kind cluster is not: {exc}; "
                              "fix it and run `labctl up --k8s kind` again") from exc
        for team, why in report.kind.failed.items():
            outcome = next(o for o in outcomes if o.team == team)
            outcome.status, outcome.error = "failed", f"kind: applying manifests failed: {why}"
            cs.set_team(team, status="failed", error=outcome.error, at=now().isoformat())
    if not dry_run:
        cs.audit("up", "failed" if report.failed else "ok", teams=chosen,
                 outcomes={o.team: o.status for o in outcomes}, k8s=k8s or "default")
    return report


def deployment_record(cohort: ResolvedCohort, spec_path: Path, conn: Connection) -> dict[str, Any]:
    """What `up` records in meta.json (fields of labctl.meta.CohortMeta): all that `down`, the
    reaper, `status` and `kubeconfig` need to reach the cohort again without its file."""
    return {"cohort": cohort.id, "source": str(spec_path.resolve()), "target": conn.target,
            "region": cohort.cohort.region, "aws_profile": cohort.cohort.aws_profile, "lab": cohort.lab.name,
            "window_start": cohort.cohort.window.start, "window_end": cohort.cohort.window.ends_at,
            "emulator_boot_id": conn.emulator_boot_id, "endpoint_url": conn.endpoint_url,
            "all_teams": [t.name for t in cohort.teams], "status": "up"}


def _team_up(ctx: RunContext, cohort: ResolvedCohort, name: str, dry_run: bool, board: Board) -> TeamOutcome:
    if name in ctx.conn.accounts_pending:       # accounts.organization, dry run: no account to plan in yet
        board.update(name, phase="would-create-account")
        return TeamOutcome(name, "would-create-account", planned=[ctx.conn.accounts_pending[name]])
    try:
        return _team_up_inner(ctx, cohort, name, dry_run, board)
    finally:
        if not dry_run:     # import blocks are for one apply; a later plan must not see them again
            reconcile.clear_imports(ctx.cohort_state.team_dir(name))


def _team_up_inner(ctx: RunContext, cohort: ResolvedCohort, name: str, dry_run: bool, board: Board) -> TeamOutcome:
    t0 = time.monotonic()
    cs = ctx.cohort_state
    try:
        team = cohort.team(name)
        d = cs.team_dir(name)
        board.update(name, phase="render")
        write_root(d, tfvars(cohort, team, ctx.conn.provider))
        write_team_manifests(ctx, cohort, team)
        tf = ctx.tf(name)
        board.update(name, phase="init")
        ctx.ensure_init(name)
        has_state = cs.has_resources(name)
        live = Progress()

        def track(ev) -> None:  # type: ignore[no-untyped-def]
            if live.feed(ev):
                board.update(name, done=live.done, planned=live.planned)

        if dry_run:
            board.update(name, phase="plan")
            res = tf.run(A.plan(refresh=has_state), on_event=track)
            status = {0: "no-changes", 2: "would-change"}.get(res.returncode, "failed")
            return _outcome(ctx, name, t0, board, res, status, record=False)
        if not has_state:
            board.update(name, phase="apply")
            resume.mark_applying(cs, [name])
            res = tf.run(A.apply(refresh=False), on_event=track)
            status = "created"
        else:
            board.update(name, phase="plan")
            plan_file = d / "tfplan"
            res = tf.run(A.plan(out=plan_file), on_event=track)
            if res.returncode == 0:
                status = "unchanged"
            elif res.returncode == 2:
                board.update(name, phase="apply")
                resume.mark_applying(cs, [name])
                res = tf.run(A.apply(plan_file=plan_file), on_event=track)
                status = "changed"
            else:
                status = "failed"
            plan_file.unlink(missing_ok=True)
        if res.ok:  # the manifests now carry the real IRSA role ARN, cluster and bucket names
            write_team_manifests(ctx, cohort, team)
        return _outcome(ctx, name, t0, board, res, status)
    except Exception as exc:  # noqa: BLE001 - one team's failure must not stop the others
        board.update(name, phase="failed", note=str(exc)[:200])
        cs.set_team(name, status="failed", error=str(exc), at=now().isoformat())
        return TeamOutcome(name, "failed", error=str(exc), seconds=time.monotonic() - t0)


def _batch_up(ctx: RunContext, cohort: ResolvedCohort, names: list[str], board: Board) -> list[TeamOutcome]:
    """Create several new teams with one terraform apply, then give each its own state."""
    t0 = time.monotonic()
    cs = ctx.cohort_state
    live = {n: Progress() for n in names}
    bdir = batches.batch_dir(cs, names)
    try:
        members = {}
        for name in names:
            team = cohort.team(name)
            d = cs.team_dir(name)
            board.update(name, phase="render")
            variables = tfvars(cohort, team, ctx.conn.provider)
            write_root(d, variables)
            write_team_manifests(ctx, cohort, team)
            members[name] = (d, variables)
        write_batch_root(bdir, members, batches.team_module(cs), bool(batches.root_sensitive_outputs()))
        for name in names:
            board.update(name, phase="init")
        ctx.ensure_init(names[0])       # the teams' own roots, for every later command
        tf = ctx.tf_at(bdir)
        tf.init()
        resume.mark_applying(cs, names)

        def track(ev) -> None:  # type: ignore[no-untyped-def]
            team = team_of(ev.address, names)
            if team is not None and live[team].feed(ev):
                board.update(team, phase="apply", done=live[team].done, planned=live[team].planned)

        # Terraform's default of 10 operations at once is per command: a batch gets 10 per team,
        # as its teams would have in their own roots.
        res = tf.run(A.apply(refresh=False, parallelism=10 * len(names)), on_event=track)
        batches.split_into_teams(cs, bdir)
        unpushed = remote_state.push_states(ctx.tf, cs, names)     # remote state: each team's split state to S3
    except Exception as exc:  # noqa: BLE001 - the batch failed as a whole; other batches go on
        # Whatever this batch created is in its state: split it so the next `up` resumes per team
        # (other batches, still running, are left to themselves).
        try:
            if batches.wait_unlocked(bdir / "terraform.tfstate", 0):
                batches.split_into_teams(cs, bdir)
                remote_state.push_states(ctx.tf, cs, names)
        except Exception:  # noqa: BLE001 - the next command's recovery tries again
            pass
        out = []
        for name in names:
            board.update(name, phase="failed", note=str(exc)[:200])
            cs.set_team(name, status="failed", error=str(exc), at=now().isoformat())
            out.append(TeamOutcome(name, "failed", error=str(exc), seconds=time.monotonic() - t0))
        return out
    errors = res.progress.errors
    shared = [e for e in errors if team_of(e.address, names) is None]
    out = []
    for name in names:
        mine = [e for e in errors if team_of(e.address, names) == name] + shared
        c = live[name]
        error = None
        if mine:
            error = "; ".join(e.one_line() for e in mine[:3])
        elif name in unpushed:
            error = unpushed[name]
        elif c.done < c.planned or (not res.ok and not errors):
            error = (f"terraform stopped after {c.done} of {c.planned} resources: "
                     + ((res.stderr.strip().splitlines() or ["no error reported"])[-1]))
        status = "failed" if error else "created"
        summary = {"add": c.done, "change": 0, "remove": 0, "import": 0, "operation": "apply"}
        if status == "created":  # the manifests now carry the real IRSA role ARN, cluster and bucket names
            write_team_manifests(ctx, cohort, cohort.team(name))
        board.update(name, phase=status, note=error or _summary_text(summary))
        cs.set_team(name, status=status, error=error, summary=summary, at=now().isoformat(),
                    **resume.finished(res))
        out.append(TeamOutcome(name, status, summary, error, time.monotonic() - t0))
    return out


def _outcome(ctx: RunContext, name: str, t0: float, board: Board, res: Result, status: str,
             record: bool = True) -> TeamOutcome:
    prog = res.progress
    if not res.ok and not (status in ("would-change", "changed") and res.returncode == 2):
        status = "failed"
    error = None
    if status == "failed":
        errs = prog.errors
        error = "; ".join(e.one_line() for e in errs[:3]) if errs else (res.stderr.strip().splitlines() or ["terraform failed"])[-1]
        if "state lock" in error:       # state in S3: who holds the team's lock, and how to release it
            error += "; " + (remote_state.lock_message(ctx.cohort_state, ctx.conn, name) or "the lock is free now: run again")
    planned = [] if status != "would-change" else res.planned_changes()
    outcome = TeamOutcome(name, status, prog.summary, error, time.monotonic() - t0, planned)
    board.update(name, phase=status, note=error or _summary_text(prog.summary))
    if record:
        ctx.cohort_state.set_team(name, status=status, error=error, summary=prog.summary, at=now().isoformat(),
                                  **resume.finished(res))
    return outcome


def _summary_text(summary: dict[str, Any] | None) -> str:
    if not summary:
        return ""
    return f"+{summary.get('add', 0)} ~{summary.get('change', 0)} -{summary.get('remove', 0)}"
