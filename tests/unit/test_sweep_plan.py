"""plan_sweep is pure: resources in any order -> deletions in an order AWS accepts.

Also the boundary where botocore errors become labctl's typed AWS errors, and the dry run
(which must not create a single client).
"""

from __future__ import annotations

import random

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from labctl.aws.inventory import Resource
from labctl.aws.session import (
    AwsAccessDenied,
    AwsConflict,
    AwsError,
    AwsNotFound,
    AwsTarget,
    AwsThrottled,
    AwsUnavailable,
    EmulatorUnavailable,
    translate,
)
from labctl.aws.sweep import PHASES, UnknownResourceType, execute_sweep, plan_sweep

# The whole order, as a table: (type, steps). Changing it is a deliberate act.
EXPECTED_ORDER = [
    ("scheduler:schedule", ("delete",)),
    ("budgets:budget", ("delete",)),
    ("eks:nodegroup", ("delete", "wait-deleted")),
    ("autoscaling:group", ("force-delete", "wait-deleted")),
    ("ec2:instance", ("terminate", "wait-terminated")),
    ("ec2:volume", ("wait-detached", "delete")),
    ("eks:cluster", ("delete", "wait-deleted")),
    ("ec2:launch-template", ("delete",)),
    ("iam:oidc-provider", ("delete",)),
    ("iam:role", ("detach-managed-policies", "delete-inline-policies", "remove-from-instance-profiles", "delete")),
    ("sns:topic", ("delete",)),
    ("kms:key", ("schedule-deletion",)),           # after the topic and cluster it encrypts for
    ("s3:bucket", ("delete-object-versions", "abort-multipart-uploads", "delete")),
    ("ec2:network-interface", ("delete",)),
    ("ec2:route-table", ("disassociate", "delete-routes", "delete")),
    ("ec2:internet-gateway", ("detach", "delete")),
    ("ec2:subnet", ("delete",)),
    ("ec2:security-group", ("revoke-rules", "delete")),
    ("ec2:vpc", ("delete",)),
]

# (must be deleted first, must be deleted later): the dependencies AWS enforces.
MUST_PRECEDE = [
    ("scheduler:schedule", "eks:nodegroup"),      # a backstop firing mid-teardown would touch a dying node group
    ("eks:nodegroup", "autoscaling:group"),        # EKS owns the ASG behind a node group
    ("eks:nodegroup", "eks:cluster"),              # a cluster with node groups cannot be deleted
    ("autoscaling:group", "ec2:instance"),         # an ASG would replace terminated instances
    ("ec2:instance", "ec2:volume"),                # attached volumes are in use
    ("ec2:instance", "ec2:subnet"),
    ("eks:nodegroup", "ec2:launch-template"),      # a node group's launch template is in use
    ("eks:cluster", "iam:oidc-provider"),
    ("eks:cluster", "iam:role"),                   # the cluster role is used until the cluster is gone
    ("budgets:budget", "sns:topic"),               # budget notifications publish to the topic
    ("ec2:route-table", "ec2:internet-gateway"),   # a route targets the gateway
    ("ec2:route-table", "ec2:subnet"),             # associations
    ("ec2:network-interface", "ec2:subnet"),
    ("ec2:internet-gateway", "ec2:vpc"),
    ("ec2:subnet", "ec2:vpc"),
    ("ec2:security-group", "ec2:vpc"),
    ("ec2:instance", "ec2:security-group"),
]


def res(type_: str, id_: str, team: str | None = "a", parent: str | None = None) -> Resource:
    return Resource(service=type_.split(":")[0], type=type_, id=id_, name=id_, team=team, parent=parent)


def one_of_each() -> list[Resource]:
    return [res(t, f"{t.split(':')[1]}-1") for t, _ in EXPECTED_ORDER]


def test_phase_table_is_the_documented_order() -> None:
    assert [(t, steps) for t, steps, _ in PHASES] == EXPECTED_ORDER


@pytest.mark.parametrize("seed", range(5))
def test_plan_orders_every_type_whatever_the_input_order(seed: int) -> None:
    resources = one_of_each()
    random.Random(seed).shuffle(resources)
    plan = plan_sweep(resources)
    assert [(a.resource.type, a.steps) for a in plan] == EXPECTED_ORDER


@pytest.mark.parametrize(("first", "later"), MUST_PRECEDE)
def test_dependency_is_deleted_in_a_later_phase(first: str, later: str) -> None:
    plan = plan_sweep([res(later, "x"), res(first, "y")])
    assert [a.resource.type for a in plan] == [first, later]
    assert plan[0].phase < plan[1].phase


