"""A corrupt or truncated state never blocks teardown (a full disk cut a batch's state off mid-
write): `down` sets it aside, sweeps by tag and writes the proof; the reaper records a failure and
goes on; `up` says what happened and what to run; a full disk is exit 8 with one line. No exit 1."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import boto3
import pytest

from labctl.errors import ExitCode
from tests.unit.conftest import cohort_up_on_emulator

pytestmark = [pytest.mark.emulator]

COHORT = """\
cohort: cut
target: embedded
region: us-east-1
window: {start: 2030-01-01T09:00:00Z, duration: 4h}
lab: gpu-baseline
teams:
  - name: team-a
  - name: team-b
"""


@pytest.fixture
def world(tmp_path):
    """A cohort whose `up` died of a full disk: its batch state is cut off mid-JSON, one team's own
    state is empty, meta.json is half written; the emulator still holds a tagged VPC per team."""
    state = tmp_path / "state"
    spec = tmp_path / "cohort.yaml"
    spec.write_text(COHORT)
    with cohort_up_on_emulator(state, "cut", ["team-a", "team-b"]) as (cs, e):
        (cs.root / "cohort.yaml").write_text(COHORT)
        bdir = cs.root / "batches" / "batch-team-a"
        bdir.mkdir(parents=True)
        (bdir / "terraform.tfvars.json").write_text(json.dumps({"teams": {"team-a": {}, "team-b": {}}}))
        (bdir / "terraform.tfstate").write_text('{"version": 4, "resources": [{"mode": "managed", "type": "aws_v')
        cs.team_dir("team-b").mkdir(parents=True)
        (cs.team_dir("team-b") / "terraform.tfstate").write_text('{"version": 4, "resour')
        ec2 = boto3.client("ec2", endpoint_url=e.url, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        vpcs = []
        for team in ("team-a", "team-b"):
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [
                {"Key": "labctl:cohort", "Value": "cut"}, {"Key": "labctl:team", "Value": team}]}])["Vpc"]["VpcId"]
            vpcs.append(vpc)
        yield {"state": state, "spec": spec, "cs": cs, "ec2": ec2, "vpcs": vpcs, "batch": bdir}


def _tagged_vpcs(ec2) -> list[str]:
    return [v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "tag:labctl:cohort", "Values": ["cut"]}])["Vpcs"]]


def _no_traceback(res) -> None:
    assert "Traceback" not in res.output and "internal error" not in res.output, res.output


def test_down_sets_unreadable_states_aside_sweeps_and_proves_zero(run_cli, world):
    res = run_cli("down", "cut", state_dir=world["state"])
    _no_traceback(res)
    assert res.exit_code == 0, res.output
    assert _tagged_vpcs(world["ec2"]) == []
    assert "batch that created team-a, team-b was unreadable" in res.output
    assert "team-b: its Terraform state was unreadable" in res.output
    assert list(world["batch"].glob("terraform.tfstate.unreadable-*"))
    assert list(world["cs"].team_dir("team-b").glob("terraform.tfstate.unreadable-*"))
    proofs = {p.name: json.loads(p.read_text()) for p in (world["cs"].root / "reports").glob("teardown-*.json")}
    swept = [item for p in proofs.values() for item in p["swept"]]
    assert sorted(v for v in world["vpcs"] if any(v in s for s in swept)) == sorted(world["vpcs"])
    assert all(p["clean"] for p in proofs.values())
    audit = (world["cs"].root / "audit.log").read_text()
    assert '"result": "unreadable"' in audit and '"result": "state-unreadable"' in audit


def test_up_refuses_with_what_happened_and_what_to_run(run_cli, world):
    res = run_cli("up", str(world["spec"]), state_dir=world["state"])
    _no_traceback(res)
    assert res.exit_code == ExitCode.REFUSED, res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, res.output
    assert "unreadable" in errors[0] and " down cut`" in errors[0]
    assert len(_tagged_vpcs(world["ec2"])) == 2          # nothing was created or removed


def test_an_unreadable_meta_json_is_rebuilt_from_the_cohort_file_and_down_still_works(run_cli, world):
    (world["cs"].root / "meta.json").write_text('{"cohort": "cut", "tar')
    res = run_cli("down", "cut", state_dir=world["state"])
    _no_traceback(res)
    assert res.exit_code == 0, res.output
    assert _tagged_vpcs(world["ec2"]) == []
    assert list(world["cs"].root.glob("meta.json.unreadable-*"))
    assert world["cs"].meta().status == "down"


def test_the_reaper_tears_down_a_cohort_with_a_truncated_state(run_cli, world):
    res = run_cli("reaper", "--once", state_dir=world["state"])
    _no_traceback(res)
    assert res.exit_code == 0, res.output
    assert _tagged_vpcs(world["ec2"]) == []
    assert world["cs"].meta().status == "down"


def test_a_full_disk_is_exit_8_with_one_line(run_cli, tmp_path, monkeypatch):
    target = tmp_path / "cohort.yaml"
    real = Path.write_text

    def full(self, *a, **kw):
        if self == target:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *a, **kw)

    monkeypatch.setattr(Path, "write_text", full)
    res = run_cli("init", str(target))
    _no_traceback(res)
    assert res.exit_code == ExitCode.ENVIRONMENT, res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "no space left" in errors[0].lower() and str(target) in errors[0]
