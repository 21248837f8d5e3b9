"""A cohort whose teams' Terraform state lives in S3 (``state: {backend: s3}`` in the cohort file).

What this module owns, between the bucket (labctl.aws.state_store) and the team roots
(labctl.tf.backend):

- ``provision``: before the first team, the cohort's bucket exists with its settings, the cohort
  file is stored beside the states, and the cohort directory records where its state lives
  (``remote-state.json``: bucket, region, keep). Idempotent: every `up` runs it.
- ``configure``: a team's runner gets the backend file, the team's workspace and its read copy
  (the "mirror" of labctl.tf.backend). RunContext.tf calls it, so `up`, `team plan/apply`,
  `down` and the crash recovery all run against the remote state without knowing it.
- ``push_states``: a batch's apply (labctl.tf.batch) leaves each team's state as a local file; it
  is written to the team's S3 key with ``terraform state push``, which takes the team's S3 lock and
  refuses a state of another lineage or an older serial, rather than a plain S3 put, which would
  overwrite whatever a second machine wrote meanwhile. A push that fails keeps the file as
  ``terraform.tfstate.unpushed`` and the next command tries again before anything plans.
- ``refresh``: at the start of a command, every team's read copy is fetched again from the bucket
  (another machine may have applied since). Commands that only read a team's state (`status`,
  `debrief`, `handouts`) call ``refresh_for_reading``, which does the same without terraform.
- ``attach``: a second state directory with only the cohort file finds the bucket (its name
  follows from the account and the cohort id) and gets the cohort's directory from it.
- ``lock_message``: who holds a team's lock (the ``.tflock`` object's content) and how to release it.
- ``remove_bucket``: `down`, once every proof is written, deletes the bucket with every state
  version, unless ``state.keep``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from labctl.aws import state_store
from labctl.errors import LabctlError, NotFoundError, RefusedError
from labctl.aws.session import AwsAccessDenied
from labctl.ops.target import Connection, connect, connect_recorded
from labctl.render.terraform import tfvars, write_root
from labctl.spec.load import ResolvedCohort, load_cohort
from labctl.state import CohortState, StateDir, write_atomic
from labctl.tf import argv as A
from labctl.tf import backend
from labctl.tf import state as tfstate
from labctl.tf.runner import Terraform

RECORD_FILE = "remote-state.json"
COHORT_KEY = "cohort/cohort.yaml"
KNOBS_FILE = "knobs.yaml"           # a team's knobs file in its directory (labctl.ops.team.KNOBS_FILE)
UNPUSHED = "terraform.tfstate.unpushed"


@dataclass(frozen=True)
class RemoteState:
    bucket: str
    region: str
    keep: bool = False


def recorded(cs: CohortState) -> RemoteState | None:
    """Where the cohort's state lives, as `up` or `attach` recorded it; None: local files."""
    try:
        doc = json.loads((cs.root / RECORD_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("bucket"), str):
        return None
    return RemoteState(doc["bucket"], str(doc.get("region", "us-east-1")), bool(doc.get("keep", False)))


def facilitator_account(cs: CohortState) -> str | None:
    """The facilitator's account, as the name of the cohort's state bucket records it (the bucket
    is made with the credentials labctl starts from); None for a local-state cohort. Read offline,
    so `debrief` can name the account of a shared-mode cohort after the class."""
    rs = recorded(cs)
    return state_store.bucket_account(rs.bucket) if rs is not None else None


def _record(cs: CohortState, rs: RemoteState) -> None:
    write_atomic(cs.root / RECORD_FILE, json.dumps(asdict(rs), indent=2, sort_keys=True) + "\n")


def provision(cs: CohortState, conn: Connection, cohort: ResolvedCohort, spec_path: Path) -> RemoteState | None:
    """The cohort's bucket, before the first team (None for a cohort with local state)."""
    wanted = cohort.cohort.state
    had = recorded(cs)
    if not wanted.remote:
        if had is not None:
            raise RefusedError(f"{spec_path}: state: cohort {cs.id} keeps its state in s3://{had.bucket}; moving it back "
                               "to local files is not supported: keep `state: {backend: s3}`")
        return None
    if had is None and any(cs.has_resources(t) for t in cs.teams_with_state()):
        raise RefusedError(f"{spec_path}: state: cohort {cs.id} already has teams with local state; moving a provisioned "
                           "cohort's state to S3 is not supported: tear it down first, or keep `backend: local`")
    target = conn.aws()
    bucket = state_store.ensure_bucket(target, cohort.id)
    state_store.put_file(target, bucket.name, COHORT_KEY, spec_path.read_bytes())
    rs = RemoteState(bucket.name, bucket.region, wanted.keep)
    _record(cs, rs)
    if bucket.created:
        cs.audit("state-bucket", "created", bucket=bucket.name)
    return rs


def configure(tf: Terraform, cs: CohortState, team: str) -> Terraform:
    """Point a team's runner at its remote state (nothing changes for a local-state cohort)."""
    rs = recorded(cs)
    if rs is None:
        return tf
    team_dir = cs.team_dir(team)
    backend.write_backend(team_dir, backend.s3_backend(rs.bucket, rs.region, state_store.STATE_KEY,
                                                       state_store.WORKSPACE_KEY_PREFIX))
    tf.env = {**tf.env, **backend.workspace_env(team)}
    tf.state_mirror = team_dir / backend.MIRROR_FILE
    return tf


def push_states(tf_of: Callable[[str], Terraform], cs: CohortState, split: list[str]) -> dict[str, str]:
    """Write to S3 the state files a batch split just left for ``split`` teams, and any an earlier
    push could not write. Returns {team: why} for the pushes that failed; their file stays as
    ``terraform.tfstate.unpushed`` for the next command to try again."""
    if recorded(cs) is None:
        return {}
    for team in split:
        d = cs.team_dir(team)
        if (d / backend.MIRROR_FILE).exists() and not (d / UNPUSHED).exists():
            # From here on it is not a copy of S3 but a state to push.
            (d / backend.MIRROR_FILE).replace(d / UNPUSHED)
    failed: dict[str, str] = {}
    for team in cs.teams_with_state():
        pending = cs.team_dir(team) / UNPUSHED
        if not pending.exists():
            continue
        res = tf_of(team).run(A.state_push(pending))
        if res.ok:
            pending.unlink()
            cs.audit("state-push", "ok", team=team)
        else:
            why = last_line(res.stderr)
            failed[team] = (f"its state could not be written to S3 ({why}); it is kept in {pending}, and the next "
                            f"labctl command on cohort {cs.id} pushes it again")
            cs.audit("state-push", "failed", team=team, error=why)
    return failed


def knobs_key(team: str) -> str:
    return f"knobs/{team}.yaml"


def save_knobs(cs: CohortState, conn: Connection, team: str, knobs_file: Path) -> None:
    """After `team apply`: the knobs file it applied goes beside the team's state, so a state
    directory that takes the cohort later starts from what was applied, not from the cohort file."""
    rs = recorded(cs)
    if rs is None or not knobs_file.exists():
        return
    state_store.put_file(conn.aws(), rs.bucket, knobs_key(team), knobs_file.read_bytes())


def refresh(cs: CohortState, conn: Connection, teams: list[str]) -> list[str]:
    """Fetch every team's read copy again from the bucket; returns the teams that have a state."""
    rs = recorded(cs)
    if rs is None:
        return []
    target = conn.aws()
    have = []
    for team in teams:
        d = cs.team_dir(team)
        if (d / UNPUSHED).exists():
            continue                    # not pushed yet: push_states goes first
        raw = state_store.team_state(target, rs.bucket, team)
        if raw is None:
            (d / backend.MIRROR_FILE).unlink(missing_ok=True)
            continue
        write_atomic(d / backend.MIRROR_FILE, raw.decode())
        have.append(team)
    return have


def refresh_for_reading(cs: CohortState, state_dir: Path, conn: Connection | None = None) -> str | None:
    """Before a command that only reads teams' states (`status`, `debrief`, `handouts`): every
    team's read copy fetched again from the bucket, so that what another machine applied since is
    shown, not this directory's old copy. One S3 GetObject per team (plus one HeadBucket), no
    terraform: measured on the emulator with 110 KB states, 30 teams in 0.18 s (0.43 s on a cold
    connection), where ``terraform state pull`` took 0.059 s a team, as a process of its own in an
    init'ed root (so status would need terraform and the teams' roots). Returns why the copies could not be
    read again (they are then left as they were, and the caller says so), or None. A bucket that
    is gone (the cohort torn down, its bucket removed) leaves the copies as the last reads."""
    rs = recorded(cs)
    if rs is None:
        return None
    try:
        conn = conn or connect_recorded(cs.meta(), state_dir, start_emulator=False)
        if not state_store.bucket_exists(conn.aws(), rs.bucket):
            return f"s3://{rs.bucket} is gone (the cohort was torn down): teams' states shown as last read here"
        refresh(cs, conn, sorted(set(cs.meta().all_teams) | set(cs.teams_with_state())))
    except (LabctlError, OSError) as exc:
        return f"teams' states could not be read again from s3://{rs.bucket} ({exc}): shown as last read here"
    return None


def attach(cs: CohortState, conn: Connection) -> RemoteState | None:
    """A state directory that has never provisioned the cohort (a second machine, a co-facilitator)
    takes it from its bucket, if there is one: the cohort file `up` stored beside the states, where
    the state lives, what meta.json records of a provisioned cohort, and every team's read copy.
    None when the account has no bucket for the cohort (a local-state cohort, or one never up)."""
    target = conn.aws()
    try:
        bucket = state_store.find_bucket(target, cs.id)
    except AwsAccessDenied:
        return None                     # credentials that may not look: no remote state to take
    if bucket is None:
        return None
    stored = state_store.get_file(target, bucket, COHORT_KEY)
    if stored is None:
        raise NotFoundError(f"s3://{bucket} holds no {COHORT_KEY}: it was not made by `labctl up`")
    cs.root.mkdir(parents=True, exist_ok=True)
    write_atomic(cs.spec_copy, stored.decode())
    cohort = load_cohort(cs.spec_copy)
    rs = RemoteState(bucket, cohort.cohort.region, cohort.cohort.state.keep)
    _record(cs, rs)
    names = [t.name for t in cohort.teams]
    for team in cohort.teams:       # each team's root, as `up` renders it (a batch destroy calls them)
        write_root(cs.team_dir(team.name), tfvars(cohort, team, conn.provider))
        knobs = state_store.get_file(target, bucket, knobs_key(team.name))     # what `team apply` last applied
        if knobs is not None:
            write_atomic(cs.team_dir(team.name) / KNOBS_FILE, knobs.decode())
    have = refresh(cs, conn, names)
    cs.update_meta(cohort=cohort.id, source=str(cs.spec_copy), target=conn.target, region=cohort.cohort.region,
                   lab=cohort.lab.name, window_start=cohort.cohort.window.start.isoformat(),
                   window_end=cohort.cohort.window.ends_at.isoformat(), emulator_boot_id=conn.emulator_boot_id,
                   endpoint_url=conn.endpoint_url, all_teams=names, status="up")
    for team in have:
        cs.set_team(team, status="attached")      # provisioned elsewhere; its state read from S3
    cs.audit("state-attach", "ok", bucket=bucket, teams=have)
    return rs


def attach_from_file(spec_path: Path, state_dir: Path, cohort: ResolvedCohort) -> None:
    """COHORT given as a file whose state is in S3, in a state directory that never provisioned it."""
    cs = StateDir(state_dir).cohort(cohort.id)
    if not cohort.cohort.state.remote or cs.spec_copy.exists():
        return
    if attach(cs, connect(cohort.cohort, state_dir, start_emulator=False)) is None:
        raise NotFoundError(f"{spec_path}: cohort {cohort.id} keeps its state in S3, but the account these credentials "
                            f"reach has no bucket {state_store.PREFIX}-<account>-{cohort.id}: run `labctl up {spec_path}` "
                            "first, or use the facilitator's credentials")


def lock_message(cs: CohortState, conn: Connection, team: str) -> str | None:
    """"team X's state is locked by WHO (...)" and how to release it; None when it is not locked."""
    rs = recorded(cs)
    if rs is None:
        return None
    holder = state_store.lock_holder(conn.aws(), rs.bucket, team)
    if holder is None:
        return None
    return (f"team {team}'s state (s3://{rs.bucket}/{state_store.team_key(team)}) is locked by {holder.describe()}; "
            "if that run is still going, wait for it; if it was killed, release the lock with "
            f"`labctl team unlock {team} --cohort {cs.id} --lock-id {holder.id}`")


def push_newer(tf_of: Callable[[str], Terraform], cs: CohortState, conn: Connection, teams: list[str]) -> dict[str, str]:
    """Push each team's local state where it is newer than S3's (same lineage, higher serial): what
    a command wrote to the file instead of through the team's backend (a batch destroy's emptied
    states). Returns {team: why} for pushes that failed."""
    rs = recorded(cs)
    if rs is None:
        return {}
    target = conn.aws()
    newer = []
    for team in teams:
        local = tfstate.lineage_serial((cs.team_dir(team) / backend.MIRROR_FILE).read_bytes()
                                       if (cs.team_dir(team) / backend.MIRROR_FILE).exists() else None)
        remote = tfstate.lineage_serial(state_store.team_state(target, rs.bucket, team))
        if local is not None and remote is not None and local[0] == remote[0] and local[1] > remote[1]:
            newer.append(team)
    return push_states(tf_of, cs, newer)


def after_down(tf_of: Callable[[str], Terraform], cs: CohortState, conn: Connection, teams: list[str],
               whole_cohort: bool, clean: bool) -> list[str]:
    """`down`, once every proof is written: states written locally go to S3, then the bucket goes
    with every version, unless the cohort keeps it, or teams are left (their state is still needed)
    or only some teams were torn down. Returns lines for the report's notes."""
    if recorded(cs) is None:
        return []
    failed = push_newer(tf_of, cs, conn, teams)
    notes = [f"{team}: {why}" for team, why in failed.items()]
    if not whole_cohort:
        return notes
    if not clean or failed:
        rs = recorded(cs)
        assert rs is not None
        return notes + [f"state bucket s3://{rs.bucket} kept: something is left, and its state is still needed"]
    done = remove_bucket(cs, conn)
    return notes + ([done] if done else [])


def wait_unlocked(cs: CohortState, conn: Connection, team: str, wait_s: float) -> bool:
    """True once nobody holds ``team``'s S3 lock, False if someone still does after ``wait_s``: with
    state in S3, a terraform that outlived the labctl that started it holds this lock, not a lock on
    the local file (labctl.ops.batch.wait_unlocked), so crash recovery must wait on this one."""
    rs = recorded(cs)
    if rs is None:
        return True
    deadline = time.monotonic() + wait_s
    while state_store.lock_holder(conn.aws(), rs.bucket, team) is not None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(2.0)
    return True


def settle(cs: CohortState, conn: Connection, team: str, wait_s: float) -> str | None:
    """Before crash recovery looks at what an interrupted run left: wait for the team's S3 lock, then
    read its state again (the run's last save). Returns why the team must not be touched now (its
    lock is still held: a run elsewhere, or a killed one, named with how to release it), or None."""
    if recorded(cs) is None:
        return None
    if not wait_unlocked(cs, conn, team, wait_s):
        held = lock_message(cs, conn, team) or f"team {team}'s state was locked"
        return f"{held} (still held after {wait_s:.0f} s); then run `labctl up` again"
    refresh(cs, conn, [team])
    return None


def remove_bucket(cs: CohortState, conn: Connection) -> str | None:
    """After `down` has written every proof: delete the bucket and every state version, unless the
    cohort keeps it. Returns what was done, for the output and the audit log."""
    rs = recorded(cs)
    if rs is None:
        return None
    if rs.keep:
        cs.audit("state-bucket", "kept", bucket=rs.bucket)
        return f"state bucket s3://{rs.bucket} kept (state.keep), with every version of every team's state"
    versions = state_store.delete_bucket(conn.aws(), rs.bucket)
    cs.audit("state-bucket", "deleted", bucket=rs.bucket, versions=versions)
    return f"state bucket s3://{rs.bucket} deleted ({versions} object versions)"


def last_line(stderr: str) -> str:
    lines = [ln.strip(" │╷╵") for ln in stderr.splitlines() if ln.strip(" │╷╵")]
    return (lines[-1] if lines else "no output")[:300]


