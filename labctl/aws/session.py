"""Where labctl's boto3 clients come from, and the typed errors they turn into.

Owns: :class:`AwsTarget` (one frozen description of the place we talk to: the embedded emulator,
LocalStack or a real account) and the small error family that botocore failures become at this
boundary (:func:`aws_errors`). The three targets differ only in endpoint and credentials: the
emulator and LocalStack get fixed fake credentials ("testing"), and only target ``aws`` reads the
real credential chain (environment, profile, SSO, instance role).

Error messages carry the service, the operation, AWS's error code and a truncated message; never
request parameters, headers or credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from labctl.errors import (AwsAccessDenied, AwsConflict, AwsError, AwsNotFound, AwsThrottled,  # noqa: F401 - re-exported
                           AwsUnavailable, EmulatorUnavailable)

TargetKind = Literal["embedded", "localstack", "aws"]

FAKE_CREDENTIAL = "testing"
# Services whose API has one global endpoint; their clients are pinned to us-east-1 on AWS.
GLOBAL_SERVICES = frozenset({"iam", "budgets"})


@dataclass(frozen=True)
class Credentials:
    """Temporary credentials of an assumed role; never logged (repr hides the secret parts)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)


@dataclass(frozen=True)
class AwsTarget:
    """One place labctl talks to. ``client()`` caches one client per service."""

    kind: TargetKind
    region: str = "us-east-1"
    endpoint_url: str | None = None
    profile: str | None = None
    # A role assumed in another account (labctl.aws.accounts): these credentials, not the chain's.
    credentials: Credentials | None = None
    _clients: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind != "aws" and not self.endpoint_url:
            raise ValueError(f"target {self.kind!r} needs an endpoint_url")

    @property
    def fake_credentials(self) -> bool:
        return self.kind != "aws"

    def client(self, service: str) -> Any:
        cached = self._clients.get(service)
        if cached is not None:
            return cached
        import boto3
        from botocore.config import Config

        region = "us-east-1" if service in GLOBAL_SERVICES and self.kind == "aws" else self.region
        config = Config(
            retries={"mode": "standard", "max_attempts": 3 if self.fake_credentials else 8},
            connect_timeout=5 if self.fake_credentials else 20,
            read_timeout=60,
            # An emulator endpoint is an address, not a bucket-capable DNS name.
            s3={"addressing_style": "path"} if self.endpoint_url else None,
        )
        if self.credentials is not None:
            c = self.credentials
            session = boto3.session.Session(aws_access_key_id=c.access_key_id, aws_secret_access_key=c.secret_access_key,
                                            aws_session_token=c.session_token, region_name=region)
        elif self.fake_credentials:
            session = boto3.session.Session(
                aws_access_key_id=FAKE_CREDENTIAL, aws_secret_access_key=FAKE_CREDENTIAL,
                aws_session_token=FAKE_CREDENTIAL, region_name=region,
            )
        else:
            session = boto3.session.Session(profile_name=self.profile, region_name=region)
        client = session.client(service, endpoint_url=self.endpoint_url, config=config)
        self._clients[service] = client
        return client


# ------------------------------------------------------------------------------ error family


# The family itself lives in labctl.errors (one tree); aws_errors() below maps botocore's errors
# onto it.


_NOT_FOUND = {
    "NoSuchEntity", "NoSuchBucket", "NotFound", "NotFoundException", "ResourceNotFoundException",
    "InvalidInstanceID.NotFound", "InvalidVolume.NotFound", "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound", "InvalidGroup.NotFound", "InvalidRouteTableID.NotFound",
    "InvalidInternetGatewayID.NotFound", "InvalidLaunchTemplateId.NotFound",
    "InvalidLaunchTemplateName.NotFoundException", "InvalidLaunchTemplateId.Malformed",
    "InvalidAssociationID.NotFound", "InvalidRoute.NotFound", "InvalidNetworkInterfaceID.NotFound",
    "AutoScalingGroupNotFound", "ResourceNotFound", "NoSuchTagSet", "NoSuchTagSetError", "NoSuchUpload",
}
_CONFLICT = {
    "DependencyViolation", "ResourceInUse", "ResourceInUseException", "VolumeInUse", "DeleteConflict",
    "ConflictException", "BucketNotEmpty", "IncorrectState", "IncorrectInstanceState",
    "ScalingActivityInProgress", "InvalidParameterValue.InUse",
}
_DENIED = {
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "InvalidClientTokenId",
    "ExpiredToken", "ExpiredTokenException", "SignatureDoesNotMatch", "AuthFailure", "UnrecognizedClientException",
}
_THROTTLED = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "SlowDown"}


def translate(exc: Exception, service: str, operation: str, *, emulator: bool = False) -> AwsError:
    """A botocore exception as one of the typed errors above."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, WaiterError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or "Unknown")
        message = str(err.get("Message") or "")
        cls: type[AwsError] = AwsError
        if code in _NOT_FOUND or code.endswith(".NotFound") or code == "404":
            cls = AwsNotFound
        elif code in _CONFLICT:
            cls = AwsConflict
        elif code in _DENIED:
            cls = AwsAccessDenied
        elif code in _THROTTLED:
            cls = AwsThrottled
        return cls(service, operation, code, message)
    if isinstance(exc, EndpointConnectionError):
        cls = EmulatorUnavailable if emulator else AwsUnavailable
        return cls(service, operation, "EndpointConnectionError", "could not reach the endpoint")
    if isinstance(exc, NoCredentialsError):
        return AwsAccessDenied(service, operation, "NoCredentials", "no AWS credentials found for target aws")
    if isinstance(exc, WaiterError):
        return AwsError(service, operation, "WaiterTimeout", str(getattr(exc, "reason", "") or "gave up waiting"))
    return AwsError(service, operation, type(exc).__name__, "")


@contextmanager
def aws_errors(service: str, operation: str, *, emulator: bool = False) -> Iterator[None]:
    """Turn botocore failures inside the block into :class:`AwsError` subclasses."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, service, operation, emulator=emulator) from None
