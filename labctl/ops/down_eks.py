"""EKS clusters deleted through the EKS API just before `terraform destroy`, on emulator targets.

Why: the aws provider sleeps a random 0-60 s before each EKS DeleteCluster
(``tfresource.WithDelayRand(1 * time.Minute)`` in its eks/cluster.go), to spread concurrent
mutations on AWS, where deleting a cluster takes about ten minutes anyway. On the embedded
emulator and LocalStack the delete itself is instant, so that sleep was most of `down`'s wall
time: a destroy of several teams waits for the longest of their sleeps (the 3-team demo's `down`
took 70 s, bench/README.md).

How, per team with a cluster in its state: DeleteNodegroup for each of the cluster's node groups,
wait until EKS no longer knows them, DeleteCluster, wait likewise. The destroy's refresh then finds
both gone and drops them from the state (the provider's read of a missing cluster or node group),
and destroys the rest in terraform's order. Each deletion is the team's, in its account: the
proof lists its address under ``destroyed`` (where a destroy would have put it) and again under
``deleted_through_eks_api``, and the teardown journal records it as it happens. A node group's
``aws_autoscaling_group_tag`` resources are listed with it: they are tags on the Auto Scaling group
EKS made for the group, and EKS deletes that group, tags and all, with the node group.

Anything that goes wrong here (a node group still deleting at the time limit, an access error)
only leaves the cluster to terraform, which deletes it the slow way: this step saves time, it is
never what makes a teardown complete. On target ``aws`` terraform keeps the whole order: its
waiters are the ones AWS's own deletes need, and the sleep is small against them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from labctl.aws import eks
from labctl.aws.session import AwsTarget
from labctl.errors import AwsError
from labctl.tf import state as tfstate

EMULATOR_TARGETS = ("embedded", "localstack")
GONE_WAIT_S = 60.0          # LocalStack deletes asynchronously; moto at once
POLL_S = 0.5


@dataclass(frozen=True)
class TeamCluster:
    """What a team's state says of its EKS cluster: its name and address, and its node groups'
    names with their addresses."""

    team: str
    address: str
    name: str
    # node group name -> its address, then its ASG tags' addresses (they go with it)
    nodegroups: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Deleted:
    team: str
    addresses: list[str] = field(default_factory=list)       # in the team's own root
    note: str | None = None                                  # why (part of) it was left to terraform


def team_cluster(team: str, state: dict[str, Any] | None) -> TeamCluster | None:
    """The team's cluster as its state records it; None without one."""
    clusters = [(address, str(attrs["name"])) for _m, address, attrs in tfstate.instances_of(state, "aws_eks_cluster")
                if attrs.get("name")]
    if not clusters:
        return None
    tags: dict[str, list[str]] = {}         # module address -> its ASG tags' addresses
    for module, address, _attrs in tfstate.instances_of(state, "aws_autoscaling_group_tag"):
        tags.setdefault(module, []).append(address)
    groups = {str(attrs["node_group_name"]): [address, *sorted(tags.get(module, []))]
              for module, address, attrs in tfstate.instances_of(state, "aws_eks_node_group") if attrs.get("node_group_name")}
    return TeamCluster(team, clusters[0][0], clusters[0][1], groups)


def applies(target: str) -> bool:
    return target in EMULATOR_TARGETS


def delete_clusters(clusters: list[TeamCluster], target_of: Callable[[str], AwsTarget],
                    on_deleted: Callable[[str, str], None] | None = None, workers: int = 4) -> dict[str, Deleted]:
    """Delete each team's node groups, then its cluster, through the EKS API; by team, what was
    deleted (addresses) and, when something was left to terraform, why."""
    def one(c: TeamCluster) -> Deleted:
        return _delete_one(c, target_of(c.team), on_deleted)

    if not clusters:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(clusters))), thread_name_prefix="eks-delete") as pool:
        return {d.team: d for d in pool.map(one, clusters)}


def _delete_one(c: TeamCluster, target: AwsTarget, on_deleted: Callable[[str, str], None] | None) -> Deleted:
    out = Deleted(c.team)

    def done(address: str) -> None:
        out.addresses.append(address)
        if on_deleted is not None:
            on_deleted(c.team, address)

    try:
        if not eks.cluster_exists(target, c.name):
            return out          # gone already: the destroy's refresh drops it, nothing was deleted here
        names = eks.list_nodegroups(target, c.name)
        for name in names:
            eks.delete_nodegroup(target, c.name, name)
        waiting = _wait_gone(lambda: eks.list_nodegroups(target, c.name))
        for name in names:
            if name not in waiting:
                for address in c.nodegroups.get(name, [f"eks:nodegroup {c.name}/{name}"]):
                    done(address)
        if waiting:
            out.note = f"node groups {', '.join(waiting)} still deleting after {GONE_WAIT_S:.0f} s; terraform deletes the cluster"
            return out
        eks.delete_cluster(target, c.name)
        if _wait_gone(lambda: [c.name] if eks.cluster_exists(target, c.name) else []):
            out.note = f"cluster {c.name} still deleting after {GONE_WAIT_S:.0f} s; terraform waits for it"
            return out
        done(c.address)
    except AwsError as exc:
        out.note = f"EKS API: {exc}; terraform deletes the rest"
    return out


def _wait_gone(still: Callable[[], list[str]]) -> list[str]:
    """Poll ``still`` until it lists nothing or the time is up; what it lists last."""
    deadline = time.monotonic() + GONE_WAIT_S
    left = still()
    while left and time.monotonic() < deadline:
        time.sleep(POLL_S)
        left = still()
    return left
