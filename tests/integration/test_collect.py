"""Collectors and the guardrail against the embedded emulator (boto3 creates the resources)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import boto3
import pytest

from labctl.aws.emulator import Emulator
from labctl.aws.session import AwsTarget
from labctl.ops.collect import collect_once
from labctl.ops.guardrail import guardrail
from labctl.ops.live import live_status
from labctl.meta import CohortMeta
from labctl.state import StateDir, now
from labctl.telemetry.store import Lifecycle, Store

pytestmark = pytest.mark.emulator
COHORT = "c1"


@pytest.fixture(scope="module")
def emu():
    with Emulator() as e:
        yield e


def _client(emu, service):
    return boto3.client(service, endpoint_url=emu.url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _cohort(tmp_path, teams=("a", "b")):
    cs = StateDir(tmp_path).cohort(COHORT)
    cs.root.mkdir(parents=True)
    cs.write_meta(CohortMeta.from_dict({"cohort": COHORT, "target": "embedded", "region": "us-east-1", "all_teams": list(teams),
                   "window_start": (now() - timedelta(hours=1)).isoformat(),
                   "window_end": (now() + timedelta(hours=3)).isoformat(), "status": "up"}))
    return cs


def _run(ec2, team, itype, spot=False):
    tags = [{"Key": "labctl:cohort", "Value": COHORT}, {"Key": "labctl:team", "Value": team},
            {"Key": "eks:nodegroup-name", "Value": f"{COHORT}-{team}-{'gpu_spot' if spot else 'gpu_on_demand'}"}]
    kw = {"InstanceMarketOptions": {"MarketType": "spot"}} if spot else {}
    r = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType=itype,
                          TagSpecifications=[{"ResourceType": "instance", "Tags": tags}], **kw)
    return r["Instances"][0]


def test_instances_appear_with_market_and_times_and_are_closed_when_gone(emu, tmp_path):
    cs = _cohort(tmp_path)
    ec2 = _client(emu, "ec2")
    od = _run(ec2, "a", "g5.xlarge")
    sp = _run(ec2, "b", "g5.xlarge", spot=True)
    _run(_client(emu, "ec2"), "zz", "m5.large")        # another team of no interest: tagged, still ours
    target = AwsTarget("embedded", "us-east-1", emu.url)
    r1 = collect_once(tmp_path, COHORT, target=target)
    assert r1.written["aws"]["lifecycle"] >= 2
    with Store.for_cohort(cs.root) as st:
        rows = {r.resource_id: r for r in st.lifecycle() if r.kind == "instance"}
    assert rows[od["InstanceId"]].market == "on-demand" and rows[sp["InstanceId"]].market == "spot"
    assert rows[od["InstanceId"]].start == od["LaunchTime"] and rows[od["InstanceId"]].end is None
    assert rows[sp["InstanceId"]].source == "aws-api" and rows[sp["InstanceId"]].instance_type == "g5.xlarge"
    assert rows[sp["InstanceId"]].spot_price is None     # the emulator's spot price history is not a price

    ec2.terminate_instances(InstanceIds=[sp["InstanceId"]])
    time.sleep(1.1)
    collect_once(tmp_path, COHORT, target=target)
    collect_once(tmp_path, COHORT, target=target)      # again: restart-safe, no duplicates
    with Store.for_cohort(cs.root) as st:
        rows = [r for r in st.lifecycle() if r.resource_id == sp["InstanceId"]]
    assert len(rows) == 1 and rows[0].end is not None and rows[0].end >= rows[0].start


def test_guardrail_dry_run_changes_nothing_real_run_scales_to_zero(emu, tmp_path):
    cs = _cohort(tmp_path, teams=("a",))
    (cs.root / "cohort.yaml").unlink(missing_ok=True)
    iam, eks = _client(emu, "iam"), _client(emu, "eks")
    role = iam.create_role(RoleName="r-guard", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    ec2 = _client(emu, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    eks.create_cluster(name=f"{COHORT}-a", roleArn=role["Role"]["Arn"],
                       resourcesVpcConfig={"subnetIds": [subnet]})
    ng = f"{COHORT}-a-gpu_on_demand"
    eks.create_nodegroup(clusterName=f"{COHORT}-a", nodegroupName=ng, nodeRole=role["Role"]["Arn"],
                         subnets=[subnet], scalingConfig={"minSize": 2, "desiredSize": 2, "maxSize": 2},
                         instanceTypes=["g5.12xlarge"])
    # a team that spent $34 of a $30 budget (collected budget limit), still running
    start = now() - timedelta(hours=1)
    with Store.for_cohort(cs.root) as st:
        st.put_lifecycle([Lifecycle("a", "i-big", "instance", "us-east-1", start, None, "aws-api", "g5.12xlarge")])
        from labctl.telemetry.store import Sample
        st.put_samples([Sample("a", start, "budget_limit_usd", 5.0, "aws-api", "c1-a-budget")])
    assert live_status(tmp_path, COHORT).teams[0].state == "over"
    target = AwsTarget("embedded", "us-east-1", emu.url)

    dry = guardrail(tmp_path, COHORT, dry_run=True, target=target)
    assert [(a.kind, a.nodegroup, a.done) for a in dry.actions] == [("scale-to-zero", ng, False)]
    sc = eks.describe_nodegroup(clusterName=f"{COHORT}-a", nodegroupName=ng)["nodegroup"]["scalingConfig"]
    assert sc["desiredSize"] == 2
    assert not (cs.root / "audit.log").exists()

    real = guardrail(tmp_path, COHORT, target=target)
    assert [(a.kind, a.done) for a in real.actions] == [("scale-to-zero", True)]
    sc = eks.describe_nodegroup(clusterName=f"{COHORT}-a", nodegroupName=ng)["nodegroup"]["scalingConfig"]
    assert (sc["minSize"], sc["desiredSize"]) == (0, 0)
    audit = [json.loads(x) for x in (cs.root / "audit.log").read_text().splitlines()]
    assert audit[-1]["command"] == "guardrail" and audit[-1]["result"] == "scale-to-zero" and audit[-1]["nodegroup"] == ng
    with Store.for_cohort(cs.root) as st:
        assert [e.kind for e in st.events()] == ["guardrail-scale-to-zero"]
    again = guardrail(tmp_path, COHORT, target=target)
    assert [a.kind for a in again.actions] == ["already-zero"]
