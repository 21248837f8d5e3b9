"""Deleting what an inventory found, in an order AWS accepts, and saying what happened.

Owns: :func:`plan_sweep` (pure: resources -> ordered deletion actions, grouped in phases by
dependency) and :func:`execute_sweep` (the only place in labctl that deletes through boto3
directly; Terraform destroy is elsewhere). A phase's actions are all started before any is
waited for, so N teams' node groups (minutes each on AWS) are deleted side by side.

Idempotent: a resource that is already gone is reported as ``already-gone``, never as a
failure, so a sweep can be re-run after a crash or after ``terraform destroy`` did most of it.
A failure in one action does not stop the others; later phases may then fail on dependency
(the VPC after a subnet that would not go), and each failure carries its typed reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from labctl.aws.inventory import Resource
from labctl.aws.session import AwsConflict, AwsError, AwsNotFound, AwsTarget, aws_errors

# (resource type, what is done, whether the sweep waits for it to be gone), in dependency order.
# Schedules and budgets first so nothing scales node groups or alerts mid-teardown; node groups
# before their ASGs (EKS deletes its own ASG) and instances; instances before their volumes and
# before the cluster; the cluster before the roles it uses and the OIDC provider; the cluster and
# the alert topic before the KMS key that encrypts them; everything inside the VPC before the VPC.
# A KMS key cannot be deleted at once: its deletion is scheduled (the shortest window, 7 days; AWS
# charges nothing meanwhile), after which the inventory lists it as pending deletion, not as a
# leftover.
PHASES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("scheduler:schedule", ("delete",), False),
    ("budgets:budget", ("delete",), False),
    ("eks:nodegroup", ("delete", "wait-deleted"), True),
    ("autoscaling:group", ("force-delete", "wait-deleted"), True),
    ("ec2:instance", ("terminate", "wait-terminated"), True),
    ("ec2:volume", ("wait-detached", "delete"), False),
    ("eks:cluster", ("delete", "wait-deleted"), True),
    ("ec2:launch-template", ("delete",), False),
    ("iam:oidc-provider", ("delete",), False),
    ("iam:role", ("detach-managed-policies", "delete-inline-policies", "remove-from-instance-profiles", "delete"), False),
    ("sns:topic", ("delete",), False),
    ("kms:key", ("schedule-deletion",), False),
    ("s3:bucket", ("delete-object-versions", "abort-multipart-uploads", "delete"), False),
    ("ec2:network-interface", ("delete",), False),
    ("ec2:route-table", ("disassociate", "delete-routes", "delete"), False),
    ("ec2:internet-gateway", ("detach", "delete"), False),
    ("ec2:subnet", ("delete",), False),
    ("ec2:security-group", ("revoke-rules", "delete"), False),
    ("ec2:vpc", ("delete",), False),
)
PHASE_OF = {t: i for i, (t, _, _) in enumerate(PHASES)}

Status = Literal["deleted", "already-gone", "failed", "would-delete"]


class UnknownResourceType(ValueError):
    """The inventory produced a type the sweep has no deletion for: a bug, not a user error."""


@dataclass(frozen=True)
class Action:
    phase: int
    resource: Resource
    steps: tuple[str, ...]
    wait: bool

    def describe(self) -> str:
        team = f" [team {self.resource.team}]" if self.resource.team else ""
        return f"{' + '.join(self.steps)}: {self.resource.describe()}{team}"


@dataclass(frozen=True)
class Outcome:
    action: Action
    status: Status
    reason: str | None = None

    @property
    def resource(self) -> Resource:
        return self.action.resource


@dataclass(frozen=True)
class SweepResult:
    dry_run: bool
    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)

    def _with(self, status: Status) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def deleted(self) -> list[Outcome]:
        return self._with("deleted")

    @property
    def already_gone(self) -> list[Outcome]:
        return self._with("already-gone")

    @property
    def failed(self) -> list[Outcome]:
        return self._with("failed")

    @property
    def would_delete(self) -> list[Outcome]:
        return self._with("would-delete")

    @property
    def ok(self) -> bool:
        return not self.failed


def plan_sweep(resources: Iterable[Resource]) -> list[Action]:
    """Deletion actions in dependency order; within a phase by team, then id. Pure."""
    actions = []
    seen: set[tuple[str, str, str | None]] = set()
    for r in resources:
        if r.type not in PHASE_OF:
            raise UnknownResourceType(f"no deletion known for resource type {r.type!r} ({r.id})")
        key = (r.type, r.id, r.parent)
        if key in seen:
            continue
        seen.add(key)
        phase = PHASE_OF[r.type]
        _, steps, wait = PHASES[phase]
        actions.append(Action(phase=phase, resource=r, steps=steps, wait=wait))
    actions.sort(key=lambda a: (a.phase, a.resource.team or "", a.resource.id))
    return actions


ProgressFn = Callable[[Outcome], None]


def execute_sweep(target: AwsTarget, actions: Sequence[Action], dry_run: bool, *,
                  wait_timeout_s: float = 1200.0, conflict_retry_s: float | None = None,
                  progress: ProgressFn | None = None) -> SweepResult:
    """Carry out ``actions`` (from :func:`plan_sweep`) phase by phase; with ``dry_run``, touch nothing.

    ``conflict_retry_s``: how long a DependencyViolation / ResourceInUse is retried (AWS releases
    ENIs and attachments some time after an instance or cluster is gone). Default: 0 against an
    emulator (its state never catches up by itself), 180 s against AWS.
    """
    outcomes: list[Outcome] = []

    def record(o: Outcome) -> None:
        outcomes.append(o)
        if progress is not None:
            progress(o)

    if dry_run:
        for a in actions:
            record(Outcome(a, "would-delete"))
        return SweepResult(dry_run=True, outcomes=tuple(outcomes))

    retry_s = conflict_retry_s if conflict_retry_s is not None else (0.0 if target.fake_credentials else 180.0)
    ex = _Executor(target, wait_timeout_s, retry_s)
    for phase in sorted({a.phase for a in actions}):
        batch = [a for a in actions if a.phase == phase]
        handler = _HANDLERS[PHASES[phase][0]]
        pending: list[Action] = []
        if handler.prepare is not None:
            for a in batch:
                try:
                    handler.prepare(ex, a.resource)
                except AwsError:
                    pass  # the delete below reports the real problem
        for a in batch:
            try:
                gone = ex.retrying(lambda a=a, handler=handler: handler.start(ex, a.resource))
            except AwsError as e:
                record(Outcome(a, "failed", str(e)))
                continue
            if gone:
                record(Outcome(a, "already-gone"))
            elif handler.wait is not None:
                pending.append(a)
            else:
                record(Outcome(a, "deleted"))
        for a in pending:
            try:
                assert handler.wait is not None
                handler.wait(ex, a.resource)
            except AwsError as e:
                record(Outcome(a, "failed", str(e)))
            else:
                record(Outcome(a, "deleted"))
    return SweepResult(dry_run=False, outcomes=tuple(outcomes))


# ---------------------------------------------------------------------------------- execution


class _Gone(Exception):
    """Raised inside a handler when the first call finds the resource missing."""


@dataclass
class _Executor:
    target: AwsTarget
    wait_timeout_s: float
    conflict_retry_s: float
    poll_s: float = 0.0

    def __post_init__(self) -> None:
        self.poll_s = 0.2 if self.target.fake_credentials else 10.0

    def call(self, service: str, operation: str, **params: Any) -> Any:
        from botocore import xform_name

        with aws_errors(service, operation, emulator=self.target.fake_credentials):
            return getattr(self.target.client(service), xform_name(operation))(**params)

    def first(self, service: str, operation: str, **params: Any) -> Any:
        """A call whose NotFound means the resource is already gone."""
        try:
            return self.call(service, operation, **params)
        except AwsNotFound:
            raise _Gone from None

    def retrying(self, fn: Callable[[], None]) -> bool:
        """Run a start step; True when the resource was already gone."""
        deadline = time.monotonic() + self.conflict_retry_s
        while True:
            try:
                fn()
                return False
            except _Gone:
                return True
            except AwsNotFound:
                # Gone between two of our own calls (e.g. deleted by its owner meanwhile).
                return False
            except AwsConflict:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(min(15.0, max(self.poll_s, 1.0)))

    def poll_until(self, done: Callable[[], bool], what: str, service: str, operation: str) -> None:
        deadline = time.monotonic() + self.wait_timeout_s
        while not done():
            if time.monotonic() >= deadline:
                raise AwsError(service, operation, "WaiterTimeout", f"{what} still present after {self.wait_timeout_s:.0f}s")
            time.sleep(self.poll_s)

    def gone(self, service: str, operation: str, **params: Any) -> Callable[[], bool]:
        def check() -> bool:
            try:
                self.call(service, operation, **params)
            except AwsNotFound:
                return True
            return False
        return check


@dataclass(frozen=True)
class _Handler:
    start: Callable[[_Executor, Resource], None]
    wait: Callable[[_Executor, Resource], None] | None = None
    prepare: Callable[[_Executor, Resource], None] | None = None


def _schedule(ex: _Executor, r: Resource) -> None:
    ex.first("scheduler", "DeleteSchedule", Name=r.id, GroupName=r.parent or "default")


def _budget(ex: _Executor, r: Resource) -> None:
    ex.first("budgets", "DeleteBudget", AccountId=r.parent, BudgetName=r.id)


def _nodegroup(ex: _Executor, r: Resource) -> None:
    try:
        ex.first("eks", "DeleteNodegroup", clusterName=r.parent, nodegroupName=r.id)
    except AwsConflict:
        pass  # already DELETING: wait for it like for our own


def _nodegroup_wait(ex: _Executor, r: Resource) -> None:
    ex.poll_until(ex.gone("eks", "DescribeNodegroup", clusterName=r.parent, nodegroupName=r.id),
                  f"node group {r.id}", "eks", "DescribeNodegroup")


def _asg(ex: _Executor, r: Resource) -> None:
    if not _asg_exists(ex, r.id):
        raise _Gone
    ex.call("autoscaling", "DeleteAutoScalingGroup", AutoScalingGroupName=r.id, ForceDelete=True)


def _asg_exists(ex: _Executor, name: str) -> bool:
    groups = ex.call("autoscaling", "DescribeAutoScalingGroups", AutoScalingGroupNames=[name])
    return bool(groups.get("AutoScalingGroups"))


def _asg_wait(ex: _Executor, r: Resource) -> None:
    ex.poll_until(lambda: not _asg_exists(ex, r.id), f"auto scaling group {r.id}", "autoscaling", "DescribeAutoScalingGroups")


def _instance_state(ex: _Executor, iid: str) -> str | None:
    try:
        res = ex.call("ec2", "DescribeInstances", InstanceIds=[iid])
    except AwsNotFound:
        return None
    for rsv in res.get("Reservations", []):
        for inst in rsv.get("Instances", []):
            return str(inst["State"]["Name"])
    return None


def _instance(ex: _Executor, r: Resource) -> None:
    if _instance_state(ex, r.id) in (None, "terminated"):
        raise _Gone
    ex.call("ec2", "TerminateInstances", InstanceIds=[r.id])


def _instance_wait(ex: _Executor, r: Resource) -> None:
    ex.poll_until(lambda: _instance_state(ex, r.id) in (None, "terminated"), f"instance {r.id}", "ec2", "DescribeInstances")


def _volume(ex: _Executor, r: Resource) -> None:
    vols = ex.first("ec2", "DescribeVolumes", VolumeIds=[r.id]).get("Volumes", [])
    if not vols:
        raise _Gone
    if vols[0].get("State") == "in-use":
        # Detaching happens as its instance terminates (previous phase); give it time.
        def detached() -> bool:
            try:
                v = ex.call("ec2", "DescribeVolumes", VolumeIds=[r.id]).get("Volumes", [])
            except AwsNotFound:
                return True
            return not v or v[0].get("State") != "in-use"
        ex.poll_until(detached, f"volume {r.id} attachment", "ec2", "DescribeVolumes")
    ex.call("ec2", "DeleteVolume", VolumeId=r.id)


def _cluster(ex: _Executor, r: Resource) -> None:
    ex.first("eks", "DeleteCluster", name=r.id)


def _cluster_wait(ex: _Executor, r: Resource) -> None:
    ex.poll_until(ex.gone("eks", "DescribeCluster", name=r.id), f"cluster {r.id}", "eks", "DescribeCluster")


def _launch_template(ex: _Executor, r: Resource) -> None:
    ex.first("ec2", "DeleteLaunchTemplate", LaunchTemplateId=r.id)


def _oidc(ex: _Executor, r: Resource) -> None:
    # DeleteOpenIDConnectProvider succeeds for a missing ARN on AWS; ask first to tell the two apart.
    ex.first("iam", "GetOpenIDConnectProvider", OpenIDConnectProviderArn=r.id)
    ex.call("iam", "DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=r.id)


def _role(ex: _Executor, r: Resource) -> None:
    attached = ex.first("iam", "ListAttachedRolePolicies", RoleName=r.id)
    for p in _all_pages(ex, "iam", "ListAttachedRolePolicies", "AttachedPolicies", attached, RoleName=r.id):
        ex.call("iam", "DetachRolePolicy", RoleName=r.id, PolicyArn=p["PolicyArn"])
    for name in _all_pages(ex, "iam", "ListRolePolicies", "PolicyNames", None, RoleName=r.id):
        ex.call("iam", "DeleteRolePolicy", RoleName=r.id, PolicyName=name)
    for prof in _all_pages(ex, "iam", "ListInstanceProfilesForRole", "InstanceProfiles", None, RoleName=r.id):
        ex.call("iam", "RemoveRoleFromInstanceProfile", InstanceProfileName=prof["InstanceProfileName"], RoleName=r.id)
        # A profile holds at most one role: without ours it is an empty leftover.
        try:
            ex.call("iam", "DeleteInstanceProfile", InstanceProfileName=prof["InstanceProfileName"])
        except AwsNotFound:
            pass
    ex.call("iam", "DeleteRole", RoleName=r.id)


def _all_pages(ex: _Executor, service: str, operation: str, key: str, first_page: Any, **params: Any) -> list[Any]:
    page = first_page if first_page is not None else ex.call(service, operation, **params)
    items = list(page.get(key, []))
    while page.get("IsTruncated") and page.get("Marker"):
        page = ex.call(service, operation, Marker=page["Marker"], **params)
        items.extend(page.get(key, []))
    return items


def _topic(ex: _Executor, r: Resource) -> None:
    # DeleteTopic is idempotent on AWS; ask first so a second sweep says "already gone".
    ex.first("sns", "GetTopicAttributes", TopicArn=r.id)
    ex.call("sns", "DeleteTopic", TopicArn=r.id)


KMS_DELETION_WINDOW_DAYS = 7   # the shortest AWS allows (module team-key's default too)


def _kms_key(ex: _Executor, r: Resource) -> None:
    meta = ex.first("kms", "DescribeKey", KeyId=r.id)["KeyMetadata"]
    if meta.get("KeyState") in ("PendingDeletion", "PendingReplicaDeletion"):
        raise _Gone
    ex.call("kms", "ScheduleKeyDeletion", KeyId=r.id, PendingWindowInDays=KMS_DELETION_WINDOW_DAYS)


def _bucket(ex: _Executor, r: Resource) -> None:
    ex.first("s3", "HeadBucket", Bucket=r.id)
    while True:
        page = ex.call("s3", "ListObjectVersions", Bucket=r.id, MaxKeys=1000)
        keys = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]
        if not keys:
            break
        ex.call("s3", "DeleteObjects", Bucket=r.id, Delete={"Objects": keys, "Quiet": True})
    # Unversioned buckets answer ListObjectVersions too (VersionId "null"); this catches any rest.
    while True:
        listed = ex.call("s3", "ListObjectsV2", Bucket=r.id, MaxKeys=1000).get("Contents", [])
        if not listed:
            break
        ex.call("s3", "DeleteObjects", Bucket=r.id, Delete={"Objects": [{"Key": o["Key"]} for o in listed], "Quiet": True})
    for up in ex.call("s3", "ListMultipartUploads", Bucket=r.id).get("Uploads", []):
        ex.call("s3", "AbortMultipartUpload", Bucket=r.id, Key=up["Key"], UploadId=up["UploadId"])
    ex.call("s3", "DeleteBucket", Bucket=r.id)


def _eni(ex: _Executor, r: Resource) -> None:
    ex.first("ec2", "DeleteNetworkInterface", NetworkInterfaceId=r.id)


def _route_table(ex: _Executor, r: Resource) -> None:
    tables = ex.first("ec2", "DescribeRouteTables", RouteTableIds=[r.id]).get("RouteTables", [])
    if not tables:
        raise _Gone
    rt = tables[0]
    for a in rt.get("Associations", []):
        if not a.get("Main") and a.get("RouteTableAssociationId"):
            ex.call("ec2", "DisassociateRouteTable", AssociationId=a["RouteTableAssociationId"])
    for route in rt.get("Routes", []):
        if route.get("GatewayId") == "local" or route.get("Origin") == "CreateRouteTable":
            continue
        dest = {k: route[k] for k in ("DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId") if k in route}
        if dest:
            try:
                ex.call("ec2", "DeleteRoute", RouteTableId=r.id, **dest)
            except AwsNotFound:
                pass
    ex.call("ec2", "DeleteRouteTable", RouteTableId=r.id)


def _igw(ex: _Executor, r: Resource) -> None:
    gws = ex.first("ec2", "DescribeInternetGateways", InternetGatewayIds=[r.id]).get("InternetGateways", [])
    if not gws:
        raise _Gone
    for att in gws[0].get("Attachments", []):
        try:
            ex.call("ec2", "DetachInternetGateway", InternetGatewayId=r.id, VpcId=att["VpcId"])
        except AwsNotFound:
            pass
    ex.call("ec2", "DeleteInternetGateway", InternetGatewayId=r.id)


def _subnet(ex: _Executor, r: Resource) -> None:
    ex.first("ec2", "DeleteSubnet", SubnetId=r.id)


def _sg_revoke(ex: _Executor, r: Resource) -> None:
    # Groups that reference each other block each other's deletion: empty them all first.
    groups = ex.call("ec2", "DescribeSecurityGroups", GroupIds=[r.id]).get("SecurityGroups", [])
    for g in groups:
        if g.get("IpPermissions"):
            ex.call("ec2", "RevokeSecurityGroupIngress", GroupId=r.id, IpPermissions=g["IpPermissions"])
        if g.get("IpPermissionsEgress"):
            ex.call("ec2", "RevokeSecurityGroupEgress", GroupId=r.id, IpPermissions=g["IpPermissionsEgress"])


def _sg(ex: _Executor, r: Resource) -> None:
    ex.first("ec2", "DeleteSecurityGroup", GroupId=r.id)


def _vpc(ex: _Executor, r: Resource) -> None:
    ex.first("ec2", "DeleteVpc", VpcId=r.id)


_HANDLERS: dict[str, _Handler] = {
    "scheduler:schedule": _Handler(_schedule),
    "budgets:budget": _Handler(_budget),
    "eks:nodegroup": _Handler(_nodegroup, _nodegroup_wait),
    "autoscaling:group": _Handler(_asg, _asg_wait),
    "ec2:instance": _Handler(_instance, _instance_wait),
    "ec2:volume": _Handler(_volume),
    "eks:cluster": _Handler(_cluster, _cluster_wait),
    "ec2:launch-template": _Handler(_launch_template),
    "iam:oidc-provider": _Handler(_oidc),
    "iam:role": _Handler(_role),
    "sns:topic": _Handler(_topic),
    "kms:key": _Handler(_kms_key),
    "s3:bucket": _Handler(_bucket),
    "ec2:network-interface": _Handler(_eni),
    "ec2:route-table": _Handler(_route_table),
    "ec2:internet-gateway": _Handler(_igw),
    "ec2:subnet": _Handler(_subnet),
    "ec2:security-group": _Handler(_sg, prepare=_sg_revoke),
    "ec2:vpc": _Handler(_vpc),
}
assert set(_HANDLERS) == set(PHASE_OF), "every phase needs a handler"
