"""When labctl may take over a team's S3 state lock without asking (labctl.ops.state_lock): only a
lock written on this machine, by this state directory's own run, whose terraform is gone. Every
other lock is left to its holder (and `up` names it with `team unlock`). No terraform: the lock is
written as terraform writes it, and the killed run's events as the runner leaves them."""

from __future__ import annotations

import fcntl
import json
import socket
from pathlib import Path

import pytest

from labctl.aws import state_store as ss
from labctl.ops import remote_state as rs
from labctl.ops import state_lock
from labctl.ops.target import Connection, provider_settings
from labctl.spec.load import load_cohort
from labctl.state import StateDir
from labctl.tf import run_trace

LOCK_ID = "0b5e2f7c-1111-4e5a-9d7e-killedrun001"


def _holder(created: str, host: str | None = None) -> ss.LockHolder:
    return ss.LockHolder(id=LOCK_ID, who=f"ana@{host or socket.gethostname()}", operation="OperationTypeApply",
                         created=created, version="1.11.4", path="b/teams/team-a/terraform.tfstate")


def _run(team_dir: Path, command: str = "apply", last_at: str = "2026-12-04T21:59:30.000000Z") -> Path:
    """What a killed run of terraform ``command`` left: its events up to the kill."""
    out = run_trace.output_file(team_dir, command)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(json.dumps(e) for e in [
        {"type": "version", "@timestamp": "2026-12-04T21:58:56.000000Z"},
        {"type": "apply_start", "@timestamp": "2026-12-04T21:58:58.000000Z"},
        {"type": "apply_complete", "@timestamp": last_at}]) + "\n")
    return out


def test_a_lock_its_own_killed_run_left_on_this_machine_is_provably_stale(tmp_path):
    _run(tmp_path)
    assert state_lock.left_by_dead_run(_holder("2026-12-04T21:58:57.123456789Z"), tmp_path)
    _run(tmp_path, command="plan")                             # a killed plan holds the lock as well
    run_trace.output_file(tmp_path, "apply").unlink()
    assert state_lock.left_by_dead_run(_holder("2026-12-04T21:58:57Z"), tmp_path)


def test_a_lock_written_on_another_machine_is_not_taken(tmp_path):
    _run(tmp_path)
    assert not state_lock.left_by_dead_run(_holder("2026-12-04T21:58:57Z", host="co-facilitator-laptop"), tmp_path)


def test_a_lock_taken_after_the_run_last_worked_under_it_is_someone_elses(tmp_path):
    _run(tmp_path, last_at="2026-12-04T21:59:30.000000Z")
    assert not state_lock.left_by_dead_run(_holder("2026-12-04T21:59:31Z"), tmp_path)


def test_a_lock_whose_terraform_still_runs_is_not_taken(tmp_path):
    out = _run(tmp_path)
    with open(out) as fh:                                      # what a live terraform does to its file
        fcntl.flock(fh, fcntl.LOCK_EX)
        assert not state_lock.left_by_dead_run(_holder("2026-12-04T21:58:57Z"), tmp_path)
    assert state_lock.left_by_dead_run(_holder("2026-12-04T21:58:57Z"), tmp_path)


def test_a_run_that_never_held_the_lock_proves_nothing(tmp_path):
    assert not state_lock.left_by_dead_run(_holder("2026-12-04T21:58:57Z"), tmp_path)    # no run here
    out = _run(tmp_path)
    out.write_text(json.dumps({"type": "version", "@timestamp": "2026-12-04T21:59:40Z"}) + "\n")
    assert not state_lock.left_by_dead_run(_holder("2026-12-04T21:58:57Z"), tmp_path)    # stopped before the lock
    _run(tmp_path)
    assert not state_lock.left_by_dead_run(_holder("yesterday"), tmp_path)                # no time to compare


