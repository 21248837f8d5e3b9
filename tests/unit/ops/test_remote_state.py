"""labctl.ops.remote_state on the in-process emulator (no terraform): the bucket before the first
team, the cohort file beside the states, refusing a switch of backend, the read copies refreshed
from S3, a second state directory taking the cohort, and `down`'s decision about the bucket."""

from __future__ import annotations

import json
import textwrap
import threading
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from labctl.aws import state_store as ss
from labctl.errors import RefusedError
from labctl.ops import remote_state as rs
from labctl.ops.target import Connection, provider_settings
from labctl.spec.load import load_cohort
from labctl.state import StateDir

SPEC = """\
cohort: fall26
window: {start: 2026-12-01T09:00:00Z, duration: 4h}
lab: gpu-baseline
teams:
  - name: team-a
  - name: team-b
"""
BUCKET = "labctl-state-123456789012-fall26"


def _spec(tmp_path: Path, state: str = "state: {backend: s3}\n") -> Path:
    p = tmp_path / "cohort.yaml"
    p.write_text(textwrap.dedent(SPEC) + state)
    return p


@pytest.fixture(scope="module")
def emulator_url():
    from labctl.aws import emulator as emu

    with emu.Emulator() as e:
        yield e.url


@pytest.fixture
def conn(emulator_url):
    """The embedded target (moto's server over HTTP, as `up` uses it), emptied for each test."""
    urllib.request.urlopen(urllib.request.Request(f"{emulator_url}/moto-api/reset", data=b"", method="POST")).read()
    return Connection("embedded", "us-east-1", emulator_url, provider_settings("embedded"))


def _state(serial: int, lineage: str = "L1") -> bytes:
    return json.dumps({"version": 4, "serial": serial, "lineage": lineage, "resources": [{"mode": "managed"}]}).encode()


def test_provision_makes_the_bucket_stores_the_cohort_file_and_records_it(tmp_path, conn):
    spec = _spec(tmp_path)
    cs = StateDir(tmp_path / "A").cohort("fall26")
    got = rs.provision(cs, conn, load_cohort(spec), spec)
    assert got == rs.RemoteState(BUCKET, "us-east-1", keep=False) == rs.recorded(cs)
    assert ss.get_file(conn.aws(), BUCKET, rs.COHORT_KEY) == spec.read_bytes()
    assert rs.provision(cs, conn, load_cohort(spec), spec) == got          # idempotent
    assert [e["command"] for e in cs.audit_entries()].count("state-bucket") == 1


def test_a_local_state_cohort_touches_no_bucket(tmp_path, conn):
    spec = _spec(tmp_path, state="")
    cs = StateDir(tmp_path / "A").cohort("fall26")
    assert rs.provision(cs, conn, load_cohort(spec), spec) is None
    assert ss.find_bucket(conn.aws(), "fall26") is None and rs.recorded(cs) is None


def test_switching_a_provisioned_cohort_between_local_and_s3_is_refused(tmp_path, conn):
    cs = StateDir(tmp_path / "A").cohort("fall26")
    (cs.team_dir("team-a")).mkdir(parents=True)
    (cs.team_dir("team-a") / "terraform.tfstate").write_bytes(_state(3))
    spec = _spec(tmp_path)
    with pytest.raises(RefusedError, match="already has teams with local state"):
        rs.provision(cs, conn, load_cohort(spec), spec)
    assert ss.find_bucket(conn.aws(), "fall26") is None
    other = StateDir(tmp_path / "B").cohort("fall26")
    rs.provision(other, conn, load_cohort(spec), spec)
    local = _spec(tmp_path, state="")
    with pytest.raises(RefusedError, match="moving it back"):
        rs.provision(other, conn, load_cohort(local), local)


def test_refresh_copies_each_teams_state_from_s3_and_drops_a_copy_s3_no_longer_has(tmp_path, conn):
    spec = _spec(tmp_path)
    cs = StateDir(tmp_path / "A").cohort("fall26")
    rs.provision(cs, conn, load_cohort(spec), spec)
    ss.put_file(conn.aws(), BUCKET, ss.team_key("team-a"), _state(7))
    cs.team_dir("team-b").mkdir(parents=True)
    (cs.team_dir("team-b") / "terraform.tfstate").write_bytes(_state(2))     # stale copy
    assert rs.refresh(cs, conn, ["team-a", "team-b"]) == ["team-a"]
    assert json.loads((cs.team_dir("team-a") / "terraform.tfstate").read_text())["serial"] == 7
    assert not (cs.team_dir("team-b") / "terraform.tfstate").exists()
    assert cs.has_resources("team-a") and not cs.has_resources("team-b")


