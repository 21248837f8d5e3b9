"""Each fix of labctl's moto compatibility layer (labctl/aws/compat.py), proven over HTTP with
boto3 against the embedded emulator. Every test here fails on plain moto 5.2.x."""

from __future__ import annotations

import json

import boto3
import pytest

from labctl.aws.emulator import Emulator

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as emu:
        yield emu


@pytest.fixture
def client(emulator):
    def make(service):
        return boto3.client(service, endpoint_url=emulator.url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return make


def _cluster(client, name):
    iam, ec2, eks = client("iam"), client("ec2"), client("eks")
    role = iam.create_role(RoleName=f"{name}-r", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                 AvailabilityZone=f"us-east-1{'ab'[i]}")["Subnet"]["SubnetId"] for i in range(2)]
    eks.create_cluster(name=name, roleArn=role["Role"]["Arn"], resourcesVpcConfig={"subnetIds": subnets},
                       accessConfig={"authenticationMode": "API_AND_CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": True})
    return role["Role"]["Arn"], subnets


def test_aws_managed_policies_exist_for_attachment(client):
    policy = client("iam").get_policy(PolicyArn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
    assert policy["Policy"]["PolicyName"] == "AmazonEKSClusterPolicy"


def test_budget_calls_the_provider_needs(client):
    b = client("budgets")
    acct = "123456789012"
    notification = {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": 80.0,
                    "ThresholdType": "PERCENTAGE"}
    b.create_budget(AccountId=acct, Budget={"BudgetName": "t-budget", "BudgetLimit": {"Amount": "100", "Unit": "USD"},
                                            "TimeUnit": "MONTHLY", "BudgetType": "COST"},
                    NotificationsWithSubscribers=[{"Notification": notification,
                                                   "Subscribers": [{"SubscriptionType": "SNS", "Address": "arn:aws:sns:us-east-1:123456789012:t"}]}])
    subs = b.describe_subscribers_for_notification(AccountId=acct, BudgetName="t-budget", Notification=notification)
    assert subs["Subscribers"][0]["Address"].endswith(":t")
    arn = f"arn:aws:budgets::{acct}:budget/t-budget"
    b.tag_resource(ResourceARN=arn, ResourceTags=[{"Key": "labctl:cohort", "Value": "c1"}])
    assert b.list_tags_for_resource(ResourceARN=arn)["ResourceTags"] == [{"Key": "labctl:cohort", "Value": "c1"}]
    b.untag_resource(ResourceARN=arn, ResourceTagKeys=["labctl:cohort"])
    assert b.list_tags_for_resource(ResourceARN=arn)["ResourceTags"] == []
    b.update_budget(AccountId=acct, NewBudget={"BudgetName": "t-budget", "BudgetLimit": {"Amount": "150", "Unit": "USD"},
                                               "TimeUnit": "MONTHLY", "BudgetType": "COST"})
    assert b.describe_budget(AccountId=acct, BudgetName="t-budget")["Budget"]["BudgetLimit"]["Amount"] in ("150", "150.0")


def test_eks_keeps_access_config_and_invents_no_remote_access(client):
    role, subnets = _cluster(client, "compat-a")
    eks = client("eks")
    assert eks.describe_cluster(name="compat-a")["cluster"]["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"
    eks.create_nodegroup(clusterName="compat-a", nodegroupName="ng", nodeRole=role, subnets=subnets,
                         scalingConfig={"minSize": 0, "maxSize": 3, "desiredSize": 0})
    assert "remoteAccess" not in eks.describe_nodegroup(clusterName="compat-a", nodegroupName="ng")["nodegroup"]


def test_each_cluster_gets_its_own_oidc_issuer(client):
    _cluster(client, "compat-b")
    _cluster(client, "compat-c")
    eks = client("eks")
    issuers = {eks.describe_cluster(name=n)["cluster"]["identity"]["oidc"]["issuer"] for n in ("compat-b", "compat-c")}
    assert len(issuers) == 2


def test_launch_template_data_does_not_get_the_top_level_tag_spec(client):
    ec2 = client("ec2")
    ec2.create_launch_template(
        LaunchTemplateName="compat-lt",
        LaunchTemplateData={"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "labctl:team", "Value": "a"}]}]},
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "labctl:team", "Value": "a"}]}])
    data = ec2.describe_launch_template_versions(LaunchTemplateName="compat-lt")["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert [s["ResourceType"] for s in data["TagSpecifications"]] == ["instance"]


def test_node_group_has_an_auto_scaling_group_that_goes_with_it(client):
    role, subnets = _cluster(client, "compat-d")
    eks, asg = client("eks"), client("autoscaling")
    eks.create_nodegroup(clusterName="compat-d", nodegroupName="gpu", nodeRole=role, subnets=subnets,
                         scalingConfig={"minSize": 0, "maxSize": 4, "desiredSize": 0})
    name = eks.describe_nodegroup(clusterName="compat-d", nodegroupName="gpu")["nodegroup"]["resources"]["autoScalingGroups"][0]["name"]
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    assert group and group[0]["MaxSize"] == 4
    asg.create_or_update_tags(Tags=[{"ResourceId": name, "ResourceType": "auto-scaling-group",
                                     "Key": "k8s.io/cluster-autoscaler/enabled", "Value": "true", "PropagateAtLaunch": False}])
    eks.delete_nodegroup(clusterName="compat-d", nodegroupName="gpu")
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"] == []


def test_node_group_updates_can_be_waited_for(client):
    role, subnets = _cluster(client, "compat-e")
    eks = client("eks")
    eks.create_nodegroup(clusterName="compat-e", nodegroupName="gpu", nodeRole=role, subnets=subnets,
                         scalingConfig={"minSize": 0, "maxSize": 2, "desiredSize": 0})
    update = eks.update_nodegroup_config(clusterName="compat-e", nodegroupName="gpu",
                                         scalingConfig={"minSize": 0, "maxSize": 3, "desiredSize": 1})["update"]
    got = eks.describe_update(name="compat-e", updateId=update["id"], nodegroupName="gpu")["update"]
    assert got["status"] == "Successful" and got["id"] == update["id"]


def test_a_node_group_takes_a_new_launch_template_version_and_the_update_can_be_waited_for(client):
    role, subnets = _cluster(client, "compat-v")
    ec2, eks = client("ec2"), client("eks")
    lt = ec2.create_launch_template(LaunchTemplateName="compat-v", LaunchTemplateData={})["LaunchTemplate"]
    ec2.create_launch_template_version(LaunchTemplateId=lt["LaunchTemplateId"], LaunchTemplateData={"EbsOptimized": True})
    eks.create_nodegroup(clusterName="compat-v", nodegroupName="gpu", nodeRole=role, subnets=subnets,
                         scalingConfig={"minSize": 0, "maxSize": 1, "desiredSize": 0},
                         launchTemplate={"id": lt["LaunchTemplateId"], "version": "1"})
    update = eks.update_nodegroup_version(clusterName="compat-v", nodegroupName="gpu",
                                          launchTemplate={"id": lt["LaunchTemplateId"], "version": "2"})["update"]
    got = eks.describe_update(name="compat-v", updateId=update["id"], nodegroupName="gpu")["update"]
    assert got["status"] == "Successful" and got["type"] == "VersionUpdate"
    ng = eks.describe_nodegroup(clusterName="compat-v", nodegroupName="gpu")["nodegroup"]
    assert ng["launchTemplate"]["id"] == lt["LaunchTemplateId"] and ng["launchTemplate"]["version"] == "2"
    from botocore.exceptions import ClientError

    other = ec2.create_launch_template(LaunchTemplateName="compat-v2", LaunchTemplateData={})["LaunchTemplate"]
    with pytest.raises(ClientError, match="cannot change the launch template"):
        eks.update_nodegroup_version(clusterName="compat-v", nodegroupName="gpu",
                                     launchTemplate={"id": other["LaunchTemplateId"], "version": "1"})


def test_deleting_a_launch_template_that_is_gone_answers_as_aws_does(client):
    from botocore.exceptions import ClientError

    ec2 = client("ec2")
    tid = ec2.create_launch_template(LaunchTemplateName="compat-gone", LaunchTemplateData={})["LaunchTemplate"]["LaunchTemplateId"]
    ec2.delete_launch_template(LaunchTemplateId=tid)
    with pytest.raises(ClientError) as err:
        ec2.delete_launch_template(LaunchTemplateId=tid)
    assert err.value.response["Error"]["Code"] == "InvalidLaunchTemplateId.NotFound"


def test_the_emulator_handles_one_request_at_a_time(emulator, client, monkeypatch):
    """moto's backends are not thread-safe: concurrent requests must not run inside it together
    (under a 30-team `up` they did, and a request failed after its change was made)."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from moto.sts.responses import TokenResponse

    spans, original = [], TokenResponse.get_caller_identity

    def slow(self):
        t0 = time.monotonic()
        time.sleep(0.05)
        out = original(self)
        spans.append((t0, time.monotonic(), threading.get_ident()))
        return out

    monkeypatch.setattr(TokenResponse, "get_caller_identity", slow)
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: client("sts").get_caller_identity()["Account"], range(8)))
    assert len(ids) == 8 and len(spans) == 8
    spans.sort()
    overlaps = [(a, b) for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1]]
    assert overlaps == [], f"{len(overlaps)} requests ran inside moto at the same time"


def _iam(url, action, invocation, attempt, **params):
    """One IAM query call over plain HTTP, with the SDK's attempt headers set by hand."""
    import urllib.error
    import urllib.parse
    import urllib.request

    body = urllib.parse.urlencode({"Action": action, "Version": "2010-05-08", **params}).encode()
    req = urllib.request.Request(url + "/", data=body, method="POST", headers={  # noqa: S310 - loopback
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, "
                         "SignedHeaders=host, Signature=0",
        "Content-Type": "application/x-www-form-urlencoded",
        "amz-sdk-invocation-id": invocation, "amz-sdk-request": f"attempt={attempt}; max=3"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_a_retried_create_that_was_answered_gets_the_same_answer_not_a_second_create(emulator, client, caplog):
    """The aws provider's client sometimes resets the connection after a complete 200 answer and
    sends attempt 2 of the same call; a create must not run twice (EntityAlreadyExists failed a
    team in 2 of 9 30-team runs)."""
    import logging

    caplog.set_level(logging.INFO, logger="labctl.emulator")
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    create = {"RoleName": "replayed-role", "AssumeRolePolicyDocument": trust}
    first = _iam(emulator.url, "CreateRole", "inv-a", 1, **create)
    again = _iam(emulator.url, "CreateRole", "inv-a", 2, **create)
    assert first[0] == 200 and again == first
    assert "attempt 2 of an answered call (CreateRole, invocation inv-a)" in caplog.text
    assert [r["RoleName"] for r in client("iam").list_roles()["Roles"]].count("replayed-role") == 1

    # A new call is not a retry: it runs, and meets the role that exists.
    other = _iam(emulator.url, "CreateRole", "inv-b", 1, **create)
    assert other[0] == 409 and b"EntityAlreadyExists" in other[1]
    # A retry after an error is not answered from memory: it runs again.
    assert _iam(emulator.url, "CreateRole", "inv-b", 2, **create)[0] == 409
    # A retry of a call the emulator never answered (its first attempt never arrived) runs.
    fresh = _iam(emulator.url, "CreateRole", "inv-c", 2, RoleName="only-attempt-2", AssumeRolePolicyDocument=trust)
    assert fresh[0] == 200
    assert client("iam").get_role(RoleName="only-attempt-2")["Role"]["RoleName"] == "only-attempt-2"


def test_the_background_emulator_logs_each_replay_to_its_log_file(tmp_path):
    """`labctl emulator start` (and `up`) run the emulator in the background; how often the
    client retried an answered call shows in <state>/emulator.log."""
    from labctl.aws import emulator as emu

    info, _ = emu.start_background(tmp_path)
    try:
        trust = json.dumps({"Version": "2012-10-17", "Statement": []})
        for attempt in (1, 2):
            assert _iam(info.url, "CreateRole", "inv-bg", attempt, RoleName="bg-role", AssumeRolePolicyDocument=trust)[0] == 200
    finally:
        emu.stop_background(tmp_path)
    log = (tmp_path / "emulator.log").read_text()
    assert "emulator: attempt 2 of an answered call (CreateRole, invocation inv-bg) gets the same answer: 200 OK" in log


def test_cluster_endpoint_access_can_be_narrowed_and_waited_for(client):
    # A cohort that lists api_access_cidrs after `up`: the provider sends only the endpoint fields
    # and waits for the update. The cluster keeps its subnets.
    _, subnets = _cluster(client, "compat-cidr")
    eks = client("eks")
    update = eks.update_cluster_config(name="compat-cidr",
                                       resourcesVpcConfig={"publicAccessCidrs": ["203.0.113.0/24"]})["update"]
    got = eks.describe_update(name="compat-cidr", updateId=update["id"])["update"]
    assert got["status"] == "Successful"
    vpc = eks.describe_cluster(name="compat-cidr")["cluster"]["resourcesVpcConfig"]
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert sorted(vpc["subnetIds"]) == sorted(subnets)


# Fixes 11-13 change what an answer costs, not the answer: each test shows the answer unchanged
# and the expensive step gone from the request.

def test_an_eks_role_arn_is_checked_without_loading_endpoint_data_each_time(client, monkeypatch):
    import boto3.session

    loads = []
    original = boto3.session.Session.get_available_partitions
    monkeypatch.setattr(boto3.session.Session, "get_available_partitions",
                        lambda self: loads.append(1) or original(self))
    role, subnets = _cluster(client, "c11")
    eks = client("eks")
    with pytest.raises(eks.exceptions.InvalidParameterException, match="Invalid Role Arn"):
        eks.create_cluster(name="c11-bad", roleArn="arn:nowhere:iam::123456789012:role/x",
                           resourcesVpcConfig={"subnetIds": subnets})
    eks.create_nodegroup(clusterName="c11", nodegroupName="ng", subnets=subnets, nodeRole=role)
    assert loads == []


def test_a_request_finds_its_service_without_listing_motos_package(client, monkeypatch):
    from moto import backends

    listed = []
    original = backends.os.listdir
    monkeypatch.setattr(backends.os, "listdir", lambda path: listed.append(path) or original(path))
    assert client("ec2").describe_vpcs()["Vpcs"] is not None
    assert client("sts").get_caller_identity()["Account"] == "123456789012"
    assert listed == []


def test_a_kms_key_gets_an_rsa_key_only_when_one_is_used(client, monkeypatch):
    from moto.kms import utils

    made = []

    class Counted(utils.RSAPrivateKey):
        def __init__(self, *a, **kw):
            made.append(1)
            super().__init__(*a, **kw)

    monkeypatch.setattr(utils, "RSAPrivateKey", Counted)
    kms = client("kms")
    sym = kms.create_key(Description="team key")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=sym, Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    assert made == []                               # a symmetric key never needed one
    rsa = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]["KeyId"]
    sig = kms.sign(KeyId=rsa, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    assert kms.verify(KeyId=rsa, Message=b"m", Signature=sig, SigningAlgorithm="RSASSA_PSS_SHA_256")["SignatureValid"]
    assert kms.get_public_key(KeyId=rsa)["PublicKey"]
    assert made == [1]                              # made at first use, then kept
