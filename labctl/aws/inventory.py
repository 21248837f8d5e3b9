"""Every AWS resource of a cohort, listed per service and per resource type.

Owns: one lister per resource type the Terraform modules create (plus what EKS creates behind
them, and what a team may have made by hand), and the rules that decide whether a resource
belongs to a cohort. Raw SDK dicts stay here; callers get frozen :class:`Resource` values.

Why per type and not the Resource Groups Tagging API: the embedded emulator's tagging API does
not index EKS, IAM, launch templates, budgets or schedules, and a real account holds resources
Terraform never knew about (state deleted, a crashed apply, a console click).

Matching rules, strongest first (each lister says which it uses):

* **tag** - ``labctl:cohort`` equals the cohort (provider ``default_tags`` put it everywhere the
  AWS API supports tags). Team comes from ``labctl:team``.
* **containment** - EC2 things inside a cohort VPC (subnets, route tables, internet gateways,
  security groups, instances, detached network interfaces) and node groups inside a cohort EKS
  cluster belong to the cohort even untagged: the VPC or cluster cannot be deleted around them.
* **cluster reference** - Auto Scaling groups behind node groups carry ``eks:cluster-name`` and
  ``k8s.io/cluster-autoscaler/<cluster>`` (not our tags); schedules name the cluster in their
  target input; OIDC providers carry the cluster's issuer URL.
* **pending deletion** - a KMS key cannot be deleted at once: deleting it schedules its deletion
  (7 days at the least), during which AWS charges nothing for it and it can be used by nothing.
  A tagged key in that state is not a leftover; it is listed apart (``Inventory.pending_deletion``)
  so the teardown proof can say when it goes.
* **name prefix** ``<cohort>-`` - only where tags are not available: EventBridge Scheduler
  schedules cannot be tagged at all (only schedule groups can), and budgets created without tags
  (or an endpoint without budgets ListTagsForResource). Cluster names are ``<cohort>-<team>``
  (labctl.naming), so the same prefix is the fallback for an ASG whose cluster is already gone.
  Limitation: a cohort whose id is ``<this cohort>-<something>`` in the same account (``c1`` and
  ``c1-x``) would match this prefix too; tagged resources are never confused this way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from labctl.aws.session import AwsAccessDenied, AwsError, AwsNotFound, AwsTarget
from labctl.aws.walker import Walker
from labctl.aws.walker import tags_of as _tags
from labctl.naming import TAG_COHORT, TAG_TEAM

TAG_EKS_CLUSTER = "eks:cluster-name"
TAG_AUTOSCALER_PREFIX = "k8s.io/cluster-autoscaler/"
LIVE_INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"]


@dataclass(frozen=True)
class Resource:
    """One cloud resource. ``id`` is what its delete call takes.

    ``parent`` is the container the delete call also needs: the cluster name of a node group,
    the schedule group of a schedule, the account id of a budget; for a volume, the instance it
    was attached to when listed; None otherwise. ``matched_by`` says which rule (module
    docstring) made it the cohort's: tag, containment, cluster, attachment or name-prefix.
    """

    service: str
    type: str
    id: str
    name: str
    team: str | None
    arn: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    parent: str | None = None
    matched_by: str = "tag"
    # The account it was found in, when a cohort spans several (labctl.aws.accounts); None: the
    # one account the target reaches.
    account: str | None = field(default=None, compare=False)

    def describe(self) -> str:
        label = self.id if self.name in ("", self.id) else f"{self.id} ({self.name})"
        return f"{self.type} {label}"


@dataclass(frozen=True)
class Inventory:
    """What a listing found, and what it could not read (never silently dropped)."""

    cohort: str
    resources: tuple[Resource, ...]
    unreadable: tuple[str, ...] = ()
    # The cohort's KMS keys already scheduled for deletion: not leftovers (no charge, no use), but
    # still visible in the account until their deletion date (``Resource.name`` says it).
    pending_deletion: tuple[Resource, ...] = ()

    def by_team(self) -> dict[str | None, list[Resource]]:
        out: dict[str | None, list[Resource]] = {}
        for r in self.resources:
            out.setdefault(r.team, []).append(r)
        return out


def list_cohort_resources(target: AwsTarget, cohort: str, team: str | None = None) -> list[Resource]:
    """Every resource of ``cohort`` (optionally of one team), sorted by type, team and id."""
    return list(inventory(target, cohort, team).resources)


def inventory(target: AwsTarget, cohort: str, team: str | None = None) -> Inventory:
    lister = _Lister(target, cohort, team)
    found = lister.run()
    if team is not None:
        found = [r for r in found if r.team == team]
    pending = [r for r in lister.pending_deletion if team is None or r.team == team]
    found.sort(key=lambda r: (r.type, r.team or "", r.id))
    pending.sort(key=lambda r: (r.type, r.team or "", r.id))
    return Inventory(cohort=cohort, resources=tuple(found), unreadable=tuple(lister.unreadable),
                     pending_deletion=tuple(pending))


# ---------------------------------------------------------------------------------- internals


@dataclass
class _Lister(Walker):
    """The listers below, on the shared walk (labctl.aws.walker: calls, pages, cohort-tag queries)."""

    team: str | None
    unreadable: list[str] = field(default_factory=list)
    pending_deletion: list[Resource] = field(default_factory=list)
    known_teams: set[str] = field(default_factory=set)
    vpcs: set[str] = field(default_factory=set)
    subnets: set[str] = field(default_factory=set)
    clusters: dict[str, str | None] = field(default_factory=dict)  # name -> team
    vpc_team: dict[str, str | None] = field(default_factory=dict)
    instance_team: dict[str, str | None] = field(default_factory=dict)

    def ours(self, tags: Mapping[str, str]) -> bool:
        return tags.get(TAG_COHORT) == self.cohort

    def team_of(self, tags: Mapping[str, str], name: str = "", cluster: str | None = None,
                vpc: str | None = None) -> str | None:
        if TAG_TEAM in tags:
            return tags[TAG_TEAM]
        if cluster is not None and self.clusters.get(cluster):
            return self.clusters[cluster]
        if vpc is not None and self.vpc_team.get(vpc):
            return self.vpc_team[vpc]
        return self.team_from_name(name) if name else None

    def team_from_name(self, name: str) -> str | None:
        """``<cohort>-<team>[-...]`` for a team seen elsewhere in this cohort; longest team first."""
        for t in sorted(self.known_teams | ({self.team} if self.team else set()), key=len, reverse=True):
            stem = f"{self.cohort}-{t}"
            if name == stem or name.startswith(stem + "-"):
                return t
        return None

    def has_prefix(self, name: str) -> bool:
        return name.startswith(f"{self.cohort}-")

    def resource(self, service: str, type_: str, id_: str, tags: Mapping[str, str], *, name: str = "",
                 arn: str | None = None, parent: str | None = None, matched_by: str = "tag",
                 cluster: str | None = None, vpc: str | None = None) -> Resource:
        team = self.team_of(tags, name or id_, cluster, vpc)
        if team:
            self.known_teams.add(team)
        return Resource(service=service, type=type_, id=id_, name=name or tags.get("Name", "") or id_,
                        team=team, arn=arn, tags=dict(tags), parent=parent, matched_by=matched_by)

    def run(self) -> list[Resource]:
        out: list[Resource] = []
        # Order matters: VPCs and clusters first, so containment and cluster references work,
        # and tagged types before the name-prefix ones, so teams are known for names.
        steps: list[Callable[[], list[Resource]]] = [
            self.vpcs_, self.subnets_, self.eks_clusters, self.eks_nodegroups, self.autoscaling_groups,
            self.instances, self.volumes, self.launch_templates, self.internet_gateways, self.route_tables,
            self.security_groups, self.network_interfaces, self.iam_roles, self.oidc_providers,
            self.s3_buckets, self.sns_topics, self.kms_keys, self.budgets, self.schedules,
        ]
        for step in steps:
            out.extend(step())
        return out

    # -- EC2 ------------------------------------------------------------------------------------

    def _ec2(self, operation: str, key: str, id_key: str, extra_filters: list[dict[str, Any]] | None = None,
             by_vpc: bool = False) -> dict[str, dict[str, Any]]:
        """Items tagged with the cohort, plus (``by_vpc``) those in a cohort VPC; keyed by id."""
        return self.tagged_ec2(operation, key, id_key, extra_filters, self.vpcs if by_vpc else ())

    def vpcs_(self) -> list[Resource]:
        out = []
        for vid, v in self._ec2("DescribeVpcs", "Vpcs", "VpcId").items():
            self.vpcs.add(vid)
            r = self.resource("ec2", "ec2:vpc", vid, _tags(v.get("Tags")))
            self.vpc_team[vid] = r.team
            out.append(r)
        return out

    def subnets_(self) -> list[Resource]:
        out = []
        for sid, s in self._ec2("DescribeSubnets", "Subnets", "SubnetId", by_vpc=True).items():
            self.subnets.add(sid)
            tags = _tags(s.get("Tags"))
            out.append(self.resource("ec2", "ec2:subnet", sid, tags, matched_by=_how(self.ours(tags)), vpc=s.get("VpcId")))
        return out

    def instances(self) -> list[Resource]:
        """Tag (launch-template tag specifications) or containment; terminated ones are gone."""
        state = [{"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES}]
        out = []
        for iid, inst in self._ec2("DescribeInstances", "Instances", "InstanceId", state, by_vpc=True).items():
            tags = _tags(inst.get("Tags"))
            r = self.resource("ec2", "ec2:instance", iid, tags, matched_by=_how(self.ours(tags)),
                              cluster=tags.get(TAG_EKS_CLUSTER), vpc=inst.get("VpcId"))
            self.instance_team[iid] = r.team
            out.append(r)
        return out

    def volumes(self) -> list[Resource]:
        """Tag, or attached to a cohort instance (one kept after termination would be orphaned)."""
        found = self._ec2("DescribeVolumes", "Volumes", "VolumeId")
        if self.instance_team:
            attached = [{"Name": "attachment.instance-id", "Values": sorted(self.instance_team)}]
            for page in self.pages("ec2", "DescribeVolumes", Filters=attached):
                for v in page.get("Volumes", []):
                    found.setdefault(v["VolumeId"], v)
        out = []
        for vid, v in found.items():
            tags = _tags(v.get("Tags"))
            instance = next((a.get("InstanceId") for a in v.get("Attachments", [])), None)
            r = self.resource("ec2", "ec2:volume", vid, tags, matched_by=_how(self.ours(tags), "attachment"),
                              parent=instance)
            if r.team is None and instance is not None and self.instance_team.get(instance):
                r = replace(r, team=self.instance_team[instance])
            out.append(r)
        return out

    def launch_templates(self) -> list[Resource]:
        """Tag only (default_tags reach the template itself)."""
        return [self.resource("ec2", "ec2:launch-template", lid, _tags(lt.get("Tags")), name=lt.get("LaunchTemplateName", ""))
                for lid, lt in self._ec2("DescribeLaunchTemplates", "LaunchTemplates", "LaunchTemplateId").items()]

    def internet_gateways(self) -> list[Resource]:
        queries = [[{"Name": f"tag:{TAG_COHORT}", "Values": [self.cohort]}]]
        if self.vpcs:
            queries.append([{"Name": "attachment.vpc-id", "Values": sorted(self.vpcs)}])
        found: dict[str, dict[str, Any]] = {}
        for filters in queries:
            for page in self.pages("ec2", "DescribeInternetGateways", Filters=filters):
                for g in page.get("InternetGateways", []):
                    found[g["InternetGatewayId"]] = g
        out = []
        for gid, g in found.items():
            tags = _tags(g.get("Tags"))
            vpc = next((a.get("VpcId") for a in g.get("Attachments", [])), None)
            out.append(self.resource("ec2", "ec2:internet-gateway", gid, tags, matched_by=_how(self.ours(tags)), vpc=vpc))
        return out

    def route_tables(self) -> list[Resource]:
        """Tag or containment; a VPC's main route table goes with the VPC and is not listed."""
        out = []
        for rid, rt in self._ec2("DescribeRouteTables", "RouteTables", "RouteTableId", by_vpc=True).items():
            if any(a.get("Main") for a in rt.get("Associations", [])):
                continue
            tags = _tags(rt.get("Tags"))
            out.append(self.resource("ec2", "ec2:route-table", rid, tags, matched_by=_how(self.ours(tags)),
                                     vpc=rt.get("VpcId")))
        return out

    def security_groups(self) -> list[Resource]:
        """Tag or containment; a VPC's ``default`` group goes with the VPC and is not listed."""
        out = []
        for gid, g in self._ec2("DescribeSecurityGroups", "SecurityGroups", "GroupId", by_vpc=True).items():
            if g.get("GroupName") == "default":
                continue
            tags = _tags(g.get("Tags"))
            out.append(self.resource("ec2", "ec2:security-group", gid, tags, name=g.get("GroupName", ""),
                                     matched_by=_how(self.ours(tags)), vpc=g.get("VpcId")))
        return out

    def network_interfaces(self) -> list[Resource]:
        """Detached (``available``) interfaces in cohort VPCs or tagged: they block subnet deletion.
        Attached ones go with their instance or are managed by the service that made them."""
        avail = [{"Name": "status", "Values": ["available"]}]
        out = []
        for nid, n in self._ec2("DescribeNetworkInterfaces", "NetworkInterfaces", "NetworkInterfaceId", avail, by_vpc=True).items():
            tags = _tags(n.get("TagSet"))
            out.append(self.resource("ec2", "ec2:network-interface", nid, tags, matched_by=_how(self.ours(tags)),
                                     vpc=n.get("VpcId")))
        return out

    # -- EKS and Auto Scaling ----------------------------------------------------------------------

    def eks_clusters(self) -> list[Resource]:
        """Tag, or a cluster whose VPC is a cohort VPC."""
        out = []
        for name, c in self.described_clusters():
            tags = dict(c.get("tags") or {})
            vpc = (c.get("resourcesVpcConfig") or {}).get("vpcId")
            if not (self.ours(tags) or vpc in self.vpcs):
                continue
            r = self.resource("eks", "eks:cluster", name, tags, arn=c.get("arn"), matched_by=_how(self.ours(tags)),
                              vpc=vpc)
            self.clusters[name] = r.team
            out.append(r)
        return out

    def eks_nodegroups(self) -> list[Resource]:
        """Every node group of a cohort cluster (a cluster cannot be deleted around them)."""
        out = []
        for cluster in sorted(self.clusters):
            try:
                groups = self.described_nodegroups(cluster)
            except AwsNotFound:
                continue
            for ng, d in groups:
                tags = dict(d.get("tags") or {})
                out.append(self.resource("eks", "eks:nodegroup", ng, tags, arn=d.get("nodegroupArn"), parent=cluster,
                                         cluster=cluster, matched_by=_how(self.ours(tags), "cluster")))
        return out

    def autoscaling_groups(self) -> list[Resource]:
        """Tag, or a cluster reference (``eks:cluster-name`` / ``k8s.io/cluster-autoscaler/<c>``)
        to a cohort cluster or, with the cluster gone, to a ``<cohort>-`` cluster name; or
        subnets in a cohort VPC."""
        out = []
        for page in self.pages("autoscaling", "DescribeAutoScalingGroups"):
            for g in page.get("AutoScalingGroups", []):
                tags = _tags(g.get("Tags"))
                clusters = {tags[TAG_EKS_CLUSTER]} if TAG_EKS_CLUSTER in tags else set()
                clusters |= {k[len(TAG_AUTOSCALER_PREFIX):] for k in tags if k.startswith(TAG_AUTOSCALER_PREFIX)}
                clusters.discard("enabled")
                clusters = {c for c in clusters if "/" not in c}
                subnets = {s for s in (g.get("VPCZoneIdentifier") or "").split(",") if s}
                if self.ours(tags):
                    how = "tag"
                elif clusters & set(self.clusters):
                    how = "cluster"
                elif subnets & self.subnets:
                    how = "containment"
                elif any(self.has_prefix(c) for c in clusters):
                    how = "name-prefix"
                else:
                    continue
                cluster = next(iter(sorted(clusters)), None)
                out.append(self.resource("autoscaling", "autoscaling:group", g["AutoScalingGroupName"], tags,
                                         arn=g.get("AutoScalingGroupARN"), matched_by=how, cluster=cluster,
                                         name=g["AutoScalingGroupName"]))
        return out

    # -- IAM ---------------------------------------------------------------------------------------

    def iam_roles(self) -> list[Resource]:
        """Tag, read with ListRoleTags (ListRoles does not return tags on AWS)."""
        out = []
        for page in self.pages("iam", "ListRoles"):
            for role in page.get("Roles", []):
                name = role["RoleName"]
                if role.get("Path", "/").startswith("/aws-service-role/"):
                    continue  # service-linked roles belong to AWS
                try:
                    tags = _tags(t for p in self.pages("iam", "ListRoleTags", RoleName=name) for t in p.get("Tags", []))
                except AwsNotFound:
                    continue
                if self.ours(tags):
                    out.append(self.resource("iam", "iam:role", name, tags, arn=role.get("Arn")))
        return out

    def oidc_providers(self) -> list[Resource]:
        """Tag, or the issuer URL of a cohort cluster."""
        issuers = set()
        for name in self.clusters:
            try:
                c = self.call("eks", "DescribeCluster", name=name)["cluster"]
            except AwsNotFound:
                continue
            issuer = ((c.get("identity") or {}).get("oidc") or {}).get("issuer")
            if issuer:
                issuers.add(issuer.removeprefix("https://"))
        out = []
        for p in self.call("iam", "ListOpenIDConnectProviders").get("OpenIDConnectProviderList", []):
            arn = p["Arn"]
            try:
                tags = _tags(self.call("iam", "ListOpenIDConnectProviderTags", OpenIDConnectProviderArn=arn).get("Tags"))
            except AwsNotFound:
                continue
            url = arn.split(":oidc-provider/", 1)[-1]
            if self.ours(tags) or url in issuers:
                out.append(self.resource("iam", "iam:oidc-provider", arn, tags, arn=arn, name=url,
                                         matched_by=_how(self.ours(tags), "cluster")))
        return out

    # -- S3, SNS -----------------------------------------------------------------------------------

    def s3_buckets(self) -> list[Resource]:
        """Tag (GetBucketTagging; NoSuchTagSet means untagged). A bucket whose tags we may not
        read is reported as unreadable, not skipped silently."""
        out = []
        for b in self.buckets():
            name = b["Name"]
            try:
                tags = self.bucket_tags(name)
            except AwsNotFound:
                continue  # NoSuchTagSet (untagged) or NoSuchBucket (deleted meanwhile)
            except AwsAccessDenied as e:
                self.unreadable.append(f"s3:bucket {name}: {e.code}")
                continue
            if self.ours(tags):
                out.append(self.resource("s3", "s3:bucket", name, tags, arn=f"arn:aws:s3:::{name}", name=name))
        return out

    def sns_topics(self) -> list[Resource]:
        """Tag (ListTagsForResource per topic)."""
        out = []
        for page in self.pages("sns", "ListTopics"):
            for t in page.get("Topics", []):
                arn = t["TopicArn"]
                try:
                    tags = _tags(self.call("sns", "ListTagsForResource", ResourceArn=arn).get("Tags"))
                except AwsNotFound:
                    continue
                if self.ours(tags):
                    out.append(self.resource("sns", "sns:topic", arn, tags, arn=arn, name=arn.rsplit(":", 1)[-1]))
        return out

    # -- KMS ---------------------------------------------------------------------------------------

    def kms_keys(self) -> list[Resource]:
        """Tag (ListResourceTags; KMS spells its tags TagKey/TagValue). AWS managed keys (aws/...)
        are never ours and are not asked for tags. Keys already scheduled for deletion go to
        ``pending_deletion``, with their deletion date as their name."""
        out = []
        for page in self.pages("kms", "ListKeys"):
            for k in page.get("Keys", []):
                key_id = k["KeyId"]
                try:
                    meta = self.call("kms", "DescribeKey", KeyId=key_id)["KeyMetadata"]
                    if meta.get("KeyManager") == "AWS":
                        continue
                    tags = _tags(self.call("kms", "ListResourceTags", KeyId=key_id).get("Tags"), "TagKey", "TagValue")
                except AwsNotFound:
                    continue
                except AwsAccessDenied as e:
                    self.unreadable.append(f"kms:key {key_id}: {e.code}")
                    continue
                if not self.ours(tags):
                    continue
                state = meta.get("KeyState", "")
                if state in ("PendingDeletion", "PendingReplicaDeletion"):
                    when = meta.get("DeletionDate")
                    name = f"deleted on {when:%Y-%m-%d}" if hasattr(when, "strftime") else "pending deletion"
                    self.pending_deletion.append(self.resource("kms", "kms:key", key_id, tags, arn=meta.get("Arn"), name=name))
                    continue
                out.append(self.resource("kms", "kms:key", key_id, tags, arn=meta.get("Arn"),
                                         name=meta.get("Description") or key_id))
        return out

    # -- Budgets, Scheduler ------------------------------------------------------------------------

    def budgets(self) -> list[Resource]:
        """Tag when the budget carries ``labctl:cohort`` (budgets ListTagsForResource; the
        emulator has it only through labctl's compat layer); otherwise name prefix ``<cohort>-``
        (budgets made before budget tagging existed, or an endpoint without the tag API)."""
        account = self.account()
        out = []
        for b in self.budgets_of(account):  # [] for an account without any budget
            name = b["BudgetName"]
            arn = f"arn:aws:budgets::{account}:budget/{name}"
            tags: dict[str, str] = {}
            try:
                tags = _tags(self.call("budgets", "ListTagsForResource", ResourceARN=arn).get("ResourceTags"))
            except AwsNotFound:
                continue
            except AwsAccessDenied:
                raise
            except AwsError:  # an endpoint without the tag API: fall back to the name
                tags = {}
            if TAG_COHORT in tags:
                if not self.ours(tags):
                    continue
                how = "tag"
            elif self.has_prefix(name):
                how = "name-prefix"
            else:
                continue
            out.append(self.resource("budgets", "budgets:budget", name, tags, arn=arn, parent=account,
                                     name=name, matched_by=how))
        return out

    def schedules(self) -> list[Resource]:
        """Schedules cannot be tagged (AWS tags schedule groups only). A schedule is the cohort's
        when its target input names a cohort cluster (the backstop's ``ClusterName``), or by
        name prefix ``<cohort>-``."""
        out = []
        for page in self.pages("scheduler", "ListSchedules"):
            for s in page.get("Schedules", []):
                name, group = s["Name"], s.get("GroupName") or "default"
                cluster = None
                try:
                    detail = self.call("scheduler", "GetSchedule", Name=name, GroupName=group)
                    cluster = _cluster_in_input((detail.get("Target") or {}).get("Input"))
                except AwsNotFound:
                    continue
                if cluster is not None and cluster in self.clusters:
                    how = "cluster"
                elif self.has_prefix(name) or (cluster is not None and self.has_prefix(cluster)):
                    how = "name-prefix"
                else:
                    continue
                out.append(self.resource("scheduler", "scheduler:schedule", name, {}, arn=s.get("Arn"), parent=group,
                                         name=name, matched_by=how, cluster=cluster))
        return out


def _how(tagged: bool, otherwise: str = "containment") -> str:
    return "tag" if tagged else otherwise


def _cluster_in_input(raw: str | None) -> str | None:
    try:
        data = json.loads(raw or "")
    except ValueError:
        return None
    value = data.get("ClusterName") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None
