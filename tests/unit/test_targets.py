"""Targets differ only in endpoints and credentials; tests never reach a real account."""

from __future__ import annotations

from pathlib import Path

import yaml

from labctl.ops.render import render
from labctl.ops.target import FAKE_CREDENTIALS, connect
from labctl.spec.models import Cohort
from labctl.tf.runner import Terraform

ROOT = Path(__file__).resolve().parents[2]
BASE = {"cohort": "t", "window": {"start": "2026-12-01T09:00:00Z", "duration": "4h"}, "lab": "gpu-baseline",
        "teams": [{"name": "a"}]}


def cohort(**kw) -> Cohort:
    return Cohort.model_validate({**BASE, **kw})


def test_localstack_uses_port_4566_fake_credentials_and_emulator_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "real-prod")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")
    monkeypatch.delenv("LOCALSTACK_ENDPOINT", raising=False)
    conn = connect(cohort(target="localstack"), tmp_path)
    assert conn.endpoint_url == "http://localhost:4566"
    assert conn.provider.as_dict() == {"emulator": True, "max_retries": 3}
    assert conn.env["AWS_ENDPOINT_URL"] == "http://localhost:4566"   # every service, for terraform
    assert conn.env["AWS_ACCESS_KEY_ID"] == FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]
    assert "AWS_PROFILE" not in conn.env          # a real profile never reaches an emulated target
    assert conn.aws().fake_credentials


def test_localstack_endpoint_can_be_overridden_in_the_cohort(tmp_path):
    conn = connect(cohort(target="localstack", endpoints={"url": "http://127.0.0.1:4510"}), tmp_path)
    assert conn.endpoint_url == "http://127.0.0.1:4510"
    assert conn.env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4510"


def test_aws_target_has_no_endpoint_and_real_retries(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")    # a shell's leftover must not redirect AWS
    conn = connect(cohort(target="aws", aws_profile="workshop"), tmp_path)
    assert conn.endpoint_url is None
    assert conn.provider.as_dict() == {"emulator": False, "max_retries": 25}
    assert conn.env["AWS_PROFILE"] == "workshop"
    tf = Terraform(tmp_path, tmp_path / "rc", env=conn.env)
    assert "AWS_ENDPOINT_URL" not in tf._environ()


def test_a_localstack_team_reaches_every_service_at_localstack_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.delenv("LOCALSTACK_ENDPOINT", raising=False)
    spec = tmp_path / "c.yaml"
    spec.write_text(yaml.safe_dump({**BASE, "target": "localstack"}))
    render(spec, tmp_path / "out")
    tfvars = yaml.safe_load((tmp_path / "out" / "a" / "terraform.tfvars.json").read_text())
    assert tfvars["provider_settings"] == {"emulator": True, "max_retries": 3}
    main_tf = (tmp_path / "out" / "a" / "main.tf").read_text()
    # No per-service endpoints block (it cost ~2.5 CPU-s per command): the environment terraform
    # runs in names one endpoint for every service, so no service can fall through to AWS.
    assert "endpoints" not in main_tf.split("default_tags")[0].split("#")[0] and 'dynamic "endpoints"' not in main_tf
    conn = connect(cohort(target="localstack"), tmp_path)
    env = Terraform(tmp_path, tmp_path / "rc", env=conn.env)._environ()
    assert env["AWS_ENDPOINT_URL"] == "http://localhost:4566"
    assert env["AWS_ACCESS_KEY_ID"] == FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]


def test_docker_compose_starts_localstack_with_the_services_the_modules_need():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    ls = compose["services"]["localstack"]
    assert "127.0.0.1:4566:4566" in ls["ports"]
    services = set(ls["environment"]["SERVICES"].split(","))
    assert {"ec2", "eks", "iam", "s3", "sts", "budgets", "sns", "scheduler", "autoscaling"} <= services
