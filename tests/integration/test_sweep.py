"""The sweep against the embedded emulator: inventory finds exactly one cohort, dry-run touches
nothing, the sweep deletes all of it and nothing else, and a second sweep finds nothing to do.

The world is built once per module with boto3 directly (no terraform): for cohort ``c1`` teams
``a`` and ``b`` every resource type the modules create, plus a foreign cohort ``c2`` and a set of
untagged resources. The story runs once and records snapshots; each test asserts one thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from labctl.aws.inventory import Inventory, Resource, inventory, list_cohort_resources
from labctl.aws.session import AwsTarget
from labctl.aws.sweep import SweepResult, execute_sweep, plan_sweep
from labctl.naming import TAG_COHORT, TAG_EXPIRES, TAG_LAB, TAG_TEAM, bucket_name

pytestmark = pytest.mark.emulator

REGION = "us-east-1"
ASSUME_EC2 = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
# Types whose resources carry the cohort tag in this world (schedules cannot be tagged; ASGs are
# tagged by EKS, not by us).
EXPECTED_TYPES = {
    "ec2:vpc", "ec2:subnet", "ec2:internet-gateway", "ec2:route-table", "ec2:security-group",
    "ec2:instance", "ec2:volume", "ec2:launch-template", "eks:cluster", "eks:nodegroup",
    "autoscaling:group", "iam:role", "iam:oidc-provider", "s3:bucket", "sns:topic",
    "budgets:budget", "scheduler:schedule", "kms:key",
}


@pytest.fixture(scope="module")
def target():
    from labctl.aws.emulator import Emulator

    with Emulator() as emu:
        yield AwsTarget(kind="embedded", region=REGION, endpoint_url=emu.url)


def _tags(cohort: str, team: str) -> dict[str, str]:
    return {TAG_COHORT: cohort, TAG_TEAM: team, TAG_LAB: "baseline", TAG_EXPIRES: "2030-01-01T00:00:00Z"}


def _kv(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _spec(kind: str, tags: dict[str, str]) -> list[dict[str, object]]:
    return [{"ResourceType": kind, "Tags": _kv(tags)}]


def build_team(t: AwsTarget, cohort: str, team: str, cidr: str, account: str) -> set[tuple[str, str]]:
    """Everything the modules create for one team (as Terraform would tag it); returns (type, id)."""
    ec2, eks, iam = t.client("ec2"), t.client("eks"), t.client("iam")
    tags, p = _tags(cohort, team), f"{cohort}-{team}"
    made: set[tuple[str, str]] = set()

    vpc = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=_spec("vpc", {**tags, "Name": p}))["Vpc"]["VpcId"]
    made.add(("ec2:vpc", vpc))
    subnets = []
    for i, az in enumerate(("us-east-1a", "us-east-1b")):
        base = cidr.rsplit(".", 2)[0]
        s = ec2.create_subnet(VpcId=vpc, CidrBlock=f"{base}.{i * 16}.0/20", AvailabilityZone=az,
                              TagSpecifications=_spec("subnet", tags))["Subnet"]["SubnetId"]
        subnets.append(s)
        made.add(("ec2:subnet", s))
    igw = ec2.create_internet_gateway(TagSpecifications=_spec("internet-gateway", tags))["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    made.add(("ec2:internet-gateway", igw))
    rt = ec2.create_route_table(VpcId=vpc, TagSpecifications=_spec("route-table", tags))["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    for s in subnets:
        ec2.associate_route_table(RouteTableId=rt, SubnetId=s)
    made.add(("ec2:route-table", rt))
    sg = ec2.create_security_group(GroupName=f"{p}-nodes", Description="nodes", VpcId=vpc,
                                   TagSpecifications=_spec("security-group", tags))["GroupId"]
    # Self-reference: must be revoked before the group can go.
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg}]}])
    made.add(("ec2:security-group", sg))

    roles = {}
    for kind in ("cluster", "node", "cluster-autoscaler", "backstop"):
        name = f"{p}-{kind}"
        roles[kind] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=ASSUME_EC2, Tags=_kv(tags))["Role"]["Arn"]
        made.add(("iam:role", name))
    iam.attach_role_policy(RoleName=f"{p}-cluster", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
    iam.attach_role_policy(RoleName=f"{p}-node", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy")
    iam.put_role_policy(RoleName=f"{p}-cluster-autoscaler", PolicyName="cluster-autoscaler",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                            {"Effect": "Allow", "Action": "autoscaling:Describe*", "Resource": "*"}]}))
    iam.create_instance_profile(InstanceProfileName=f"{p}-node")
    iam.add_role_to_instance_profile(InstanceProfileName=f"{p}-node", RoleName=f"{p}-node")

    cluster = eks.create_cluster(name=p, roleArn=roles["cluster"], resourcesVpcConfig={"subnetIds": subnets},
                                 tags=tags)["cluster"]
    made.add(("eks:cluster", p))
    issuer = cluster["identity"]["oidc"]["issuer"]
    oidc = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"],
                                               ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
                                               Tags=_kv(tags))["OpenIDConnectProviderArn"]
    made.add(("iam:oidc-provider", oidc))

    for pool in ("system", "gpu-on-demand", "gpu-spot"):
        lt = ec2.create_launch_template(
            LaunchTemplateName=f"{p}-{pool}",
            LaunchTemplateData={"TagSpecifications": [{"ResourceType": "instance", "Tags": _kv(tags)},
                                                      {"ResourceType": "volume", "Tags": _kv(tags)}]},
            TagSpecifications=_spec("launch-template", tags))["LaunchTemplate"]["LaunchTemplateId"]
        made.add(("ec2:launch-template", lt))
        ng = eks.create_nodegroup(clusterName=p, nodegroupName=f"{p}-{pool}", nodeRole=roles["node"], subnets=subnets,
                                  scalingConfig={"minSize": 0, "maxSize": 2, "desiredSize": 0},
                                  launchTemplate={"id": lt}, tags=tags)["nodegroup"]
        made.add(("eks:nodegroup", f"{p}-{pool}"))
        # The compat layer made the ASG behind it; EKS tags it with eks:* only.
        made.add(("autoscaling:group", ng["resources"]["autoScalingGroups"][0]["name"]))

    # A node as the simulated cluster launches it: tagged through the launch template.
    inst = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="g5.xlarge", SubnetId=subnets[0],
                             TagSpecifications=_spec("instance", {**tags, "eks:cluster-name": p}))["Instances"][0]["InstanceId"]
    made.add(("ec2:instance", inst))
    # Its root volume is the cohort's too (found through the attachment; gone with the instance).
    described = ec2.describe_instances(InstanceIds=[inst])["Reservations"][0]["Instances"][0]
    made |= {("ec2:volume", m["Ebs"]["VolumeId"]) for m in described["BlockDeviceMappings"]}
    vol = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10, TagSpecifications=_spec("volume", tags))["VolumeId"]
    made.add(("ec2:volume", vol))
    ec2.attach_volume(VolumeId=vol, InstanceId=inst, Device="/dev/sdf")

    bucket = bucket_name(cohort, team)
    s3 = t.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": _kv(tags)})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for i in range(3):
        s3.put_object(Bucket=bucket, Key="ckpt/step.pt", Body=f"v{i}".encode())
    s3.delete_object(Bucket=bucket, Key="ckpt/step.pt")  # leaves a delete marker
    made.add(("s3:bucket", bucket))

    # The team key (module team-key): Kubernetes secrets and the alert topic.
    key = t.client("kms").create_key(Description=f"labctl {p}", Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()])
    made.add(("kms:key", key["KeyMetadata"]["KeyId"]))
    topic = t.client("sns").create_topic(Name=f"{p}-budget-alerts", Tags=_kv(tags))["TopicArn"]
    made.add(("sns:topic", topic))
    t.client("budgets").create_budget(
        AccountId=account,
        Budget={"BudgetName": f"{p}-budget", "BudgetLimit": {"Amount": "100", "Unit": "USD"},
                "TimeUnit": "MONTHLY", "BudgetType": "COST"},
        ResourceTags=_kv(tags))
    made.add(("budgets:budget", f"{p}-budget"))
    for pool in ("gpu-on-demand", "gpu-spot"):
        name = f"{p}-stop-{pool}"
        t.client("scheduler").create_schedule(
            Name=name, ScheduleExpression="at(2030-01-01T00:00:00)", FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": "arn:aws:scheduler:::aws-sdk:eks:updateNodegroupConfig", "RoleArn": roles["backstop"],
                    "Input": json.dumps({"ClusterName": p, "NodegroupName": f"{p}-{pool}",
                                         "ScalingConfig": {"MinSize": 0, "DesiredSize": 0}})})
        made.add(("scheduler:schedule", name))
    return made


def build_untagged(t: AwsTarget, account: str) -> None:
    """Things no cohort owns; names deliberately close to c1's."""
    ec2 = t.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.99.0.0/24")
    ec2.create_security_group(GroupName="c1-looks-like-ours", Description="x", VpcId=vpc)
    t.client("iam").create_role(RoleName="c1-a-handmade", AssumeRolePolicyDocument=ASSUME_EC2)
    t.client("s3").create_bucket(Bucket="labctl-c1-untagged")
    t.client("sns").create_topic(Name="c1-a-untagged")
    t.client("budgets").create_budget(AccountId=account, Budget={
        "BudgetName": "other-budget", "BudgetLimit": {"Amount": "1", "Unit": "USD"}, "TimeUnit": "MONTHLY",
        "BudgetType": "COST"})
    ec2.create_launch_template(LaunchTemplateName="c1-a-untagged", LaunchTemplateData={})
    t.client("kms").create_key(Description="labctl c1-a handmade")