def test_a_second_state_directory_takes_the_cohort_from_its_bucket(tmp_path, conn):
    spec = _spec(tmp_path)
    a = StateDir(tmp_path / "A").cohort("fall26")
    rs.provision(a, conn, load_cohort(spec), spec)
    ss.put_file(conn.aws(), BUCKET, ss.team_key("team-a"), _state(4))
    b = StateDir(tmp_path / "B").cohort("fall26")
    assert rs.attach(b, conn) == rs.recorded(b)
    assert b.spec_copy.read_bytes() == spec.read_bytes()
    meta = b.meta()
    assert (meta.status, list(meta.all_teams)) == ("up", ["team-a", "team-b"])
    assert meta.team("team-a").status == "attached"
    assert b.has_resources("team-a") and (b.team_dir("team-b") / "terraform.tfvars.json").exists()
    assert rs.attach(StateDir(tmp_path / "C").cohort("spring27"), conn) is None     # no bucket: nothing


def _down_ready(tmp_path, conn, keep: bool):
    spec = _spec(tmp_path, state=f"state: {{backend: s3, keep: {str(keep).lower()}}}\n")
    cs = StateDir(tmp_path / "A").cohort("fall26")
    rs.provision(cs, conn, load_cohort(spec), spec)
    ss.put_file(conn.aws(), BUCKET, ss.team_key("team-a"), _state(4))
    return cs


def _no_terraform(team):
    raise AssertionError(f"no state to push, yet terraform was asked to for {team}")


def test_down_removes_the_bucket_only_when_the_whole_cohort_is_clean_and_not_kept(tmp_path, conn):
    cs = _down_ready(tmp_path, conn, keep=False)
    assert rs.after_down(_no_terraform, cs, conn, ["team-a"], whole_cohort=False, clean=True) == []
    notes = rs.after_down(_no_terraform, cs, conn, ["team-a"], whole_cohort=True, clean=False)
    assert notes == [f"state bucket s3://{BUCKET} kept: something is left, and its state is still needed"]
    assert ss.find_bucket(conn.aws(), "fall26") == BUCKET
    notes = rs.after_down(_no_terraform, cs, conn, ["team-a"], whole_cohort=True, clean=True)
    assert notes == [f"state bucket s3://{BUCKET} deleted (2 object versions)"]
    assert ss.find_bucket(conn.aws(), "fall26") is None


def test_down_keeps_the_bucket_with_state_keep(tmp_path, conn):
    cs = _down_ready(tmp_path, conn, keep=True)
    notes = rs.after_down(_no_terraform, cs, conn, ["team-a"], whole_cohort=True, clean=True)
    assert "kept (state.keep)" in notes[0]
    assert ss.find_bucket(conn.aws(), "fall26") == BUCKET


LOCKED = json.dumps({"@level": "error", "type": "diagnostic", "diagnostic": {
    "severity": "error", "summary": "Error acquiring the state lock",
    "detail": "Error message: operation error S3: PutObject, https response error StatusCode: 412\nLock Info:\n  ID: x"}})


def _plant_lock(conn, team: str) -> None:
    info = {"ID": "0b5e2f7c", "Operation": "OperationTypeApply", "Who": "ana@lab-laptop", "Version": "1.11.4",
            "Created": "2026-12-04T21:58:57Z", "Path": f"{BUCKET}/{ss.team_key(team)}"}
    ss.put_file(conn.aws(), BUCKET, ss.team_key(team) + ss.LOCK_SUFFIX, json.dumps(info).encode())


def test_up_names_who_holds_a_teams_lock_when_its_run_failed_on_it(tmp_path, conn):
    from labctl.ops.common import RunContext
    from labctl.ops.progress import Board
    from labctl.ops.up import _outcome
    from labctl.tf.events import Progress, parse_line
    from labctl.tf.runner import Result

    spec = _spec(tmp_path)
    cs = StateDir(tmp_path / "A").cohort("fall26")
    rs.provision(cs, conn, load_cohort(spec), spec)
    _plant_lock(conn, "team-a")
    progress = Progress()
    progress.feed(parse_line(LOCKED))
    ctx = RunContext(StateDir(tmp_path / "A"), cs, conn, "terraform", threading.Event())
    out = _outcome(ctx, "team-a", 0.0, Board("up", ["team-a"], quiet=True), Result(1, progress, "", LOCKED), "created",
                   record=False)
    assert out.status == "failed"
    assert "locked by ana@lab-laptop (apply since 2026-12-04T21:58:57Z, lock id 0b5e2f7c)" in out.error
    assert "labctl team unlock team-a --cohort fall26 --lock-id 0b5e2f7c" in out.error


