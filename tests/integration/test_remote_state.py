"""A cohort with its Terraform state in S3 (`state: {backend: s3}`), real terraform and the aws
provider against the emulator, one team: provisioned from state directory A by an `up` killed
(labctl, terraform and its provider at once) while its terraform held the team's S3 lock, then
rerun: the stale lock is reported, proven left by that dead run and taken over, and the team
converges with one of everything; the bucket's settings; read, applied and torn down from a fresh
state directory B that has only the cohort file; two applies of the team at once from A and B
serialised by Terraform's S3 lock (no write lost); another machine's lock reported with its holder
and released with `team unlock`; the team run from its root alone.

One team keeps it small: every step needs the state a real apply wrote, so one module-scoped
cohort serves them in order.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from labctl.aws import emulator
from labctl.aws import state_store as ss
from labctl.aws.inventory import inventory
from labctl.aws.session import AwsTarget
from labctl.ops import state_lock
from labctl.ops import team as T
from labctl.ops.down import down
from labctl.ops.status import status
from labctl.ops.team_run import run_team
from labctl.ops.up import up
from labctl.state import StateDir
from labctl.tf import run_trace
from labctl.tf.runner import KILL_AFTER_ENV
from tests.integration.conftest import mirror_or_skip, terraform_or_skip

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]

BUCKET = "labctl-state-123456789012-rs"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    terraform_or_skip()
    mirror_or_skip()
    root = tmp_path_factory.mktemp("remote")
    a, b, spec = root / "A", root / "B", root / "cohort.yaml"
    start = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    spec.write_text(textwrap.dedent(f"""\
        cohort: rs
        window: {{start: {start}, duration: 4h}}
        lab: explore-instances
        state: {{backend: s3}}
        teams:
          - name: alpha
            knobs: {{node_groups: {{gpu_spot: {{max_size: 0}}}}}}
    """))
    info, _ = emulator.start_background(a)
    b.mkdir()
    shutil.copy(a / emulator.STATE_FILE, b / emulator.STATE_FILE)     # B reaches the same "cloud"
    # `up`, killed after 14 resources with its whole process tree (the runner's fault hook, as a
    # laptop that dies): its terraform held the team's S3 lock, so the lock object stays behind.
    killed = subprocess.run([sys.executable, "-m", "labctl", "--state-dir", str(a), "up", str(spec)],
                            env={**os.environ, KILL_AFTER_ENV: "14"}, capture_output=True, text=True, timeout=600)
    target = AwsTarget("embedded", "us-east-1", endpoint_url=info.url)
    left = ss.lock_holder(target, BUCKET, "alpha")
    reported = state_lock.holder_message(spec, a, "alpha")
    rerun = up(spec, a, quiet=True)
    yield {"a": a, "b": b, "spec": spec, "url": info.url, "root": root, "killed": killed, "left": left,
           "reported": reported, "rerun": rerun}
    emulator.stop_background(a)


def _target(world) -> AwsTarget:
    return AwsTarget("embedded", "us-east-1", endpoint_url=world["url"])


def _s3_state(world) -> dict:
    return json.loads(ss.team_state(_target(world), BUCKET, "alpha") or b"{}")


def test_0_up_killed_holding_the_s3_lock_converges_on_rerun_which_takes_the_stale_lock_over(world):
    killed, left = world["killed"], world["left"]
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    assert left is not None, "the killed run's terraform left no lock in the bucket"
    assert left.who.endswith("@" + socket.gethostname()) and left.operation == "OperationTypeApply", left
    # Reported, with its holder and the command that releases it, before anything else runs.
    assert left.who in world["reported"] and f"--lock-id {left.id}" in world["reported"], world["reported"]
    rerun = world["rerun"]
    assert not rerun.failed, rerun.as_dict()
    # The rerun proved the lock its own dead run's (this machine, that run's terraform gone, the
    # lock created while it worked), released it, said so naming the holder, and carried on.
    said = rerun.teams[0].reconciled
    assert said and said[0].startswith("released its state lock, left by " + left.who) and left.id in said[0], said
    audit = [e for e in StateDir(world["a"]).cohort("rs").audit_entries() if e["command"] == "state-lock"]
    assert [(e["result"], e["lock_id"]) for e in audit] == [("taken-over", left.id)]
    assert ss.lock_holder(_target(world), BUCKET, "alpha") is None
    mine = Counter(r.type for r in inventory(_target(world), "rs").resources if r.team == "alpha")
    assert all(mine[kind] == 1 for kind in ("ec2:vpc", "eks:cluster", "budgets:budget", "s3:bucket")), mine


def test_1_the_state_is_in_a_private_versioned_encrypted_bucket_and_only_read_locally(world):
    settings = ss.bucket_settings(_target(world), BUCKET)
    assert settings.versioning and settings.encryption == "AES256" and settings.public_access_blocked
    state = _s3_state(world)
    assert len(state["resources"]) > 40
    team_dir = StateDir(world["a"]).cohort("rs").team_dir("alpha")
    backend = json.loads((team_dir / "backend.tf.json").read_text())["terraform"]["backend"]["s3"]
    assert backend["bucket"] == BUCKET and backend["use_lockfile"] is True
    # The local file is a copy of S3's (the readers' view), not a second state.
    assert json.loads((team_dir / "terraform.tfstate").read_text())["lineage"] == state["lineage"]
    assert not (StateDir(world["a"]).cohort("rs").root / "batches" / "batch-alpha" / "terraform.tfstate").exists()


def test_2_a_second_state_directory_with_only_the_cohort_file_reads_the_team(world):
    # (It plans and applies the team in test_3, and plans with no change left after both applies.)
    st = status(world["spec"], world["b"])
    alpha = next(t for t in st.teams if t.team == "alpha")
    assert alpha.resources == len([1 for r in _s3_state(world)["resources"] if r["mode"] == "managed"
                                   for _ in r["instances"]])
    assert alpha.cluster == "rs-alpha"


def _disk(world, state_dir, gib: int) -> None:
    T.team_knobs(world["spec"], state_dir, "alpha")
    path = T.knobs_path(StateDir(state_dir).cohort("rs"), "alpha")
    text, n = re.subn(r"(  gpu_on_demand:\n(?:    .*\n)*?    disk_gib: )\d+", rf"\g<1>{gib}", path.read_text())
    assert n == 1, text
    path.write_text(text)


def test_3_two_applies_at_once_from_A_and_B_are_serialised_by_the_s3_lock(world):
    lineage = _s3_state(world)["lineage"]
    _disk(world, world["a"], 60)
    _disk(world, world["b"], 80)
    done: dict[str, tuple[float, float, object]] = {}

    def apply_from(name: str) -> None:
        t0 = time.monotonic()
        res = T.team_apply(world["spec"], world[name], "alpha")
        done[name] = (t0, time.monotonic(), res)

    threads = [threading.Thread(target=apply_from, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert set(done) == {"a", "b"}
    for name, (_, _, res) in done.items():
        assert res.status == "changed", (name, res.as_dict())
    (sa, ea, _), (sb, eb, _) = done["a"], done["b"]
    assert sa < eb and sb < ea, "the two applies did not overlap: nothing was contended"
    # Neither write was lost: the node group's launch template went 1 -> 2 -> 3, one version per
    # apply, each apply planned against the state the other had written.
    eks = boto3.client("eks", endpoint_url=world["url"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    ng = eks.describe_nodegroup(clusterName="rs-alpha", nodegroupName="rs-alpha-gpu_on_demand")["nodegroup"]
    assert ng["launchTemplate"]["version"] == "3"
    state = _s3_state(world)
    assert state["lineage"] == lineage
    last = "a" if ea > eb else "b"
    assert T.team_plan(world["spec"], world[last], "alpha").changes == []


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _argv(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def test_3b_a_team_plan_killed_holding_the_lock_is_taken_over_by_the_next_plan_at_once(world):
    _disk(world, world["a"], 70)                   # a change, so the plan reports work under the lock
    out = run_trace.output_file(StateDir(world["a"]).cohort("rs").team_dir("alpha"), "plan")
    proc = subprocess.Popen([sys.executable, "-m", "labctl", "--state-dir", str(world["a"]), "team", "plan", "alpha",
                             "--cohort", str(world["spec"])], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    tf, deadline, caught = None, time.monotonic() + 120, False
    try:
        # terraform (its own process group, with its provider) is run in 10 ms steps and stopped
        # between them, until it has reported planning under the lock: then everything is killed.
        while time.monotonic() < deadline and proc.poll() is None and not caught:
            tf = tf or next((c for c in _children(proc.pid) if _argv(c)[1:2] == [b"plan"]), None)
            if tf is None:
                time.sleep(0.05)
                continue
            os.killpg(tf, signal.SIGSTOP)
            caught = run_trace.last_locked_event_at(out) is not None and ss.lock_holder(_target(world), BUCKET, "alpha") is not None
            if not caught:
                os.killpg(tf, signal.SIGCONT)
                time.sleep(0.01)
    finally:
        for group in (tf, proc.pid):
            if group is not None:
                try:
                    os.killpg(group, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        proc.wait(timeout=30)
    assert caught, "the plan finished (or never planned) before it could be killed holding the lock"
    left = ss.lock_holder(_target(world), BUCKET, "alpha")
    assert left is not None and left.operation == "OperationTypePlan", left
    t0 = time.monotonic()
    res = T.team_plan(world["spec"], world["a"], "alpha")
    took = time.monotonic() - t0
    assert res.status == "would-change", res.as_dict()
    assert res.reconciled and res.reconciled[0].startswith("released its state lock, left by " + left.who), res.reconciled
    assert left.id in res.reconciled[0] and ss.lock_holder(_target(world), BUCKET, "alpha") is None
    assert took < 60, took          # it did not wait out terraform's 120 s lock timeout first


def test_4_a_lock_left_by_a_killed_run_is_reported_with_its_holder_and_released(world):
    info = {"ID": "0b5e2f7c-dead-4e5a-9d7e-killedrun001", "Operation": "OperationTypeApply", "Info": "",
            "Who": "ana@lab-laptop", "Version": "1.11.4", "Created": "2026-12-04T21:58:57Z",
            "Path": f"{BUCKET}/{ss.team_key('alpha')}"}
    s3 = _target(world).client("s3")
    s3.put_object(Bucket=BUCKET, Key=ss.team_key("alpha") + ss.LOCK_SUFFIX, Body=json.dumps(info).encode())
    message = state_lock.holder_message(world["spec"], world["b"], "alpha")
    assert message is not None and "ana@lab-laptop" in message and info["ID"] in message
    assert "labctl team unlock alpha --cohort rs" in message
    released = state_lock.unlock(world["spec"], world["b"], "alpha", lock_id=info["ID"])
    assert "ana@lab-laptop" in released
    assert ss.lock_holder(_target(world), BUCKET, "alpha") is None


def test_5_a_team_runs_from_its_rendered_root_and_credentials_alone(world):
    src = StateDir(world["a"]).cohort("rs").team_dir("alpha")
    root = world["root"] / "elsewhere" / "alpha"
    root.mkdir(parents=True)
    for f in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "terraform.tfvars.json", "backend.tf.json"):
        shutil.copy(src / f, root / f)
    shutil.copytree(src / "modules", root / "modules")
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": world["url"], "PATH": os.environ["PATH"]}
    res = run_team(root, "plan", environ=env)
    # It planned against the team's state in S3: nothing to create (with no state it would create
    # ~47 resources); at most A's disk size back, if B's apply was the last one.
    assert res.workspace == "alpha" and res.ok and res.summary is not None, res.as_dict()
    assert (res.summary["add"], res.summary["remove"]) == (0, 0), res.as_dict()
    assert not (root / "terraform.tfstate").exists() and not (root / ".labctl").exists()


def test_6_down_from_B_writes_the_proof_then_removes_the_bucket(world):
    report = down(world["spec"], world["b"], quiet=True)
    assert report.clean, report.left
    proof = json.loads((StateDir(world["b"]).cohort("rs").reports_dir / "teardown-alpha.json").read_text())
    assert proof["clean"] and proof["destroyed"]
    assert any("state bucket" in n and "deleted" in n for n in report.notes), report.notes
    assert ss.find_bucket(_target(world), "rs") is None


def test_7_terraform_writes_a_plans_summary_under_the_lock_and_an_applys_after_releasing_it(tmp_path):
    """What labctl.tf.run_trace relies on to prove a killed no-change plan's lock: terraform's output
    is blocked at a summary line (a pipe left with less room than the line), and whether the state
    is locked then is read from the local backend's lock file. No provider: terraform_data."""
    terraform_or_skip()
    (tmp_path / "main.tf").write_text('variable "v" {}\nresource "terraform_data" "x" { input = var.v }\n')
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TF_IN_AUTOMATION": "1"}

    def tf(*args: str, stdout: int | None = None) -> subprocess.Popen:
        return subprocess.Popen(["terraform", *args, "-input=false", "-no-color"], cwd=tmp_path, env=env,
                                stdout=stdout if stdout is not None else subprocess.PIPE, stderr=subprocess.DEVNULL)

    assert tf("init").wait(timeout=120) == 0 and tf("apply", "-auto-approve", "-var", "v=a").wait(timeout=120) == 0

    def locked_at_summary(operation: str, *args: str) -> bool:
        """Whether terraform holds the lock while it writes ``operation``'s summary line (asserting
        that it was indeed stopped there, not finished)."""
        text = tf(*args).communicate(timeout=120)[0].decode()        # a first run: where the line is
        assert tf("apply", "-auto-approve", "-var", "v=a").wait(timeout=120) == 0      # the same start again
        lines = text.splitlines(keepends=True)
        at = next(i for i, ln in enumerate(lines) if '"type":"change_summary"' in ln and f'"operation":"{operation}"' in ln)
        before, size = sum(len(ln.encode()) for ln in lines[:at]), len(lines[at].encode())
        r, w = os.pipe()
        room = 65536 - before - (size - 40)        # the pipe holds 64 KiB: fewer bytes than the line are left
        os.write(w, b"x" * room)
        p = tf(*args, stdout=w)
        os.close(w)
        time.sleep(3)
        assert p.poll() is None, "terraform was not stopped at the summary line"
        held = (tmp_path / ".terraform.tfstate.lock.info").exists()
        while os.read(r, 65536):
            pass
        p.wait(timeout=60)
        return held

    assert locked_at_summary("plan", "plan", "-json", "-refresh=false", "-var", "v=b")
    assert not locked_at_summary("apply", "apply", "-json", "-auto-approve", "-var", "v=c")
