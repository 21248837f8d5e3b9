"""Who the target's credentials are: STS ``GetCallerIdentity``, typed.

botocore's errors become :class:`~labctl.errors.AwsError` subclasses here.
"""

from __future__ import annotations

from dataclasses import dataclass

from labctl.aws.session import AwsTarget, aws_errors


@dataclass(frozen=True)
class CallerIdentity:
    account: str | None
    arn: str          # "" when STS did not say

    @property
    def principal_kind(self) -> str:
        """The kind of principal in the ARN (``user``, ``assumed-role``, ``root``...), ``?`` when
        unknown. The rest of the ARN can name a person, so this is what labctl shows."""
        return self.arn.split(":")[5].split("/")[0] if self.arn.count(":") >= 5 else "?"


def caller_identity(target: AwsTarget) -> CallerIdentity:
    with aws_errors("sts", "GetCallerIdentity", emulator=target.fake_credentials):
        ident = target.client("sts").get_caller_identity()
    account = ident.get("Account")
    return CallerIdentity(None if account is None else str(account), str(ident.get("Arn", "")))