def test_stale_reads_the_lock_object_terraform_wrote_in_the_bucket(tmp_path):
    from labctl.aws import emulator as emu

    spec = tmp_path / "cohort.yaml"
    spec.write_text(SPEC)                   # the cohort file of the commands below
    with emu.Emulator() as e:
        conn = Connection("embedded", "us-east-1", e.url, provider_settings("embedded"))
        cs = StateDir(tmp_path / "A").cohort("fall26")
        bucket = rs.provision(cs, conn, load_cohort(spec), spec)
        assert bucket is not None
        _run(cs.team_dir("team-a"))
        assert state_lock.stale(cs, conn, "team-a") is None                         # not locked
        info = {"ID": LOCK_ID, "Operation": "OperationTypeApply", "Info": "", "Who": f"ana@{socket.gethostname()}",
                "Version": "1.11.4", "Created": "2026-12-04T21:58:57.123456789Z",
                "Path": f"{bucket.bucket}/{ss.team_key('team-a')}"}
        conn.aws().client("s3").put_object(Bucket=bucket.bucket, Key=ss.team_key("team-a") + ss.LOCK_SUFFIX,
                                           Body=json.dumps(info).encode())
        holder = state_lock.stale(cs, conn, "team-a")
        assert holder is not None and holder.id == LOCK_ID
        other = StateDir(tmp_path / "B").cohort("fall26")       # a second state directory of the cohort
        other.root.mkdir(parents=True)
        (other.root / rs.RECORD_FILE).write_text((cs.root / rs.RECORD_FILE).read_text())
        assert state_lock.stale(other, conn, "team-a") is None  # the dead run was A's: B cannot prove it



def test_a_killed_plan_that_changed_nothing_is_proven_by_its_summary_and_an_apply_summary_proves_nothing(tmp_path):
    # `team plan` on an emulator does not refresh: a plan with nothing to change reports no resource,
    # only its summary, which terraform renders inside the operation, before it releases the lock.
    out = run_trace.output_file(tmp_path, "plan")
    out.parent.mkdir(parents=True)
    summary = {"type": "change_summary", "@timestamp": "2026-12-04T21:59:30.000000Z",
               "changes": {"add": 0, "change": 0, "import": 0, "remove": 0, "operation": "plan"}}
    out.write_text(json.dumps({"type": "version", "@timestamp": "2026-12-04T21:58:56Z"}) + "\n" + json.dumps(summary) + "\n")
    assert state_lock.left_by_dead_run(_holder("2026-12-04T21:58:57Z"), tmp_path)
    # An apply's summary comes after terraform released the lock: it proves nothing.
    out.unlink()
    summary["changes"]["operation"] = "apply"
    _run(tmp_path).write_text(json.dumps(summary) + "\n")
    assert not state_lock.left_by_dead_run(_holder("2026-12-04T21:58:57Z"), tmp_path)


# --- the commands that take such a lock over: up (and its dry run), down, team plan/apply ---------

SPEC = """\
cohort: fall26
window: {start: 2026-12-01T09:00:00Z, duration: 4h}
lab: gpu-baseline
state: {backend: s3}
teams:
  - name: team-a
"""
BOOT = "boot-1"


@pytest.fixture(scope="module")
def emulator_url():
    from labctl.aws import emulator as emu

    with emu.Emulator() as e:
        yield e.url


@pytest.fixture
def killed(tmp_path, emulator_url):
    """Machine A's state directory after its run of team-a was killed holding the team's S3 lock:
    the team's state (one VPC) in the bucket and in A's read copy, the lock object terraform left,
    and the killed plan's events. Returns (spec, state dir, cohort state, connection)."""
    import os
    import urllib.request

    from labctl.aws import emulator as emu

    urllib.request.urlopen(urllib.request.Request(f"{emulator_url}/moto-api/reset", data=b"", method="POST")).read()
    conn = Connection("embedded", "us-east-1", emulator_url, provider_settings("embedded"), emulator_boot_id=BOOT)
    spec = tmp_path / "cohort.yaml"
    spec.write_text(SPEC)
    bucket = rs.provision(StateDir(tmp_path / "first").cohort("fall26"), conn, load_cohort(spec), spec)
    assert bucket is not None
    ss.put_file(conn.aws(), bucket.bucket, ss.team_key("team-a"), json.dumps({
        "version": 4, "serial": 3, "lineage": "L1", "outputs": {}, "resources": [
            {"mode": "managed", "type": "aws_vpc", "name": "this", "instances": [{"attributes": {"id": "vpc-1"}}]}]}).encode())
    a = tmp_path / "A"
    cs = StateDir(a).cohort("fall26")
    assert rs.attach(cs, conn) is not None
    (a / emu.STATE_FILE).write_text(json.dumps({"url": emulator_url, "boot_id": BOOT, "pid": os.getpid()}))
    _run(cs.team_dir("team-a"), command="plan")
    info = {"ID": LOCK_ID, "Operation": "OperationTypePlan", "Info": "", "Who": f"ana@{socket.gethostname()}",
            "Version": "1.11.4", "Created": "2026-12-04T21:58:57.123456789Z", "Path": f"{bucket.bucket}/{ss.team_key('team-a')}"}
    conn.aws().client("s3").put_object(Bucket=bucket.bucket, Key=ss.team_key("team-a") + ss.LOCK_SUFFIX,
                                       Body=json.dumps(info).encode())
    return spec, a, cs, conn


