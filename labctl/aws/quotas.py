"""Service Quotas reads: the value of one quota that applies to this account.

Owns: ``GetServiceQuota`` and its fallback ``GetAWSDefaultServiceQuota``. botocore's errors become
:class:`~labctl.errors.AwsError` subclasses here; callers get a :class:`QuotaValue`.
"""

from __future__ import annotations

from dataclasses import dataclass

from labctl.aws.session import AwsError, AwsNotFound, AwsTarget, aws_errors

APPLIED = "applied quota"
AWS_DEFAULT = "AWS default"
ABSENT = "no such quota at this endpoint"


@dataclass(frozen=True)
class QuotaValue:
    """``value`` is None when the target has no such quota; ``source`` says where it came from
    (:data:`APPLIED`, :data:`AWS_DEFAULT`) or why there is none (:data:`ABSENT`)."""

    value: float | None
    source: str


def quota_value(target: AwsTarget, service_code: str, quota_code: str) -> QuotaValue:
    """The applied value of a quota, else AWS's default for it. An emulator that lacks the quota
    lacks the defaults API too (moto answers 404): that is :data:`ABSENT`, not an error."""
    client = target.client("service-quotas")
    try:
        with aws_errors("service-quotas", "GetServiceQuota", emulator=target.fake_credentials):
            q = client.get_service_quota(ServiceCode=service_code, QuotaCode=quota_code)
        return QuotaValue(float(q["Quota"]["Value"]), APPLIED)
    except AwsError as exc:
        if not _absent(exc):
            raise
    # No applied value recorded for this account: the AWS default is what applies.
    try:
        with aws_errors("service-quotas", "GetAWSDefaultServiceQuota", emulator=target.fake_credentials):
            q = client.get_aws_default_service_quota(ServiceCode=service_code, QuotaCode=quota_code)
        return QuotaValue(float(q["Quota"]["Value"]), AWS_DEFAULT)
    except AwsError as exc:
        if not (_absent(exc) or target.fake_credentials):
            raise
        return QuotaValue(None, ABSENT)


def _absent(exc: AwsError) -> bool:
    return isinstance(exc, AwsNotFound) or exc.code == "NoSuchResourceException"
