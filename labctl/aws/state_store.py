"""A cohort's remote Terraform state: one S3 bucket per cohort in the facilitator's account.

Owns: the bucket's name (deterministic from the account and the cohort id, so a second machine
with the cohort file and the same credentials finds it), its creation with the settings a state
bucket needs (versioning, default encryption, every public access blocked, TLS only), where each
team's state and lock file live in it, reading who holds a team's lock, and removing the bucket
with every version once teardown no longer needs it.

Terraform itself reads and writes the states (backend "s3", ``use_lockfile = true``: the lock is
``<state key>.tflock``, written with ``If-None-Match: *`` so a second writer gets 412 and waits or
stops). labctl only creates the bucket, reads states to show them, and reads the lock to say who
holds it. Teams are Terraform workspaces of one backend configuration, so every team root of a
cohort shares one ``terraform init``: team T's state is ``teams/T/terraform.tfstate``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labctl.aws.identity import caller_identity
from labctl.aws.session import AwsError, AwsNotFound, AwsTarget, aws_errors

PREFIX = "labctl-state"
WORKSPACE_KEY_PREFIX = "teams"
STATE_KEY = "terraform.tfstate"
LOCK_SUFFIX = ".tflock"


def bucket_name(account: str, cohort_id: str) -> str:
    """``labctl-state-<account>-<cohort>``: at most 46 characters (a cohort id is a DNS-1123 label of
    at most 20), lower case, so always a valid bucket name; the account keeps it unique worldwide."""
    if not (len(account) == 12 and account.isdigit()):
        raise ValueError(f"{account!r} is not a 12-digit AWS account id")
    return f"{PREFIX}-{account}-{cohort_id}"


def bucket_account(name: str) -> str | None:
    """The account id a state bucket's name records (:func:`bucket_name`), None for another name."""
    parts = name.split("-")
    account = parts[2] if len(parts) > 3 and name.startswith(PREFIX + "-") else ""
    return account if len(account) == 12 and account.isdigit() else None


def team_key(team: str) -> str:
    """Where Terraform's S3 backend keeps workspace ``team``'s state."""
    return f"{WORKSPACE_KEY_PREFIX}/{team}/{STATE_KEY}"


@dataclass(frozen=True)
class StateBucket:
    name: str
    region: str
    created: bool = False          # this call created it (False: it was already there)


@dataclass(frozen=True)
class BucketSettings:
    versioning: bool
    encryption: str | None          # the default SSE algorithm, e.g. "AES256" or "aws:kms"
    public_access_blocked: bool     # all four public-access-block flags on
    tls_only: bool                  # the bucket policy denies requests without TLS


@dataclass(frozen=True)
class LockHolder:
    """What Terraform wrote into a lock file: who, for what operation, since when."""

    id: str
    who: str
    operation: str
    created: str
    version: str
    path: str

    def describe(self) -> str:
        return f"{self.who} ({self.operation.removeprefix('OperationType').lower() or '?'} since {self.created}, lock id {self.id})"


def _tls_only_policy(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})


def ensure_bucket(target: AwsTarget, cohort_id: str, tls_only: bool | None = None) -> StateBucket:
    """The cohort's state bucket in the target's account and region, created if missing, and its
    settings (re)applied either way: idempotent, so every `up` can call it.

    ``tls_only`` (default: on AWS's own endpoints, which are HTTPS) adds a bucket policy denying
    plain-HTTP requests; an emulator on http://127.0.0.1 would be denied by it, so it is left off there."""
    account = caller_identity(target).account
    if not account:
        raise AwsError("sts", "GetCallerIdentity", "NoAccount", "the credentials name no account")
    name = bucket_name(account, cohort_id)
    s3 = target.client("s3")
    emu = target.fake_credentials
    created = False
    if not bucket_exists(target, name):
        args: dict[str, object] = {"Bucket": name}
        if target.region != "us-east-1":      # us-east-1 refuses a location constraint naming itself
            args["CreateBucketConfiguration"] = {"LocationConstraint": target.region}
        try:
            with aws_errors("s3", "CreateBucket", emulator=emu):
                s3.create_bucket(**args)
            created = True
        except AwsError as exc:
            if exc.code != "BucketAlreadyOwnedByYou":     # a concurrent `up` made it first
                raise
    with aws_errors("s3", "PutPublicAccessBlock", emulator=emu):
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    with aws_errors("s3", "PutBucketVersioning", emulator=emu):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    with aws_errors("s3", "PutBucketEncryption", emulator=emu):
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    if tls_only if tls_only is not None else target.endpoint_url is None:
        with aws_errors("s3", "PutBucketPolicy", emulator=emu):
            s3.put_bucket_policy(Bucket=name, Policy=_tls_only_policy(name))
    with aws_errors("s3", "PutBucketTagging", emulator=emu):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [
            {"Key": "labctl:cohort-state", "Value": cohort_id}]})
    return StateBucket(name, target.region, created)


