"""The typed AWS functions ops and sim call (labctl.aws.eks / ec2 / identity / walker) against
moto in-process: they return labctl's records, and botocore's errors leave them as labctl's."""

from __future__ import annotations

import pytest

from labctl.aws import ec2, eks, identity, walker
from labctl.aws.inventory import inventory
from labctl.aws.session import AwsNotFound

moto = pytest.importorskip("moto")
COHORT = "c1"



def test_a_missing_node_group_is_aws_not_found_with_aws_error_code(aws):
    with pytest.raises(AwsNotFound) as err:
        eks.describe_nodegroup(aws, "nope", "nope-gpu")
    # status shows this code, as it showed botocore's exception name before the mapping
    assert err.value.code == "ResourceNotFoundException"
    assert str(err.value).startswith("eks DescribeNodegroup: ResourceNotFoundException")


def test_node_group_sizes_round_trip(aws):
    # Real subnets: with the emulator's compatibility layer loaded in this process (another test
    # may have started it), a node group gets an Auto Scaling group, which checks its subnets.
    ec2c = aws.client("ec2")
    vpc = ec2c.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    s1, s2 = (ec2c.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2))
    c = aws.client("eks")
    c.create_cluster(name="c1-a", roleArn="arn:aws:iam::123456789012:role/r",
                     resourcesVpcConfig={"subnetIds": [s1]})
    c.create_nodegroup(clusterName="c1-a", nodegroupName="c1-a-gpu_spot", nodeRole="arn:aws:iam::123456789012:role/r",
                       subnets=[s2, s1], capacityType="SPOT", instanceTypes=["g5.xlarge"],
                       scalingConfig={"minSize": 1, "desiredSize": 2, "maxSize": 3})
    assert eks.list_nodegroups(aws, "c1-a") == ["c1-a-gpu_spot"]
    eks.set_nodegroup_size(aws, "c1-a", "c1-a-gpu_spot", min_size=0, desired_size=0, max_size=3)
    ng = eks.describe_nodegroup(aws, "c1-a", "c1-a-gpu_spot")
    assert (ng.capacity_type, ng.instance_types, ng.min_size, ng.desired_size, ng.max_size) == \
        ("SPOT", ("g5.xlarge",), 0, 0, 3)
    assert sorted(ng.subnets) == sorted([s1, s2])


def test_one_walk_finds_the_same_cohort_instances_for_inventory_and_telemetry(aws):
    image = ec2.amazon_x86_images(aws)[0]
    mine = ec2.run_instance(aws, image_id=image, instance_type="m5.large", spot=True,
                            tags={"labctl:cohort": COHORT, "labctl:team": "a"})
    ec2.run_instance(aws, image_id=image, instance_type="m5.large", tags={"labctl:cohort": "other"})
    found = walker.cohort_instances(walker.Walker(aws, COHORT))
    assert [(i.id, i.spot, i.instance_type, i.tags["labctl:team"]) for i in found] == \
        [(mine.instance_id, True, "m5.large", "a")]
    assert [r.id for r in inventory(aws, COHORT).resources if r.type == "ec2:instance"] == [mine.instance_id]
    ec2.terminate_instance(aws, mine.instance_id)
    # terminated: gone for the teardown inventory, still listed (with its state) for metering
    assert not [r for r in inventory(aws, COHORT).resources if r.type == "ec2:instance"]
    assert [i.state for i in walker.cohort_instances(walker.Walker(aws, COHORT))] == ["terminated"]


def test_caller_identity_shows_the_principal_kind_not_the_name(aws):
    ident = identity.caller_identity(aws)
    assert ident.account == "123456789012"
    assert ident.principal_kind in ("user", "root", "assumed-role")