def ids(rs: list[Resource] | tuple[Resource, ...]) -> set[tuple[str, str]]:
    return {(r.type, r.id) for r in rs}


@dataclass
class Story:
    c1: set[tuple[str, str]]
    c2: set[tuple[str, str]]
    before: Inventory
    before_team_a: list[Resource]
    c2_before: list[Resource]
    after_dry_run: list[Resource]
    dry: SweepResult
    sweep: SweepResult
    after: Inventory
    second: SweepResult
    second_from_stale_plan: SweepResult
    c2_after: list[Resource]
    default_vpcs_after: int


@pytest.fixture(scope="module")
def story(target: AwsTarget) -> Story:
    account = target.client("sts").get_caller_identity()["Account"]
    c1 = build_team(target, "c1", "a", "10.1.0.0/16", account) | build_team(target, "c1", "b", "10.2.0.0/16", account)
    c2 = build_team(target, "c2", "a", "10.3.0.0/16", account)
    build_untagged(target, account)

    before = inventory(target, "c1")
    before_team_a = list_cohort_resources(target, "c1", team="a")
    c2_before = list_cohort_resources(target, "c2")
    plan = plan_sweep(before.resources)
    dry = execute_sweep(target, plan, dry_run=True)
    after_dry_run = list_cohort_resources(target, "c1")
    sweep = execute_sweep(target, plan, dry_run=False)
    after = inventory(target, "c1")
    second = execute_sweep(target, plan_sweep(after.resources), dry_run=False)
    second_from_stale_plan = execute_sweep(target, plan, dry_run=False)
    c2_after = list_cohort_resources(target, "c2")
    default_vpcs = target.client("ec2").describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    return Story(c1, c2, before, before_team_a, c2_before, after_dry_run, dry, sweep, after, second,
                 second_from_stale_plan, c2_after, len(default_vpcs))


