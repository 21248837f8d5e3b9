"""The teardown proof accounts for everything removed by any means, and the reaper's dry run says
what it would tear down. In-process emulator (moto), no terraform: the teams have no state, so
what the emulator holds of them is, to `down`, what an interrupted apply left outside any state.

* what is in no state is swept before any destroy (a subnet terraform does not know would keep
  its VPC from being deleted) and the proof lists it under ``swept_before_destroy``;
* what another command removed meanwhile (a concurrent `labctl sweep`) is listed as
  ``removed_elsewhere``: the proof never says "swept 0" while resources went away;
* `reaper --dry-run` names per cohort the teams and how much it would destroy and sweep.
"""

from __future__ import annotations

import json

import boto3
import pytest

from tests.unit.conftest import cohort_up_on_emulator

pytestmark = [pytest.mark.emulator]

TAGS = lambda team: [{"Key": "labctl:cohort", "Value": "acct"}, {"Key": "labctl:team", "Value": team}]  # noqa: E731


@pytest.fixture
def world(tmp_path):
    state = tmp_path / "state"
    with cohort_up_on_emulator(state, "acct", ["a", "b"]) as (cs, e):
        ec2 = boto3.client("ec2", endpoint_url=e.url, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        made = {}
        for i, team in enumerate(("a", "b")):
            vpc = ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16", TagSpecifications=[
                {"ResourceType": "vpc", "Tags": TAGS(team)}])["Vpc"]["VpcId"]
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{i}.0.0/20", TagSpecifications=[
                {"ResourceType": "subnet", "Tags": TAGS(team)}])["Subnet"]["SubnetId"]
            made[team] = {"vpc": vpc, "subnet": subnet}
        yield {"state": state, "cs": cs, "ec2": ec2, "made": made}


def _proof(cs, team):
    return json.loads((cs.root / "reports" / f"teardown-{team}.json").read_text())


def test_what_is_in_no_state_is_swept_before_destroying_and_the_proof_lists_it(run_cli, world):
    res = run_cli("down", "acct", state_dir=world["state"])
    assert res.exit_code == 0, res.output
    for team, ids in world["made"].items():
        proof = _proof(world["cs"], team)
        before = " ".join(proof["swept_before_destroy"])
        assert ids["subnet"] in before and ids["vpc"] in before, proof
        assert set(proof["swept_before_destroy"]) <= set(proof["swept"]) and proof["clean"]
        assert f"{team}: destroy nothing-to-destroy (0 resources), swept 2 (2 in no state, before destroying)" in res.output


def test_what_a_concurrent_sweep_removed_is_in_the_proof_not_swept_0(run_cli, world, monkeypatch):
    """Another shell's `labctl sweep` deletes team b's subnet and VPC between `down`'s first
    listing and its own sweep."""
    from labctl.ops import down as down_mod

    real = down_mod.inventory_in       # every account the cohort uses (one here)
    calls = []

    def listing_then_concurrent_sweep(targets, cohort, team=None):  # type: ignore[no-untyped-def]
        found = real(targets, cohort, team)
        if not calls:
            world["ec2"].delete_subnet(SubnetId=world["made"]["b"]["subnet"])
            world["ec2"].delete_vpc(VpcId=world["made"]["b"]["vpc"])
        calls.append(1)
        return found

    monkeypatch.setattr(down_mod, "inventory_in", listing_then_concurrent_sweep)
    res = run_cli("down", "acct", "--output", "json", state_dir=world["state"])
    assert res.exit_code == 0, res.output
    b = json.loads(res.stdout)["teams"]["b"]
    assert {x.split()[1] for x in b["removed_elsewhere"]} == set(world["made"]["b"].values()), b
    proof = _proof(world["cs"], "b")
    assert {x.split()[1] for x in proof["removed_elsewhere"]} == set(world["made"]["b"].values())
    assert proof["swept"] == [] and proof["clean"]


def test_reaper_dry_run_says_what_it_would_tear_down_never_clean(run_cli, world):
    res = run_cli("reaper", "--dry-run", state_dir=world["state"])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("reaper: acct:")]
    assert lines == ["reaper: acct: would tear down 4 resources: a (sweep 2); b (sweep 2) (dry run; nothing changed)"], res.output
    assert "clean" not in res.output
    assert len(world["ec2"].describe_vpcs(Filters=[{"Name": "tag:labctl:cohort", "Values": ["acct"]}])["Vpcs"]) == 2