def _force_unlock(released: list[str]):
    """Stands in for `terraform force-unlock` (what it does to the bucket: the lock object goes)."""
    def release(ctx, team, holder):
        rec = rs.recorded(ctx.cohort_state)
        ctx.conn.aws().client("s3").delete_object(Bucket=rec.bucket, Key=ss.team_key(team) + ss.LOCK_SUFFIX)
        released.append(holder.id)
    return release


def _lock(conn, team="team-a"):
    return ss.lock_holder(conn.aws(), "labctl-state-123456789012-fall26", team)


def test_up_dry_run_after_a_killed_plan_says_it_would_release_the_lock_and_returns_at_once(killed, monkeypatch):
    import time

    from labctl.ops.up import up

    spec, a, cs, conn = killed
    monkeypatch.setattr(state_lock, "release", lambda *a: pytest.fail("a dry run released a lock"))
    trace = run_trace.output_file(cs.team_dir("team-a"), "plan").read_bytes()
    t0 = time.monotonic()
    report = up(spec, a, dry_run=True, quiet=True, emulator_url=conn.endpoint_url, emulator_boot_id=BOOT, allow_past=True)
    took = time.monotonic() - t0
    (team,) = report.teams
    assert took < 20, took                   # it planned nothing, so waited on no lock (terraform waits 120 s)
    assert team.reconciled[0].startswith(f"would release its state lock, left by ana@{socket.gethostname()}"), team
    assert team.error.startswith("not planned: would release") and LOCK_ID in team.error, team
    # Nothing changed: the lock is still there, the killed plan's events are as they were, nothing audited.
    assert _lock(conn) is not None and _lock(conn).id == LOCK_ID
    assert run_trace.output_file(cs.team_dir("team-a"), "plan").read_bytes() == trace
    assert not [e for e in cs.audit_entries() if e["command"] == "state-lock"]


def test_before_plans_takes_over_a_killed_plans_lock_and_says_so_in_the_teams_output(killed, monkeypatch):
    from types import SimpleNamespace

    _, _, cs, conn = killed
    released: list[str] = []
    monkeypatch.setattr(state_lock, "release", _force_unlock(released))
    reconciled, refused = {}, {}
    state_lock.before_plans(SimpleNamespace(cohort_state=cs, conn=conn), ["team-a"], False, reconciled, refused)
    assert released == [LOCK_ID] and refused == {} and _lock(conn) is None
    assert reconciled["team-a"].lines()[0].startswith("released its state lock, left by ana@"), reconciled
    audit = [(e["result"], e["lock_id"]) for e in cs.audit_entries() if e["command"] == "state-lock"]
    assert audit == [("taken-over", LOCK_ID)]


def test_down_takes_over_its_own_killed_runs_lock_before_it_destroys_and_its_dry_run_only_says_so(killed, monkeypatch):
    from labctl.ops.down import down

    spec, a, cs, conn = killed
    released: list[str] = []
    monkeypatch.setattr(state_lock, "release", _force_unlock(released))
    monkeypatch.setattr(cs.__class__, "has_resources", lambda self, team: False)    # nothing for terraform to destroy
    dry = down("fall26", a, dry_run=True, quiet=True)
    assert any(n.startswith("team-a: would release its state lock") for n in dry.notes), dry.notes
    assert released == [] and _lock(conn) is not None
    report = down("fall26", a, quiet=True)
    assert any(n.startswith("team-a: released its state lock") and LOCK_ID in n for n in report.notes), report.notes
    assert released == [LOCK_ID]