def test_inventory_finds_exactly_the_cohorts_resources(story: Story) -> None:
    assert ids(story.before.resources) == story.c1
    assert story.before.unreadable == ()


def test_inventory_covers_every_resource_type_the_modules_create(story: Story) -> None:
    assert {r.type for r in story.before.resources} == EXPECTED_TYPES


def test_every_resource_is_attributed_to_its_team(story: Story) -> None:
    assert {r.team for r in story.before.resources} == {"a", "b"}
    assert ids(story.before_team_a) == {x for x in story.c1 if any(r.team == "a" and (r.type, r.id) == x
                                                                    for r in story.before.resources)}
    assert all(r.team == "a" for r in story.before_team_a) and story.before_team_a


def test_untaggable_types_match_by_documented_fallbacks(story: Story) -> None:
    how = {r.type: r.matched_by for r in story.before.resources}
    assert how["scheduler:schedule"] == "cluster"  # the backstop's target input names the cluster
    assert how["autoscaling:group"] == "cluster"   # eks:cluster-name on the ASG
    assert how["budgets:budget"] == "tag"          # through the compat layer's budget tags


def test_foreign_cohort_is_listed_separately(story: Story) -> None:
    assert ids(story.c2_before) == story.c2


def test_dry_run_lists_everything_and_deletes_nothing(story: Story) -> None:
    assert story.dry.dry_run
    assert ids([o.resource for o in story.dry.would_delete]) == story.c1
    assert not story.dry.deleted and not story.dry.failed
    assert ids(story.after_dry_run) == story.c1