def test_recovery_can_wait_for_a_teams_s3_lock(tmp_path, conn):
    spec = _spec(tmp_path)
    cs = StateDir(tmp_path / "A").cohort("fall26")
    rs.provision(cs, conn, load_cohort(spec), spec)
    assert rs.wait_unlocked(cs, conn, "team-a", 0)
    _plant_lock(conn, "team-a")
    assert not rs.wait_unlocked(cs, conn, "team-a", 0)


def test_crash_recovery_waits_for_the_lock_then_reads_the_last_save_or_names_the_holder(tmp_path, conn):
    spec = _spec(tmp_path)
    cs = StateDir(tmp_path / "A").cohort("fall26")
    rs.provision(cs, conn, load_cohort(spec), spec)
    cs.team_dir("team-a").mkdir(parents=True)
    (cs.team_dir("team-a") / "terraform.tfstate").write_bytes(_state(3))     # copy from before the crash
    ss.put_file(conn.aws(), BUCKET, ss.team_key("team-a"), _state(9))          # the run's last save
    assert rs.settle(cs, conn, "team-a", 0) is None
    assert json.loads((cs.team_dir("team-a") / "terraform.tfstate").read_text())["serial"] == 9
    _plant_lock(conn, "team-a")
    why = rs.settle(cs, conn, "team-a", 0)
    assert why is not None and "locked by ana@lab-laptop" in why
    assert "labctl team unlock team-a --cohort fall26 --lock-id 0b5e2f7c" in why


def test_a_second_state_directory_starts_from_the_knobs_last_applied(tmp_path, conn):
    from labctl.ops import team as T

    assert rs.KNOBS_FILE == T.KNOBS_FILE
    spec = _spec(tmp_path)
    a = StateDir(tmp_path / "A").cohort("fall26")
    rs.provision(a, conn, load_cohort(spec), spec)
    knobs = a.team_dir("team-a") / rs.KNOBS_FILE
    knobs.parent.mkdir(parents=True)
    knobs.write_text("job: {pool: spot}\n")
    rs.save_knobs(a, conn, "team-a", knobs)
    b = StateDir(tmp_path / "B").cohort("fall26")
    rs.attach(b, conn)
    assert (b.team_dir("team-a") / rs.KNOBS_FILE).read_text() == "job: {pool: spot}\n"
    assert not (b.team_dir("team-b") / rs.KNOBS_FILE).exists()


def test_with_an_account_per_team_the_bucket_stays_the_facilitators_and_each_team_runs_in_its_own(tmp_path, conn):
    """`accounts: per-team` with `state: {backend: s3}` (the emulator keeps resources per account):
    the bucket is made, found (from a second state directory) and named with the facilitator's
    credentials, in the facilitator's account and in no team's; each team root's backend points at
    it with no role of its own (terraform reads and locks the state as the facilitator), while the
    team's provider assumes the role in the team's account."""
    from labctl.aws.identity import caller_identity
    from labctl.tf.runner import Terraform

    accounts = {"team-a": "111111111111", "team-b": "222222222222"}
    spec = _spec(tmp_path, state="state: {backend: s3}\naccounts:\n  mode: per-team\n  teams: {team-a: '111111111111', "
                 "team-b: '222222222222'}\n")
    cohort = load_cohort(spec)
    conn = replace(conn, accounts=cohort.cohort.accounts, cohort="fall26")
    facilitator = caller_identity(conn.aws()).account
    a = StateDir(tmp_path / "A").cohort("fall26")
    got = rs.provision(a, conn, cohort, spec)
    assert got is not None and got.bucket == f"labctl-state-{facilitator}-fall26"
    assert got.bucket in {b["Name"] for b in conn.aws().client("s3").list_buckets()["Buckets"]}
    for team, account in accounts.items():
        there = conn.team_aws(team)          # the role in the team's account, checked to land there
        assert there.client("s3").list_buckets()["Buckets"] == [], (team, account)    # no state bucket there
    # A second state directory with the cohort file and the facilitator's credentials finds it,
    # and renders each team's root for its own account.
    b = StateDir(tmp_path / "B").cohort("fall26")
    assert rs.attach(b, conn) == rs.RemoteState(got.bucket, "us-east-1")
    for team, account in accounts.items():
        tf = rs.configure(Terraform(workdir=b.team_dir(team), cli_config=tmp_path / "rc", env={}), b, team)
        s3 = json.loads((b.team_dir(team) / "backend.tf.json").read_text())["terraform"]["backend"]["s3"]
        assert s3["bucket"] == got.bucket and not {"assume_role", "role_arn", "profile"} & set(s3), s3
        assert tf.env["TF_WORKSPACE"] == team
        tfvars = json.loads((b.team_dir(team) / "terraform.tfvars.json").read_text())
        assert tfvars["team_account"]["id"] == account and f":{account}:role/" in tfvars["team_account"]["role_arn"]


