"""A crashed `up` is resumed by running `up` again (no duplicates), whether it was applying one
team's root or a batch of new teams, and the reaper tears down a cohort whose window has ended
without anyone running `down`. Real terraform, real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from labctl.aws import emulator
from labctl.aws.inventory import inventory
from labctl.aws.session import AwsTarget
from tests.integration.conftest import mirror_or_skip, terraform_or_skip

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]


def labctl(state, *args):
    return [sys.executable, "-m", "labctl", "--state-dir", str(state), *args]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def kill_up_after_creates(state, spec, stream, creates, timeout):
    """Start `labctl up` and SIGKILL it once terraform has created ``creates`` resources."""
    proc = subprocess.Popen(labctl(state, "up", str(spec)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def created_some():
        try:
            return stream.read_text().count('"action":"create","id_key"') >= creates
        except FileNotFoundError:
            return False

    wait_for(created_some, timeout, "terraform to create some resources")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _emulator(tmp_path):
    terraform_or_skip()
    mirror_or_skip()
    state = tmp_path / "state"
    info, _ = emulator.start_background(state)
    return state, AwsTarget(kind="embedded", region="us-east-1", endpoint_url=info.url)


def _cohort(tmp_path, cohort, duration, teams):
    """A gpu-baseline cohort on the embedded target whose window starts now."""
    start = datetime.now(timezone.utc).replace(microsecond=0)
    spec = tmp_path / f"{cohort}.yaml"
    spec.write_text(yaml.safe_dump({
        "cohort": cohort, "target": "embedded", "region": "us-east-1", "lab": "gpu-baseline",
        "window": {"start": start.isoformat(), "duration": duration}, "teams": [{"name": t} for t in teams]}))
    return spec, start


def test_killed_up_resumes_without_duplicates_then_the_reaper_tears_down(tmp_path):
    state, target = _emulator(tmp_path)
    try:
        spec, start = _cohort(tmp_path, "crash", "2m", ["solo"])

        # 1. `up`, killed with SIGKILL once terraform is part-way through creating resources.
        stream = state / "cohorts" / "crash" / "teams" / "solo" / ".labctl-runs" / "apply.stdout"
        kill_up_after_creates(state, spec, stream, 8, 180)

        # 2. `up` again converges: everything exists once (the 2-minute window may be over by now).
        rerun = subprocess.run(labctl(state, "--output", "json", "up", str(spec), "--allow-past"), capture_output=True, text=True,
                               timeout=600)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert json.loads(rerun.stdout)["teams"][0]["status"] in ("created", "changed", "unchanged")
        types = [r.type for r in inventory(target, "crash").resources]
        for t in ("ec2:vpc", "eks:cluster", "s3:bucket", "budgets:budget", "ec2:internet-gateway"):
            assert types.count(t) == 1, (t, types.count(t))
        assert types.count("eks:nodegroup") == 2 and types.count("ec2:subnet") == 2

        # 3. The reaper notices the window has ended and tears down, with proof.
        end = start + timedelta(minutes=2)
        # SIGINT's default disposition, as from a terminal, even when the tests run as a background job.
        reaper = subprocess.Popen(labctl(state, "reaper", "--interval", "2"), stdout=subprocess.PIPE,
                                  preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                                  stderr=subprocess.STDOUT, text=True)
        meta = state / "cohorts" / "crash" / "meta.json"
        try:
            wait_for(lambda: json.loads(meta.read_text()).get("status") in ("down", "down-with-leftovers"),
                     int((end - datetime.now(timezone.utc)).total_seconds()) + 300, "the reaper")
        finally:
            reaper.send_signal(signal.SIGINT)
            try:
                reaper.wait(timeout=30)
            except subprocess.TimeoutExpired:
                reaper.kill()
        assert json.loads(meta.read_text())["status"] == "down"
        proof = json.loads((state / "cohorts" / "crash" / "reports" / "teardown-solo.json").read_text())
        assert proof["clean"] is True and proof["reason"] == "reaper: window ended"
        assert inventory(target, "crash").resources == ()
        audit = (state / "cohorts" / "crash" / "audit.log").read_text()
        assert '"command": "down"' in audit and "reaper" in audit
    finally:
        emulator.stop_background(state)


def test_up_killed_mid_batch_resumes_each_team_from_its_own_state(tmp_path):
    """Two new teams are created by one terraform command (a batch). labctl is killed while it
    runs; terraform, in its own session, finishes and leaves the batch's state. The next `up`
    waits for terraform's lock, splits that state into the teams' own, and finds them complete."""
    state, target = _emulator(tmp_path)
    try:
        spec, _ = _cohort(tmp_path, "crashb", "2h", ["one", "two"])
        cohort_dir = state / "cohorts" / "crashb"
        batch = cohort_dir / "batches" / "batch-one"
        stream = batch / ".labctl-runs" / "apply.stdout"
        kill_up_after_creates(state, spec, stream, 12, 240)
        assert (batch / "terraform.tfstate").exists()       # terraform goes on alone, holding its lock

        rerun = subprocess.run(labctl(state, "--output", "json", "up", str(spec)), capture_output=True, text=True,
                               timeout=600)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        statuses = {t["team"]: t["status"] for t in json.loads(rerun.stdout)["teams"]}
        assert set(statuses.values()) <= {"changed", "unchanged"}, statuses   # resumed, not created again
        assert not (batch / "terraform.tfstate").exists()
        assert '"command": "recover"' in (cohort_dir / "audit.log").read_text()
        types = [r.type for r in inventory(target, "crashb").resources]
        for t in ("ec2:vpc", "eks:cluster", "s3:bucket", "budgets:budget", "ec2:internet-gateway"):
            assert types.count(t) == 2, (t, types.count(t))
        assert types.count("eks:nodegroup") == 4
    finally:
        emulator.stop_background(state)