def test_sweep_deletes_everything_of_the_cohort(story: Story) -> None:
    assert [o.reason for o in story.sweep.failed] == []
    # A node group's ASG goes with it (compat layer, as on AWS) and a root volume with its
    # instance; everything else is deleted by its own action.
    assert ids([o.resource for o in story.sweep.deleted + story.sweep.already_gone]) == story.c1
    assert {o.resource.type for o in story.sweep.already_gone} <= {"autoscaling:group", "ec2:volume"}
    assert ("ec2:volume", "deleted") in {(o.resource.type, o.status) for o in story.sweep.outcomes}


def test_zero_leftovers_after_sweep(story: Story) -> None:
    assert story.after.resources == ()
    assert story.after.unreadable == ()


def test_kms_keys_are_scheduled_for_deletion_and_then_not_leftovers(story: Story, target: AwsTarget) -> None:
    keys = {i for (kind, i) in story.c1 if kind == "kms:key"}
    assert len(keys) == 2
    kms = target.client("kms")
    for key in keys:
        meta = kms.describe_key(KeyId=key)["KeyMetadata"]
        assert meta["KeyState"] == "PendingDeletion"
    # Listed apart, with their team and the date they go: the proof can say so, and zero is zero.
    before = {(r.id, r.team) for r in story.before.resources if r.type == "kms:key"}
    assert {(r.id, r.team) for r in story.after.pending_deletion} == before
    assert all(r.name.startswith("deleted on ") for r in story.after.pending_deletion)
    # The foreign cohort's key and the untagged one are untouched.
    states = {k["KeyId"]: kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in kms.list_keys()["Keys"]}
    assert sorted(s for k, s in states.items() if k not in keys) == ["Enabled", "Enabled"]


def test_sweeping_twice_is_fine(story: Story) -> None:
    assert story.second.ok and story.second.outcomes == ()
    assert story.second_from_stale_plan.ok
    assert {o.status for o in story.second_from_stale_plan.outcomes} == {"already-gone"}


def test_foreign_cohort_and_untagged_resources_are_untouched(story: Story, target: AwsTarget) -> None:
    assert ids(story.c2_after) == story.c2
    assert story.default_vpcs_after == 1
    names = {r["RoleName"] for r in target.client("iam").list_roles()["Roles"]}
    assert "c1-a-handmade" in names
    buckets = {b["Name"] for b in target.client("s3").list_buckets()["Buckets"]}
    assert "labctl-c1-untagged" in buckets
    budgets = {b["BudgetName"] for b in target.client("budgets").describe_budgets(
        AccountId=target.client("sts").get_caller_identity()["Account"])["Budgets"]}
    assert budgets == {"other-budget", "c2-a-budget"}
