"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def aws(monkeypatch):
    """moto in-process; the target labctl would build for a real account (moto answers instead)."""
    moto = pytest.importorskip("moto")
    from labctl.aws.session import AwsTarget

    for k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(k, raising=False)
    with moto.mock_aws():
        yield AwsTarget("aws", "us-east-1")
