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

from labctl.aws import ec2, eks
from labctl.aws.session import AwsTarget
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
            ids = ec2.amazon_x86_images(self.aws)
            if not ids:
                raise LabctlError("the emulator offers no x86_64 AMI to launch simulated nodes from")
            self._image = ids[0]
        return self._image

    def _subnets_of(self, team: TeamInputs, pool: PoolSpec) -> list[str]:
        key = (team.cluster_name, pool.nodegroup)
        if key not in self._subnets:
            try:
                ng = eks.describe_nodegroup(self.aws, team.cluster_name, pool.nodegroup, emulator=True)
                self._subnets[key] = sorted(ng.subnets)
            except LabctlError:
                self._subnets[key] = []
        return self._subnets[key]

    def launch(self, team: TeamInputs, pool: PoolSpec, instance_type: str, node_name: str, index: int) -> tuple[str, str]:
        tags = {**team.tags, "Name": node_name, "eks:cluster-name": team.cluster_name,
                "eks:nodegroup-name": pool.nodegroup, "aws:autoscaling:groupName": pool.asg_name,
                "labctl:pool": pool.pool, "labctl:source": "simulator"}
        image = self._ami()
        subnets = self._subnets_of(team, pool)
        inst = ec2.run_instance(self.aws, image_id=image, instance_type=instance_type, tags=tags,
                                subnet_id=subnets[index % len(subnets)] if subnets else None,
                                spot=pool.capacity_type == "SPOT")
        return inst.instance_id, inst.availability_zone or team.region + "a"

    def terminate(self, instance_id: str) -> None:
        ec2.terminate_instance(self.aws, instance_id)

    def set_size(self, team: TeamInputs, pool: PoolSpec, desired: int) -> None:
        eks.set_nodegroup_size(self.aws, team.cluster_name, pool.nodegroup, min_size=pool.min_size,
                               desired_size=desired, max_size=pool.max_size, emulator=True)
