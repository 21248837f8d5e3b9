"""Where a cohort's resources live: endpoints and credentials per target.

One code path for all targets: the embedded emulator, LocalStack and AWS differ only here.
Emulator and LocalStack runs always get fake credentials and loopback (or configured) endpoints;
a user's real AWS credentials are passed to terraform only for target ``aws``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from labctl.aws import emulator
from labctl.aws.session import AwsTarget
from labctl.errors import EmulatorError, NotFoundError
from labctl.meta import CohortMeta
from labctl.render.terraform import ProviderSettings
from labctl.spec.models import Cohort

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
LOCALSTACK_DEFAULT = "http://localhost:4566"
_REAL_AWS_VARS = ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                  "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")


@dataclass(frozen=True)
class Connection:
    target: str
    region: str
    endpoint_url: str | None
    provider: ProviderSettings
    env: dict[str, str] = field(default_factory=dict)      # for terraform
    emulator_boot_id: str | None = None

    def aws(self) -> AwsTarget:
        """boto3 side of the same target (fake credentials unless target is aws)."""
        return AwsTarget(kind=self.target, region=self.region, endpoint_url=self.endpoint_url,  # type: ignore[arg-type]
                         profile=self.env.get("AWS_PROFILE"))


def provider_settings(target: str) -> ProviderSettings:
    if target == "aws":
        return ProviderSettings(emulator=False, max_retries=25)
    return ProviderSettings(emulator=True, max_retries=3)


def _emulated_env(region: str, endpoint_url: str) -> dict[str, str]:
    """terraform's environment for the emulator and LocalStack: fake credentials, and every
    service's endpoint (the aws provider and its SDK read AWS_ENDPOINT_URL)."""
    return {**FAKE_CREDENTIALS, "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": endpoint_url}


def connect(cohort: Cohort, state_dir: Path, start_emulator: bool = True,
            emulator_url: str | None = None, emulator_boot_id: str | None = None) -> Connection:
    """Resolve the cohort's target; for ``embedded`` find (or start) the background emulator."""
    if cohort.target == "embedded":
        if emulator_url is None:
            info = emulator.running(state_dir)
            if info is None:
                if not start_emulator:
                    raise EmulatorError(
                        "the embedded emulator is not running; start it with `labctl emulator start`")
                info, _ = emulator.start_background(state_dir)
            emulator_url, emulator_boot_id = info.url, info.boot_id
        return Connection("embedded", cohort.region, emulator_url, provider_settings("embedded"),
                          _emulated_env(cohort.region, emulator_url), emulator_boot_id)
    if cohort.target == "localstack":
        url = cohort.endpoints.url or os.environ.get("LOCALSTACK_ENDPOINT") or LOCALSTACK_DEFAULT
        return Connection("localstack", cohort.region, url, provider_settings("localstack"),
                          _emulated_env(cohort.region, url))
    env = {k: os.environ[k] for k in _REAL_AWS_VARS if k in os.environ}
    if cohort.aws_profile:
        env = {"AWS_PROFILE": cohort.aws_profile}
    env.update({"AWS_REGION": cohort.region, "AWS_DEFAULT_REGION": cohort.region})
    return Connection("aws", cohort.region, None, provider_settings("aws"), env)


def connect_recorded(meta: CohortMeta, state_dir: Path, start_emulator: bool = True) -> Connection:
    """Reconnect to a provisioned cohort from what `up` recorded (no cohort file or lab needed)."""
    from labctl.spec.models import Cohort as _Cohort

    if meta.cohort is None:
        raise NotFoundError("the cohort's meta.json names no cohort: it was not written by `up`")
    fake = _Cohort.model_construct(
        cohort=meta.cohort, target=meta.target, region=meta.region,
        endpoints=type("E", (), {"url": meta.localstack_endpoint})(), aws_profile=meta.aws_profile)
    return connect(fake, state_dir, start_emulator=start_emulator)
