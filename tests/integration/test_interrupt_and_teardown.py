"""Teardown is bounded and interruptible (real terraform, real processes, embedded emulator).

1. Ctrl-C (SIGINT) to a running `labctl up` stops it within seconds: terraform is told to stop
   and saves its state, the cohort lock is released, and labctl exits 130 naming the command that
   carries on. Running that command converges: one VPC, cluster and budget per team.
2. SIGTERM to a running `labctl down` does the same: its batch destroy (both teams, one terraform
   command) stops, and each team gets back its own state holding what is left of it.
3. A subnet that is in no Terraform state (what an interrupted apply leaves) no longer makes
   terraform's VPC delete retry DependencyViolation for twenty minutes: `down` sweeps it first,
   destroys, proves zero, and the proof lists the subnet as swept before destroying, and what the
   interrupted `down` had destroyed before it was stopped.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import yaml

from labctl.aws import emulator
from labctl.aws.inventory import inventory
from labctl.aws.session import AwsTarget
from labctl.errors import ExitCode
from labctl.state import StateDir
from tests.integration.conftest import mirror_or_skip, terraform_or_skip

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]

COHORT, TEAMS = "intr", ["a", "b"]
PROMPT_S = 15      # from the signal to labctl's exit


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    terraform_or_skip()
    mirror_or_skip()
    base = tmp_path_factory.mktemp("intr")
    state = base / "state"
    info, _ = emulator.start_background(state)
    spec = base / "cohort.yaml"
    spec.write_text(yaml.safe_dump({
        "cohort": COHORT, "target": "embedded", "region": "us-east-1", "lab": "gpu-baseline",
        "window": {"start": "2030-01-01T09:00:00Z", "duration": "4h"}, "teams": [{"name": t} for t in TEAMS]}))
    yield {"state": state, "spec": spec, "cs": StateDir(state).cohort(COHORT),
           "target": AwsTarget(kind="embedded", region="us-east-1", endpoint_url=info.url)}
    emulator.stop_background(state)


def _labctl(state, *args):
    return [sys.executable, "-m", "labctl", "--state-dir", str(state), *args]


def _signal_once(world, args, stream, marker, count, sig):
    """Start labctl, send ``sig`` once ``stream`` holds ``count`` lines with ``marker``; returns
    (returncode, seconds from the signal to the exit, stderr)."""
    # As from a terminal: Ctrl-C's default disposition, even where the test runner was started as a
    # background job (a non-interactive shell starts those with SIGINT ignored, and children inherit it).
    proc = subprocess.Popen(_labctl(world["state"], *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if stream.read_text().count(marker) >= count:
                break
        except FileNotFoundError:
            pass
        time.sleep(0.2)
    assert proc.poll() is None, f"labctl ended before the signal: {proc.communicate()}"
    proc.send_signal(sig)
    t0 = time.monotonic()
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"labctl did not stop within 60 s of {sig.name}")
    return proc.returncode, time.monotonic() - t0, err


def _one_of_each_per_team(target):
    found = inventory(target, COHORT).resources
    for team in TEAMS:
        mine = Counter(r.type for r in found if r.team == team)
        for kind in ("ec2:vpc", "eks:cluster", "budgets:budget", "s3:bucket"):
            assert mine[kind] == 1, (team, kind, mine)


def test_1_ctrl_c_stops_up_promptly_and_the_rerun_converges(world):
    stream = world["cs"].root / "batches" / "batch-a" / ".labctl-runs" / "apply.stdout"
    rc, seconds, err = _signal_once(world, ["up", str(world["spec"])], stream, '"type":"apply_complete"', 6,
                                    signal.SIGINT)
    assert rc == ExitCode.CANCELLED, err[-2000:]
    assert seconds < PROMPT_S, seconds
    assert f"up {world['spec']}` to carry on" in err and "interrupted (SIGINT)" in err, err[-2000:]
    assert world["cs"].lock_holder() is None            # the lock file names no holder
    # terraform saved its state on the way out: the interrupted batch is split into the teams' own
    rerun = subprocess.run(_labctl(world["state"], "--output", "json", "up", str(world["spec"])),
                           capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, (rerun.stdout[-3000:], rerun.stderr[-3000:])
    _one_of_each_per_team(world["target"])


def test_2_sigterm_stops_down_promptly_and_releases_the_lock(world):
    stream = world["cs"].root / "batches" / "down-a" / ".labctl-runs" / "apply.stdout"
    stream.unlink(missing_ok=True)
    rc, seconds, err = _signal_once(world, ["down", COHORT], stream, 'Destruction complete', 2, signal.SIGTERM)
    assert rc == ExitCode.CANCELLED, err[-2000:]
    assert seconds < PROMPT_S, seconds
    assert f"down {COHORT}` to carry on" in err and "interrupted (SIGTERM)" in err, err[-2000:]
    assert world["cs"].lock_holder() is None
    assert json.loads((world["cs"].root / "meta.json").read_text())["status"] == "up"    # not torn down yet
    # What is left is back in each team's own state (the batch's is gone), and what was destroyed
    # before the signal is written down for the next `down`'s proof.
    assert not (world["cs"].root / "batches" / "down-a" / "terraform.tfstate").exists()
    assert world["cs"].has_resources("b")
    journal = [json.loads(line) for line in (world["cs"].root / "teardown-journal.jsonl").read_text().splitlines()]
    world["destroyed_before_sigterm"] = {(e["team"], e["item"]) for e in journal if e["how"] == "destroyed"}
    assert len(world["destroyed_before_sigterm"]) >= 2, journal


def test_3_a_subnet_in_no_state_is_swept_before_the_destroy_that_it_would_hang(world):
    ec2 = world["target"].client("ec2")
    vpcs = [r.id for r in inventory(world["target"], COHORT).resources if r.type == "ec2:vpc" and r.team == "b"]
    assert vpcs, "team b's VPC should still stand after the interrupted down"
    tags = [{"Key": "labctl:cohort", "Value": COHORT}, {"Key": "labctl:team", "Value": "b"}]
    orphan = ec2.create_subnet(VpcId=vpcs[0], CidrBlock="10.0.192.0/20", TagSpecifications=[
        {"ResourceType": "subnet", "Tags": tags}])["Subnet"]["SubnetId"]
    t0 = time.monotonic()
    res = subprocess.run(_labctl(world["state"], "--output", "json", "down", COHORT), capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-3000:])
    assert time.monotonic() - t0 < 300
    out = json.loads(res.stdout)
    assert out["clean"] is True and inventory(world["target"], COHORT).resources == ()
    assert out["teams"]["b"]["destroy"] == "destroyed"
    proof = json.loads((world["cs"].root / "reports" / "teardown-b.json").read_text())
    assert any(orphan in s for s in proof["swept_before_destroy"]), proof
    assert any(orphan in s for s in proof["swept"]) and proof["clean"]
    # The interrupted `down` wrote no proof: this one lists what that one had destroyed, too.
    proofs = {t: json.loads((world["cs"].root / "reports" / f"teardown-{t}.json").read_text()) for t in TEAMS}
    for team, address in world["destroyed_before_sigterm"]:
        assert address in proofs[team]["destroyed"] and proofs[team]["earlier_runs"], (team, address)
    assert not (world["cs"].root / "teardown-journal.jsonl").exists()
