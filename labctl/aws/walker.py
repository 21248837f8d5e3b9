"""One walk over a cohort's resources by its ``labctl:cohort`` tag, shared by every reader.

Owns: :class:`Walker`, the calls and paginated reads (botocore's errors mapped to
:class:`~labctl.errors.AwsError` here) and the cohort walks that more than one reader needs: EC2
items carrying the cohort tag, every EKS cluster and node group described, the buckets with
their tags, the account's budgets. :mod:`labctl.aws.inventory` (what teardown deletes and proves
gone) builds its listers on it; the typed reads at the bottom (instances, volumes, clusters,
buckets, budgets with the figures telemetry meters) are what ``telemetry.collectors`` uses. Raw
SDK dicts stay in aws/; callers of the typed reads get frozen records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from labctl.aws.eks import NodeGroup, nodegroup_from
from labctl.aws.session import AwsNotFound, AwsTarget, aws_errors
from labctl.naming import TAG_COHORT


def tags_of(pairs: Iterable[Mapping[str, Any]] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    """AWS's ``[{"Key": k, "Value": v}]`` tag lists as a dict (KMS spells them TagKey/TagValue)."""
    return {str(p[key]): str(p.get(value, "")) for p in (pairs or [])}


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


@dataclass
class Walker:
    """Reads against one target on behalf of one cohort."""

    target: AwsTarget
    cohort: str

    @property
    def emulator(self) -> bool:
        return self.target.fake_credentials

    def call(self, service: str, operation: str, **params: Any) -> Any:
        client = self.target.client(service)
        with aws_errors(service, operation, emulator=self.emulator):
            return getattr(client, _snake(operation))(**params)

    def pages(self, service: str, operation: str, **params: Any) -> Iterator[Any]:
        client = self.target.client(service)
        with aws_errors(service, operation, emulator=self.emulator):
            yield from client.get_paginator(_snake(operation)).paginate(**params)

    def tagged_ec2(self, operation: str, key: str, id_key: str, extra_filters: list[dict[str, Any]] | None = None,
                   vpcs: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
        """EC2 items carrying the cohort tag, plus (``vpcs``) those inside these VPCs; keyed by
        id, in listing order."""
        queries = [[{"Name": f"tag:{TAG_COHORT}", "Values": [self.cohort]}]]
        if vpcs:
            queries.append([{"Name": "vpc-id", "Values": sorted(vpcs)}])
        found: dict[str, dict[str, Any]] = {}
        for filters in queries:
            for page in self.pages("ec2", operation, Filters=filters + (extra_filters or [])):
                for item in _items(page, key):
                    found[str(item[id_key])] = item
        return found

    def described_clusters(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every EKS cluster of the region, described (one deleted meanwhile is skipped)."""
        for page in self.pages("eks", "ListClusters"):
            for name in page.get("clusters", []):
                try:
                    yield name, self.call("eks", "DescribeCluster", name=name)["cluster"]
                except AwsNotFound:
                    continue

    def described_nodegroups(self, cluster: str) -> list[tuple[str, dict[str, Any]]]:
        """A cluster's node groups, described; AwsNotFound when the cluster is gone, a group
        deleted meanwhile is skipped."""
        names = [n for p in self.pages("eks", "ListNodegroups", clusterName=cluster) for n in p.get("nodegroups", [])]
        out = []
        for ng in names:
            try:
                out.append((ng, self.call("eks", "DescribeNodegroup", clusterName=cluster, nodegroupName=ng)["nodegroup"]))
            except AwsNotFound:
                continue
        return out

    def buckets(self) -> list[dict[str, Any]]:
        return list(self.call("s3", "ListBuckets").get("Buckets", []))

    def bucket_tags(self, name: str) -> dict[str, str]:
        """AwsNotFound for an untagged bucket (NoSuchTagSet) or one deleted meanwhile."""
        return tags_of(self.call("s3", "GetBucketTagging", Bucket=name).get("TagSet"))

    def account(self) -> str:
        return str(self.call("sts", "GetCallerIdentity")["Account"])

    def budgets_of(self, account: str) -> list[dict[str, Any]]:
        """The account's budgets ([] when budgets answers NotFound: an account without any)."""
        try:
            pages = list(self.pages("budgets", "DescribeBudgets", AccountId=account))
        except AwsNotFound:
            return []
        return [b for page in pages for b in page.get("Budgets", [])]


def _items(page: Mapping[str, Any], key: str) -> Iterator[dict[str, Any]]:
    if key == "Instances":
        for reservation in page.get("Reservations", []):
            yield from reservation.get("Instances", [])
    else:
        yield from page.get(key, [])


def _snake(operation: str) -> str:
    from botocore import xform_name

    return str(xform_name(operation))


# ------------------------------------------------------------------------ typed reads (telemetry)


@dataclass(frozen=True)
class Instance:
    id: str
    instance_type: str | None
    state: str                          # "" when EC2 did not say
    state_reason: str | None            # StateTransitionReason (carries the stop time)
    spot: bool
    availability_zone: str | None
    launch_time: datetime               # timezone-aware
    public_ip: bool
    tags: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Volume:
    id: str
    gb: Decimal
    created: datetime
    availability_zone: str | None
    tags: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Cluster:
    name: str
    created: datetime
    status: str
    tags: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Bucket:
    name: str
    created: datetime


@dataclass(frozen=True)
class Budget:
    name: str
    limit_usd: str | None       # as AWS spells the amount
    actual_usd: str | None


def cohort_instances(w: Walker) -> list[Instance]:
    """Every instance carrying the cohort tag, in any state (terminated ones too, while EC2
    still lists them), in listing order."""
    out = []
    for iid, inst in w.tagged_ec2("DescribeInstances", "Instances", "InstanceId").items():
        out.append(Instance(iid, inst.get("InstanceType"), inst.get("State", {}).get("Name", ""),
                            inst.get("StateTransitionReason"), inst.get("InstanceLifecycle") == "spot",
                            inst.get("Placement", {}).get("AvailabilityZone"), _aware(inst["LaunchTime"]),
                            bool(inst.get("PublicIpAddress")), tags_of(inst.get("Tags"))))
    return out


def cohort_volumes(w: Walker) -> list[Volume]:
    return [Volume(vid, Decimal(v.get("Size", 0)), _aware(v["CreateTime"]), v.get("AvailabilityZone"),
                   tags_of(v.get("Tags")))
            for vid, v in w.tagged_ec2("DescribeVolumes", "Volumes", "VolumeId").items()]


def clusters(w: Walker) -> Iterator[Cluster]:
    """Every cluster of the region (the caller decides which are the cohort's)."""
    for name, c in w.described_clusters():
        yield Cluster(name, _aware(c["createdAt"]), str(c.get("status", "")), dict(c.get("tags") or {}))


def nodegroups(w: Walker, cluster: str) -> list[NodeGroup]:
    return [nodegroup_from(cluster, ng, d) for ng, d in w.described_nodegroups(cluster)]


def buckets(w: Walker) -> list[Bucket]:
    return [Bucket(str(b["Name"]), _aware(b["CreationDate"])) for b in w.buckets()]


def bucket_bytes(w: Walker, name: str) -> int:
    return sum(o.get("Size", 0) for page in w.pages("s3", "ListObjectsV2", Bucket=name) for o in page.get("Contents", []))


def budgets(w: Walker) -> list[Budget]:
    out = []
    for b in w.budgets_of(w.account()):
        limit = b.get("BudgetLimit", {}).get("Amount")
        actual = (b.get("CalculatedSpend") or {}).get("ActualSpend", {}).get("Amount")
        out.append(Budget(str(b["BudgetName"]), None if limit is None else str(limit),
                          None if actual is None else str(actual)))
    return out
