"""Where simulated nodes come from: real EC2 instances in the emulator, or nothing (pure mode).

moto creates no instances for EKS node groups, so with :class:`Ec2Nodes` every node the
simulated autoscaler adds is a RunInstances call (the group's instance type, spot through
InstanceMarketOptions, the labctl:cohort/team/lab/expires-at tags plus the EKS node group tags)
and every removed node a TerminateInstances; node group sizes are written back with EKS
UpdateNodegroupConfig. Inventory, ledger and the teardown sweep then see what they would see in
a real account. :class:`PureNodes` does the bookkeeping only (bench, unit tests).
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from labctl.aws.session import AwsTarget, aws_errors
from labctl.errors import LabctlError
from labctl.sim.inputs import PoolSpec, TeamInputs




class NodeSource(Protocol):
    def launch(self, team: TeamInputs, pool: PoolSpec, instance_type: str, node_name: str, index: int) -> tuple[str, str]:
        """Start one instance; returns (instance id, availability zone)."""

    def terminate(self, instance_id: str) -> None: ...

    def set_size(self, team: TeamInputs, pool: PoolSpec, desired: int) -> None: ...


class PureNodes:
    """Deterministic ids, no AWS calls."""

    def __init__(self) -> None:
        self.sizes: dict[tuple[str, str], int] = {}
        self.running: set[str] = set()

    def launch(self, team: TeamInputs, pool: PoolSpec, instance_type: str, node_name: str, index: int) -> tuple[str, str]:
        iid = "i-" + hashlib.sha256(f"{team.cohort}/{team.team}/{node_name}".encode()).hexdigest()[:17]
        self.running.add(iid)
        return iid, team.region + "abc"[index % 3]

    def terminate(self, instance_id: str) -> None:
        self.running.discard(instance_id)

    def set_size(self, team: TeamInputs, pool: PoolSpec, desired: int) -> None:
        self.sizes[(team.team, pool.pool)] = desired


class Ec2Nodes:
    """Instances in the emulator (or any target: the calls are plain EC2/EKS API)."""

    def __init__(self, aws: AwsTarget) -> None:
        self.aws = aws
        self._image: str | None = None
        self._subnets: dict[tuple[str, str], list[str]] = {}

    def _ami(self) -> str:
        if self._image is None:
            with aws_errors("ec2", "DescribeImages", emulator=True):
                images = self.aws.client("ec2").describe_images(Owners=["amazon"]).get("Images", [])
            ids = sorted(i["ImageId"] for i in images if i.get("Architecture", "x86_64") == "x86_64")
            if not ids:
                raise LabctlError("the emulator offers no x86_64 AMI to launch simulated nodes from")
            self._image = ids[0]
        return self._image

    def _subnets_of(self, team: TeamInputs, pool: PoolSpec) -> list[str]:
        key = (team.cluster_name, pool.nodegroup)
        if key not in self._subnets:
            try:
                with aws_errors("eks", "DescribeNodegroup", emulator=True):
                    ng = self.aws.client("eks").describe_nodegroup(clusterName=team.cluster_name,
                                                                   nodegroupName=pool.nodegroup)["nodegroup"]
                self._subnets[key] = sorted(ng.get("subnets") or [])
            except LabctlError:
                self._subnets[key] = []
        return self._subnets[key]

    def launch(self, team: TeamInputs, pool: PoolSpec, instance_type: str, node_name: str, index: int) -> tuple[str, str]:
        tags = {**team.tags, "Name": node_name, "eks:cluster-name": team.cluster_name,
                "eks:nodegroup-name": pool.nodegroup, "aws:autoscaling:groupName": pool.asg_name,
                "labctl:pool": pool.pool, "labctl:source": "simulator"}
        req = {"ImageId": self._ami(), "MinCount": 1, "MaxCount": 1, "InstanceType": instance_type,
               "TagSpecifications": [{"ResourceType": "instance",
                                      "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}]}
        subnets = self._subnets_of(team, pool)
        if subnets:
            req["SubnetId"] = subnets[index % len(subnets)]
        if pool.capacity_type == "SPOT":
            req["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": {
                "SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"}}
        with aws_errors("ec2", "RunInstances", emulator=True):
            inst = self.aws.client("ec2").run_instances(**req)["Instances"][0]
        return inst["InstanceId"], inst.get("Placement", {}).get("AvailabilityZone") or team.region + "a"

    def terminate(self, instance_id: str) -> None:
        with aws_errors("ec2", "TerminateInstances", emulator=True):
            self.aws.client("ec2").terminate_instances(InstanceIds=[instance_id])

    def set_size(self, team: TeamInputs, pool: PoolSpec, desired: int) -> None:
        with aws_errors("eks", "UpdateNodegroupConfig", emulator=True):
            self.aws.client("eks").update_nodegroup_config(
                clusterName=team.cluster_name, nodegroupName=pool.nodegroup,
                scalingConfig={"minSize": pool.min_size, "maxSize": pool.max_size, "desiredSize": desired})
