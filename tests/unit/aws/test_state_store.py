"""The cohort's state bucket (labctl.aws.state_store) on the in-process emulator: its name, its
settings, the lock Terraform's S3 backend relies on, who holds a lock, and its removal."""

from __future__ import annotations

import json

import pytest

from labctl.aws import state_store as ss
from labctl.aws.session import AwsTarget

MOTO_ACCOUNT = "123456789012"


def test_the_name_follows_from_account_and_cohort_and_is_a_valid_bucket_name():
    name = ss.bucket_name(MOTO_ACCOUNT, "fall26")
    assert name == "labctl-state-123456789012-fall26"
    longest = ss.bucket_name(MOTO_ACCOUNT, "a" * 20)
    assert len(longest) <= 63 and longest == longest.lower()
    with pytest.raises(ValueError):
        ss.bucket_name("12345", "fall26")
    assert ss.team_key("team-a") == "teams/team-a/terraform.tfstate"


def test_the_bucket_is_versioned_encrypted_private_and_tls_only(aws):
    bucket = ss.ensure_bucket(aws, "fall26", tls_only=True)
    assert (bucket.name, bucket.created) == ("labctl-state-123456789012-fall26", True)
    settings = ss.bucket_settings(aws, bucket.name)
    assert settings == ss.BucketSettings(versioning=True, encryption="AES256", public_access_blocked=True, tls_only=True)


def test_ensure_is_idempotent_and_a_second_machine_finds_the_same_bucket(aws):
    first = ss.ensure_bucket(aws, "fall26", tls_only=False)
    again = ss.ensure_bucket(aws, "fall26", tls_only=False)
    assert again == ss.StateBucket(first.name, "us-east-1", created=False)
    other_machine = AwsTarget("aws", "us-east-1")          # no shared client, same credentials
    assert ss.find_bucket(other_machine, "fall26") == first.name
    assert ss.find_bucket(other_machine, "spring27") is None


def test_a_second_lock_write_is_refused_as_terraform_expects(aws):
    """Terraform's S3 lock is a PutObject with If-None-Match: * ; the second must get 412."""
    from botocore.exceptions import ClientError

    bucket = ss.ensure_bucket(aws, "fall26", tls_only=False).name
    s3 = aws.client("s3")
    key = ss.team_key("team-a") + ss.LOCK_SUFFIX
    s3.put_object(Bucket=bucket, Key=key, Body=b"{}", IfNoneMatch="*")
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}", IfNoneMatch="*")
    assert err.value.response["Error"]["Code"] == "PreconditionFailed"


def test_who_holds_a_lock_is_read_from_terraforms_lock_file(aws):
    bucket = ss.ensure_bucket(aws, "fall26", tls_only=False).name
    assert ss.lock_holder(aws, bucket, "team-a") is None
    info = {"ID": "efa604d1-e498-11d0-8561-491d445bf81b", "Operation": "OperationTypeApply", "Info": "",
            "Who": "ana@lab-laptop", "Version": "1.11.4", "Created": "2026-12-04T21:58:57Z",
            "Path": f"{bucket}/teams/team-a/terraform.tfstate"}
    aws.client("s3").put_object(Bucket=bucket, Key=ss.team_key("team-a") + ss.LOCK_SUFFIX, Body=json.dumps(info).encode())
    holder = ss.lock_holder(aws, bucket, "team-a")
    assert holder is not None and holder.id == info["ID"]
    assert holder.describe() == "ana@lab-laptop (apply since 2026-12-04T21:58:57Z, lock id efa604d1-e498-11d0-8561-491d445bf81b)"


def test_delete_removes_every_version_then_the_bucket(aws):
    bucket = ss.ensure_bucket(aws, "fall26", tls_only=False).name
    for serial in (1, 2, 3):        # three versions of one state, as three applies leave
        ss.put_file(aws, bucket, ss.team_key("team-a"), json.dumps({"serial": serial}).encode())
    assert json.loads(ss.team_state(aws, bucket, "team-a") or b"{}") == {"serial": 3}
    assert ss.delete_bucket(aws, bucket) == 3
    assert ss.find_bucket(aws, "fall26") is None
    assert ss.delete_bucket(aws, bucket) == 0           # already gone: success
