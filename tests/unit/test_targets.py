"""Targets differ only in endpoints and credentials; tests never reach a real account."""

from __future__ import annotations

from pathlib import Path

import yaml

from labctl.ops.render import render
from labctl.ops.target import FAKE_CREDENTIALS, connect
from labctl.spec.models import Cohort

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
    assert conn.provider.as_dict() == {"endpoint_url": "http://localhost:4566", "emulator": True, "max_retries": 3}
    assert conn.env["AWS_ACCESS_KEY_ID"] == FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]
    assert "AWS_PROFILE" not in conn.env          # a real profile never reaches an emulated target
    assert conn.aws().fake_credentials


def test_localstack_endpoint_can_be_overridden_in_the_cohort(tmp_path):
    conn = connect(cohort(target="localstack", endpoints={"url": "http://127.0.0.1:4510"}), tmp_path)
    assert conn.endpoint_url == "http://127.0.0.1:4510"


def test_aws_target_has_no_endpoint_and_real_retries(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    conn = connect(cohort(target="aws", aws_profile="workshop"), tmp_path)
    assert conn.endpoint_url is None
    assert conn.provider.as_dict() == {"endpoint_url": "", "emulator": False, "max_retries": 25}
    assert conn.env["AWS_PROFILE"] == "workshop"


def test_rendered_localstack_root_points_every_service_at_localstack(tmp_path):
    spec = tmp_path / "c.yaml"
    spec.write_text(yaml.safe_dump({**BASE, "target": "localstack"}))
    render(spec, tmp_path / "out")
    tfvars = yaml.safe_load((tmp_path / "out" / "a" / "terraform.tfvars.json").read_text())
    assert tfvars["provider_settings"]["endpoint_url"] == "http://localhost:4566"
    main_tf = (tmp_path / "out" / "a" / "main.tf").read_text()
    for service in ("autoscaling", "budgets", "ec2", "eks", "iam", "s3", "scheduler", "sns", "sts"):
        assert f"{service} " in main_tf and "= endpoints.value" in main_tf, service


def test_docker_compose_starts_localstack_with_the_services_the_modules_need():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    ls = compose["services"]["localstack"]
    assert "127.0.0.1:4566:4566" in ls["ports"]
    services = set(ls["environment"]["SERVICES"].split(","))
    assert {"ec2", "eks", "iam", "s3", "sts", "budgets", "sns", "scheduler", "autoscaling"} <= services
