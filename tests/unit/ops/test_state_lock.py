"""When labctl may take over a team's S3 state lock without asking (labctl.ops.state_lock): only a
lock written on this machine, by this state directory's own run, whose terraform is gone. Every
other lock is left to its holder (and `up` names it with `team unlock`). No terraform: the lock is
written as terraform writes it, and the killed run's events as the runner leaves them."""

from __future__ import annotations

import fcntl
import json
import socket
import textwrap
from pathlib import Path

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
    spec.write_text(textwrap.dedent("""\
        cohort: fall26
        window: {start: 2026-12-01T09:00:00Z, duration: 4h}
        lab: gpu-baseline
        state: {backend: s3}
        teams:
          - name: team-a
    """))
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

