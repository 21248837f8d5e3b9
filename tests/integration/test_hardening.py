"""The security hardening of terraform/ (what the IaC scanner asks for, tests/unit/test_checkov.py)
as the real terraform CLI and aws provider create it in the embedded emulator, for one team whose
cohort narrows the cluster's API endpoint: IMDSv2 with one hop, an empty default security group,
the alert topic and Kubernetes secrets encrypted with the team's KMS key, a TLS-only checkpoint
bucket, an autoscaler role scoped to its cluster. A changed address list is applied in place, and
`down` proves zero with the key scheduled for deletion (listed apart, not as a leftover)."""

from __future__ import annotations

import json
import textwrap

import pytest

from labctl.aws import emulator
from labctl.aws.inventory import inventory
from labctl.aws.session import AwsTarget
from tests.integration.conftest import mirror_or_skip, terraform_or_skip

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]

COHORT = textwrap.dedent("""\
    cohort: hard
    target: embedded
    region: us-east-1
    window: {start: 2026-12-01T09:00:00Z, duration: 4h}
    lab: gpu-baseline
    api_access_cidrs: [CIDRS]
    teams:
      - name: a
""")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    terraform_or_skip()
    mirror_or_skip()
    from click.testing import CliRunner

    from labctl.cli.main import _register, cli as root

    _register()
    base = tmp_path_factory.mktemp("hard")
    state, spec = base / "state", base / "cohort.yaml"
    info, _ = emulator.start_background(state)
    target = AwsTarget(kind="embedded", region="us-east-1", endpoint_url=info.url)

    def cli(*args):
        return CliRunner().invoke(root, ["--state-dir", str(state), *args], catch_exceptions=False)

    def up(cidrs: str):
        spec.write_text(COHORT.replace("CIDRS", cidrs))
        res = cli("up", str(spec), "--allow-past")
        assert res.exit_code == 0, res.output
        return res

    up("203.0.113.0/24")
    yield {"target": target, "cli": cli, "up": up, "state": state}
    emulator.stop_background(state)


def _cluster(t: AwsTarget) -> dict:
    return t.client("eks").describe_cluster(name="hard-a")["cluster"]


def _team_key(t: AwsTarget) -> str:
    return next(r.arn for r in inventory(t, "hard").resources if r.type == "kms:key")


def test_node_launch_templates_require_imdsv2_with_one_hop(world):
    ec2 = world["target"].client("ec2")
    templates = ec2.describe_launch_templates(Filters=[{"Name": "tag:labctl:cohort", "Values": ["hard"]}])["LaunchTemplates"]
    assert templates
    for lt in templates:
        data = ec2.describe_launch_template_versions(LaunchTemplateId=lt["LaunchTemplateId"], Versions=["$Latest"])
        md = data["LaunchTemplateVersions"][0]["LaunchTemplateData"]["MetadataOptions"]
        assert (md["HttpTokens"], md["HttpPutResponseHopLimit"]) == ("required", 1), lt["LaunchTemplateName"]


def test_the_vpcs_default_security_group_allows_nothing(world):
    ec2 = world["target"].client("ec2")
    vpc = next(r.id for r in inventory(world["target"], "hard").resources if r.type == "ec2:vpc")
    sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                              {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    assert sg["IpPermissions"] == [] and sg["IpPermissionsEgress"] == []


def test_secrets_and_alerts_are_encrypted_with_the_teams_key(world):
    t = world["target"]
    key = _team_key(t)
    enc = _cluster(t)["encryptionConfig"]
    assert enc == [{"resources": ["secrets"], "provider": {"keyArn": key}}]
    topic = next(r.arn for r in inventory(t, "hard").resources if r.type == "sns:topic")
    assert t.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"] == key
    kms = t.client("kms")
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    budgets = next(s for s in policy["Statement"] if s.get("Principal", {}).get("Service") == "budgets.amazonaws.com")
    assert budgets["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_the_checkpoint_bucket_refuses_plain_http_and_public_access(world):
    s3 = world["target"].client("s3")
    bucket = next(r.id for r in inventory(world["target"], "hard").resources if r.type == "s3:bucket")
    statement = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())


def test_the_autoscaler_role_acts_only_on_its_own_cluster(world):
    iam = world["target"].client("iam")
    doc = iam.get_role_policy(RoleName="hard-a-cluster-autoscaler", PolicyName="cluster-autoscaler")["PolicyDocument"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    by_action = {json.dumps(s["Action"]): s for s in doc["Statement"]}
    describe = by_action['"eks:DescribeNodegroup"']
    assert describe["Resource"].endswith(":nodegroup/hard-a/*")
    write = next(s for s in doc["Statement"] if "autoscaling:SetDesiredCapacity" in s["Action"])
    assert write["Condition"]["StringEquals"] == {"aws:ResourceTag/k8s.io/cluster-autoscaler/hard-a": "owned",
                                                  "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true"}


def test_the_api_endpoint_takes_the_cohorts_addresses_and_a_change_in_place(world):
    t = world["target"]
    assert _cluster(t)["resourcesVpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    key_before = _team_key(t)
    res = world["up"]("203.0.113.0/24, 198.51.100.7/32")
    assert "a: changed (+0 ~1 -0)" in res.output, res.output
    vpc = _cluster(t)["resourcesVpcConfig"]
    assert sorted(vpc["publicAccessCidrs"]) == ["198.51.100.7/32", "203.0.113.0/24"]
    assert len(vpc["subnetIds"]) == 2 and _team_key(t) == key_before   # same cluster, same key


def test_down_proves_zero_with_the_key_pending_deletion(world):
    t = world["target"]
    key = _team_key(t)
    res = world["cli"]("down", "hard", "--output", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["left"] == []
    after = inventory(t, "hard")
    assert after.resources == ()
    assert [r.arn for r in after.pending_deletion] == [key]
    assert t.client("kms").describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    proof = json.loads((world["state"] / "cohorts" / "hard" / "reports" / "teardown-a.json").read_text())
    assert proof["clean"] and proof["final_inventory"] == []
    [pending] = proof["pending_deletion"]
    assert pending.startswith(f"kms:key {after.pending_deletion[0].id} (deleted on ")
