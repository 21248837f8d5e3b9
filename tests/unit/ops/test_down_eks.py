"""`down` deletes each team's EKS node groups and cluster through the EKS API just before the
destroy on emulator targets (labctl.ops.down_eks): what it deletes, in which order, what it
reports, and that anything it cannot finish is left to terraform, untouched."""

from __future__ import annotations

import pytest

from labctl.aws import eks
from labctl.ops import down_eks

CLUSTER = "module.cluster.aws_eks_cluster.this"
GPU = 'module.node_group["gpu"].aws_eks_node_group.this[0]'
SYSTEM = 'module.node_group["system"].aws_eks_node_group.this[0]'
# Tag keys hold dots and slashes: the module is told from the state's records, not the address.
GPU_TAG = 'module.node_group["gpu"].aws_autoscaling_group_tag.this["k8s.io/cluster-autoscaler/node-template/label/labctl.io/pool"]'


def _resource(module, rtype, instances):
    return {"mode": "managed", "module": module, "type": rtype, "name": "this", "instances": instances}


def _state(cluster="c1-t1"):
    return {"resources": [
        _resource("module.cluster", "aws_eks_cluster", [{"attributes": {"name": cluster, "id": cluster}}]),
        _resource('module.node_group["gpu"]', "aws_eks_node_group",
                  [{"index_key": 0, "attributes": {"node_group_name": f"{cluster}-gpu", "cluster_name": cluster}}]),
        _resource('module.node_group["system"]', "aws_eks_node_group",
                  [{"index_key": 0, "attributes": {"node_group_name": f"{cluster}-system", "cluster_name": cluster}}]),
        _resource('module.node_group["gpu"]', "aws_autoscaling_group_tag",
                  [{"index_key": "k8s.io/cluster-autoscaler/node-template/label/labctl.io/pool", "attributes": {}}]),
        _resource("module.network", "aws_vpc", [{"attributes": {"id": "vpc-1"}}]),
    ]}


def test_the_state_names_the_cluster_its_node_groups_and_the_asg_tags_that_go_with_each():
    c = down_eks.team_cluster("t1", _state())
    assert (c.address, c.name) == (CLUSTER, "c1-t1")
    assert c.nodegroups == {"c1-t1-gpu": [GPU, GPU_TAG], "c1-t1-system": [SYSTEM]}
    assert down_eks.team_cluster("t1", {"resources": []}) is None
    assert down_eks.team_cluster("t1", None) is None


@pytest.mark.parametrize("target, used", [("embedded", True), ("localstack", True), ("aws", False)])
def test_only_emulator_targets_skip_terraforms_order(target, used):
    # On AWS the deletes take minutes either way: terraform's waiters keep the order there.
    assert down_eks.applies(target) is used


def _cluster_in(target, name="c1-t1", groups=("gpu", "system")):
    # A real subnet: with the emulator's compatibility layer applied in this process (by another
    # test), a node group gets an Auto Scaling group, which checks its subnets exist.
    ec2 = target.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    client = target.client("eks")
    client.create_cluster(name=name, roleArn="arn:aws:iam::123456789012:role/c",
                          resourcesVpcConfig={"subnetIds": [subnet]})
    for g in groups:
        client.create_nodegroup(clusterName=name, nodegroupName=f"{name}-{g}", subnets=[subnet],
                                nodeRole="arn:aws:iam::123456789012:role/n")


def test_node_groups_go_first_then_the_cluster_each_reported_by_its_address(aws):
    _cluster_in(aws)
    seen = []
    out = down_eks.delete_clusters([down_eks.team_cluster("t1", _state())], lambda team: aws,
                                   on_deleted=lambda team, a: seen.append((team, a)))
    assert not eks.cluster_exists(aws, "c1-t1")
    assert out["t1"].note is None
    assert out["t1"].addresses[-1] == CLUSTER                       # the cluster after its groups
    assert set(out["t1"].addresses) == {GPU, GPU_TAG, SYSTEM, CLUSTER}
    assert seen == [("t1", a) for a in out["t1"].addresses]        # journaled as they happen


def test_a_node_group_the_state_does_not_know_is_deleted_too_and_named_by_eks(aws):
    # e.g. a pool switched on from a second state directory: the cluster cannot go while it exists.
    _cluster_in(aws, groups=("gpu", "system", "extra"))
    out = down_eks.delete_clusters([down_eks.team_cluster("t1", _state())], lambda team: aws)
    assert "eks:nodegroup c1-t1/c1-t1-extra" in out["t1"].addresses
    assert not eks.cluster_exists(aws, "c1-t1")


def test_a_cluster_already_gone_is_not_reported_as_deleted_here(aws):
    out = down_eks.delete_clusters([down_eks.team_cluster("t1", _state())], lambda team: aws)
    assert out["t1"].addresses == [] and out["t1"].note is None


def test_a_node_group_still_deleting_leaves_the_cluster_to_terraform(aws, monkeypatch):
    _cluster_in(aws)
    monkeypatch.setattr(down_eks, "GONE_WAIT_S", 0.2)
    monkeypatch.setattr(down_eks, "POLL_S", 0.05)
    real = eks.list_nodegroups
    monkeypatch.setattr(eks, "list_nodegroups", lambda target, cluster, **kw: real(target, cluster, **kw) or ["c1-t1-gpu"])
    out = down_eks.delete_clusters([down_eks.team_cluster("t1", _state())], lambda team: aws)
    assert eks.cluster_exists(aws, "c1-t1")                         # untouched: terraform deletes it
    assert CLUSTER not in out["t1"].addresses and GPU not in out["t1"].addresses
    assert "still deleting" in out["t1"].note and "terraform" in out["t1"].note


def test_an_eks_error_is_a_note_not_a_failed_teardown(aws, monkeypatch):
    _cluster_in(aws)

    def denied(*a, **kw):
        from labctl.errors import AwsAccessDenied
        raise AwsAccessDenied("eks", "DeleteNodegroup", "AccessDenied", "not allowed")

    monkeypatch.setattr(eks, "delete_nodegroup", denied)
    out = down_eks.delete_clusters([down_eks.team_cluster("t1", _state())], lambda team: aws)
    assert out["t1"].addresses == [] and "AccessDenied" in out["t1"].note
    assert eks.cluster_exists(aws, "c1-t1")