def test_only_long_running_deletions_are_waited_for() -> None:
    waited = {a.resource.type for a in plan_sweep(one_of_each()) if a.wait}
    assert waited == {"eks:nodegroup", "autoscaling:group", "ec2:instance", "eks:cluster"}


def test_within_a_phase_by_team_then_id() -> None:
    plan = plan_sweep([res("iam:role", "r2", "b"), res("iam:role", "r9", "a"), res("iam:role", "r1", "b"),
                       res("iam:role", "r0", None)])
    assert [(a.resource.team, a.resource.id) for a in plan] == [(None, "r0"), ("a", "r9"), ("b", "r1"), ("b", "r2")]


def test_duplicates_are_planned_once_but_same_name_in_two_clusters_twice() -> None:
    plan = plan_sweep([res("iam:role", "r"), res("iam:role", "r"),
                       res("eks:nodegroup", "gpu", parent="c1-a"), res("eks:nodegroup", "gpu", parent="c1-b")])
    assert [(a.resource.type, a.resource.parent) for a in plan] == [
        ("eks:nodegroup", "c1-a"), ("eks:nodegroup", "c1-b"), ("iam:role", None)]


def test_empty_inventory_plans_nothing() -> None:
    assert plan_sweep([]) == []


def test_unknown_type_is_a_bug_not_a_silent_skip() -> None:
    with pytest.raises(UnknownResourceType, match="ec2:nat-gateway"):
        plan_sweep([res("ec2:nat-gateway", "nat-1")])


def test_action_says_what_it_will_do() -> None:
    (a,) = plan_sweep([res("ec2:internet-gateway", "igw-1", "b")])
    assert a.describe() == "detach + delete: ec2:internet-gateway igw-1 [team b]"


def test_dry_run_reports_everything_and_makes_no_client() -> None:
    target = AwsTarget(kind="embedded", endpoint_url="http://127.0.0.1:1")
    plan = plan_sweep(one_of_each())
    seen = []
    result = execute_sweep(target, plan, dry_run=True, progress=seen.append)
    assert result.dry_run and result.ok
    assert [o.action for o in result.would_delete] == plan == [o.action for o in seen]
    assert target._clients == {}


def test_emulator_targets_need_an_endpoint() -> None:
    with pytest.raises(ValueError, match="endpoint_url"):
        AwsTarget(kind="localstack")


# ------------------------------------------------------------------------ botocore -> typed errors


def client_error(code: str, message: str = "boom", status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(("code", "expected"), [
    ("NoSuchEntity", AwsNotFound),
    ("InvalidVpcID.NotFound", AwsNotFound),
    ("InvalidSomethingNew.NotFound", AwsNotFound),
    ("ResourceNotFoundException", AwsNotFound),
    ("NoSuchTagSet", AwsNotFound),
    ("404", AwsNotFound),
    ("DependencyViolation", AwsConflict),
    ("ResourceInUseException", AwsConflict),
    ("DeleteConflict", AwsConflict),
    ("AccessDenied", AwsAccessDenied),
    ("UnauthorizedOperation", AwsAccessDenied),
    ("ExpiredToken", AwsAccessDenied),
    ("Throttling", AwsThrottled),
    ("InvalidParameterValue", AwsError),
])
def test_client_errors_become_typed(code: str, expected: type[AwsError]) -> None:
    err = translate(client_error(code), "ec2", "DeleteVpc")
    assert type(err) is expected
    assert err.code == code
    assert str(err).startswith(f"ec2 DeleteVpc: {code}")


def test_long_messages_are_truncated() -> None:
    err = translate(client_error("AccessDenied", "x" * 5000), "iam", "DeleteRole")
    assert len(str(err)) < 300


def test_unreachable_endpoint_names_the_emulator_when_it_is_one() -> None:
    exc = EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    assert type(translate(exc, "ec2", "DescribeVpcs")) is AwsUnavailable
    emu = translate(exc, "ec2", "DescribeVpcs", emulator=True)
    assert isinstance(emu, EmulatorUnavailable) and emu.exit_code == 5


def test_error_text_never_carries_credentials_or_signing_details() -> None:
    # S3 puts the access key id and the string to sign next to the message; only code and
    # message may travel.
    exc = ClientError({"Error": {"Code": "SignatureDoesNotMatch", "Message": "signature mismatch",
                                 "AWSAccessKeyId": "AKIAEXAMPLEKEY123", "StringToSign": "AWS4-HMAC-SHA256 secret"}},
                      "GetBucketTagging")
    err = translate(exc, "s3", "GetBucketTagging")
    assert isinstance(err, AwsAccessDenied)
    assert "AKIA" not in str(err) and "HMAC" not in str(err)