def find_bucket(target: AwsTarget, cohort_id: str) -> str | None:
    """The cohort's state bucket name if it exists (a second machine finds it this way)."""
    account = caller_identity(target).account
    if not account:
        return None
    name = bucket_name(account, cohort_id)
    return name if bucket_exists(target, name) else None


def bucket_exists(target: AwsTarget, name: str) -> bool:
    try:
        with aws_errors("s3", "HeadBucket", emulator=target.fake_credentials):
            target.client("s3").head_bucket(Bucket=name)
    except AwsNotFound:
        return False
    except AwsError as exc:
        if exc.code in ("404", "NoSuchBucket"):
            return False
        raise
    return True


def bucket_settings(target: AwsTarget, name: str) -> BucketSettings:
    s3 = target.client("s3")
    emu = target.fake_credentials

    def unless_missing(op: str, missing: str | None, call: Callable[[], Any]) -> Any:
        """``call()``'s answer, or None where S3 says the setting was never made (``missing``)."""
        try:
            with aws_errors("s3", op, emulator=emu):
                return call()
        except AwsError as exc:
            if exc.code != missing:
                raise
            return None

    versioning = unless_missing("GetBucketVersioning", None,
                                lambda: s3.get_bucket_versioning(Bucket=name)).get("Status") == "Enabled"
    enc = unless_missing("GetBucketEncryption", "ServerSideEncryptionConfigurationNotFoundError",
                         lambda: s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"])
    encryption = enc[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] if enc else None
    flags = unless_missing("GetPublicAccessBlock", "NoSuchPublicAccessBlockConfiguration",
                           lambda: s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"])
    blocked = bool(flags) and all(flags.get(k) for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                                                         "RestrictPublicBuckets"))
    policy = unless_missing("GetBucketPolicy", "NoSuchBucketPolicy",
                            lambda: json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])) or {}
    tls_only = any(st.get("Effect") == "Deny" and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
                   for st in policy.get("Statement", []))
    return BucketSettings(versioning, encryption, blocked, tls_only)


def _get(target: AwsTarget, bucket: str, key: str) -> bytes | None:
    try:
        with aws_errors("s3", "GetObject", emulator=target.fake_credentials):
            return bytes(target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    except AwsError as exc:
        if isinstance(exc, AwsNotFound) or exc.code in ("NoSuchKey", "404"):
            return None
        raise


def team_state(target: AwsTarget, bucket: str, team: str) -> bytes | None:
    """Team ``team``'s state as Terraform last wrote it (None before its first apply)."""
    return _get(target, bucket, team_key(team))


def lock_holder(target: AwsTarget, bucket: str, team: str) -> LockHolder | None:
    """Who holds team ``team``'s state lock (None when nobody does)."""
    raw = _get(target, bucket, team_key(team) + LOCK_SUFFIX)
    if raw is None:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        info = {}
    info = info if isinstance(info, dict) else {}
    return LockHolder(id=str(info.get("ID", "?")), who=str(info.get("Who", "?")), operation=str(info.get("Operation", "")),
                      created=str(info.get("Created", "?")), version=str(info.get("Version", "?")),
                      path=str(info.get("Path", f"{bucket}/{team_key(team)}")))


def put_file(target: AwsTarget, bucket: str, key: str, body: bytes) -> None:
    """A cohort-level file beside the states (the cohort file itself, so a second machine can act)."""
    with aws_errors("s3", "PutObject", emulator=target.fake_credentials):
        target.client("s3").put_object(Bucket=bucket, Key=key, Body=body)


def get_file(target: AwsTarget, bucket: str, key: str) -> bytes | None:
    return _get(target, bucket, key)


def delete_bucket(target: AwsTarget, name: str) -> int:
    """Remove every object version and delete marker, then the bucket. Returns how many versions
    were removed. A bucket that is already gone is success."""
    s3 = target.client("s3")
    emu = target.fake_credentials
    removed = 0
    try:
        while True:
            with aws_errors("s3", "ListObjectVersions", emulator=emu):
                page = s3.list_object_versions(Bucket=name, MaxKeys=1000)
            batch = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                     for v in (page.get("Versions") or []) + (page.get("DeleteMarkers") or [])]
            if not batch:
                break
            with aws_errors("s3", "DeleteObjects", emulator=emu):
                s3.delete_objects(Bucket=name, Delete={"Objects": batch, "Quiet": True})
            removed += len(batch)
        with aws_errors("s3", "DeleteBucket", emulator=emu):
            s3.delete_bucket(Bucket=name)
    except AwsNotFound:
        pass
    return removed
