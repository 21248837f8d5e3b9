"""EKS as labctl sees it: read a node group, list a cluster's, set a group's sizes, delete groups and clusters.

Owns: the EKS ``DescribeNodegroup``, ``ListNodegroups`` and ``UpdateNodegroupConfig`` calls that
status, the guardrail and the simulator make. Callers get a frozen :class:`NodeGroup`; botocore's
errors become :class:`~labctl.errors.AwsError` subclasses here (``aws_errors``), never leave raw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from labctl.aws.session import AwsTarget, aws_errors
from labctl.errors import AwsNotFound


@dataclass(frozen=True)
class NodeGroup:
    """One node group as EKS reports it now. Sizes are EKS's ``scalingConfig`` (0 when absent);
    ``capacity_type`` and ``status`` are None when EKS leaves them out."""

    cluster: str
    name: str
    capacity_type: str | None
    instance_types: tuple[str, ...]
    min_size: int
    desired_size: int
    max_size: int
    status: str | None
    subnets: tuple[str, ...] = ()


def describe_nodegroup(target: AwsTarget, cluster: str, nodegroup: str, *, emulator: bool | None = None) -> NodeGroup:
    """Raises AwsNotFound for a group (or cluster) that does not exist, AwsError otherwise.
    ``emulator`` (default: the target has fake credentials) names an unreachable endpoint an
    emulator problem."""
    with aws_errors("eks", "DescribeNodegroup", emulator=target.fake_credentials if emulator is None else emulator):
        d = target.client("eks").describe_nodegroup(clusterName=cluster, nodegroupName=nodegroup)["nodegroup"]
    return nodegroup_from(cluster, nodegroup, d)


def nodegroup_from(cluster: str, name: str, d: Mapping[str, Any]) -> NodeGroup:
    """A DescribeNodegroup answer's ``nodegroup`` as a :class:`NodeGroup`."""
    sizes = d.get("scalingConfig") or {}
    return NodeGroup(cluster=cluster, name=name, capacity_type=d.get("capacityType"),
                     instance_types=tuple(d.get("instanceTypes") or ()), min_size=int(sizes.get("minSize", 0)),
                     desired_size=int(sizes.get("desiredSize", 0)), max_size=int(sizes.get("maxSize", 0)),
                     status=d.get("status"), subnets=tuple(d.get("subnets") or ()))


def list_nodegroups(target: AwsTarget, cluster: str, *, emulator: bool | None = None) -> list[str]:
    """The names of a cluster's node groups (first page, as EKS returns them)."""
    with aws_errors("eks", "ListNodegroups", emulator=target.fake_credentials if emulator is None else emulator):
        return [str(n) for n in target.client("eks").list_nodegroups(clusterName=cluster).get("nodegroups", [])]


def set_nodegroup_size(target: AwsTarget, cluster: str, nodegroup: str, *, min_size: int, desired_size: int,
                       max_size: int, emulator: bool | None = None) -> None:
    """EKS UpdateNodegroupConfig with a new scalingConfig (EKS requires max >= 1)."""
    with aws_errors("eks", "UpdateNodegroupConfig", emulator=target.fake_credentials if emulator is None else emulator):
        target.client("eks").update_nodegroup_config(
            clusterName=cluster, nodegroupName=nodegroup,
            scalingConfig={"minSize": min_size, "maxSize": max_size, "desiredSize": desired_size})



def delete_nodegroup(target: AwsTarget, cluster: str, nodegroup: str, *, emulator: bool | None = None) -> bool:
    """EKS DeleteNodegroup; False when the group (or its cluster) is already gone."""
    return _unless_gone(target, "DeleteNodegroup", emulator,
                        lambda eks: eks.delete_nodegroup(clusterName=cluster, nodegroupName=nodegroup))


def delete_cluster(target: AwsTarget, cluster: str, *, emulator: bool | None = None) -> bool:
    """EKS DeleteCluster (its node groups must be gone first); False when it is already gone."""
    return _unless_gone(target, "DeleteCluster", emulator, lambda eks: eks.delete_cluster(name=cluster))


def cluster_exists(target: AwsTarget, cluster: str, *, emulator: bool | None = None) -> bool:
    return _unless_gone(target, "DescribeCluster", emulator, lambda eks: eks.describe_cluster(name=cluster))


def _unless_gone(target: AwsTarget, operation: str, emulator: bool | None, call: Callable[[Any], Any]) -> bool:
    """Make one EKS call; False when EKS answers that its cluster or node group does not exist."""
    try:
        with aws_errors("eks", operation, emulator=target.fake_credentials if emulator is None else emulator):
            call(target.client("eks"))
    except AwsNotFound:
        return False
    return True