def _vpcs(n: int, serial: int) -> bytes:
    """A team state holding ``n`` VPCs, as terraform writes it (lineage L1)."""
    return json.dumps({"version": 4, "serial": serial, "lineage": "L1", "outputs": {}, "resources": [
        {"mode": "managed", "type": "aws_vpc", "name": f"v{i}", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
         "instances": [{"attributes": {"id": f"vpc-{i}"}}]} for i in range(n)]}).encode()


def test_status_shows_the_state_another_machine_applied_not_this_directorys_old_copy(tmp_path, conn):
    import os

    from labctl.aws import emulator as emu
    from labctl.ops.status import status

    conn = replace(conn, emulator_boot_id="boot-1")
    spec = _spec(tmp_path)
    ss_target = conn.aws()
    rs.provision(StateDir(tmp_path / "up").cohort("fall26"), conn, load_cohort(spec), spec)
    ss.put_file(ss_target, BUCKET, ss.team_key("team-a"), _vpcs(1, serial=3))
    a = StateDir(tmp_path / "A").cohort("fall26")
    assert rs.attach(a, conn) is not None       # machine A's directory, with its read copies
    (tmp_path / "A" / emu.STATE_FILE).write_text(json.dumps({"url": conn.endpoint_url, "boot_id": "boot-1",
                                                              "pid": os.getpid()}))
    before = {t.team: t.resources for t in status(spec, tmp_path / "A").teams}
    assert before == {"team-a": 1, "team-b": 0}
    # Machine B's `team apply` writes the team's state in S3 (as terraform does: same lineage, next serial).
    ss.put_file(ss_target, BUCKET, ss.team_key("team-a"), _vpcs(3, serial=4))
    ss.put_file(ss_target, BUCKET, ss.team_key("team-b"), _vpcs(2, serial=1))
    st = status("fall26", tmp_path / "A")
    assert {t.team: t.resources for t in st.teams} == {"team-a": 3, "team-b": 2} and st.notes == []
    assert json.loads((a.team_dir("team-a") / "terraform.tfstate").read_text())["serial"] == 4    # copy refreshed
    # Once the bucket is gone (torn down elsewhere), the copies are the last reads, kept and said so.
    ss.delete_bucket(ss_target, BUCKET)
    st = status("fall26", tmp_path / "A")
    assert {t.team: t.resources for t in st.teams} == {"team-a": 3, "team-b": 2}
    assert st.notes and "is gone" in st.notes[0]
    # The text output says it too, not only --output json.
    from click.testing import CliRunner

    from labctl.cli.main import _register, cli
    _register()
    res = CliRunner().invoke(cli, ["--state-dir", str(tmp_path / "A"), "status", "fall26"])
    assert res.exit_code == 0, res.output
    assert f"note: s3://{BUCKET} is gone" in res.output


def test_handouts_name_the_team_role_in_the_state_as_it_is_now_in_s3(tmp_path, conn):
    from labctl.ops.handouts import write_handouts

    spec = _spec(tmp_path)
    rs.provision(StateDir(tmp_path / "up").cohort("fall26"), conn, load_cohort(spec), spec)
    a = StateDir(tmp_path / "A").cohort("fall26")
    assert rs.attach(a, conn) is not None       # before team-a's first apply: A has no copy of its state
    (tmp_path / "A" / "emulator.json").write_text(json.dumps({"url": conn.endpoint_url, "boot_id": None}))
    role = "arn:aws:iam::123456789012:role/fall26-team-a-team"
    ss.put_file(conn.aws(), BUCKET, ss.team_key("team-a"), json.dumps({    # applied from machine B
        "version": 4, "serial": 1, "lineage": "L1", "resources": [],
        "outputs": {"team_role_arn": {"value": role, "type": "string"}}}).encode())
    report = write_handouts(spec, tmp_path / "A", tmp_path / "out")
    assert {h.team: h.role_arn for h in report.teams} == {"team-a": role, "team-b": None}
