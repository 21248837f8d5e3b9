"""The cohort's api_access_cidrs reach each team's Terraform root as data (tfvars), and only when
the cohort lists some: without them the root's default (0.0.0.0/0) applies and renders stay
byte-identical to the golden files."""

from __future__ import annotations

import json
from pathlib import Path

from labctl import resources
from labctl.ops.render import render

COHORT = """\
cohort: cidr
target: embedded
region: us-east-1
window: {start: 2026-12-01T09:00:00Z, duration: 4h}
lab: gpu-baseline
%s
teams:
  - name: a
"""


def _tfvars(tmp_path: Path, extra: str) -> dict:
    spec = tmp_path / "cohort.yaml"
    spec.write_text(COHORT % extra)
    render(spec, tmp_path / "build")
    return json.loads((tmp_path / "build" / "a" / "terraform.tfvars.json").read_text())


def test_listed_addresses_are_passed_normalised(tmp_path):
    tfvars = _tfvars(tmp_path, "api_access_cidrs: [203.0.113.0/24, 198.51.100.7/32]")
    assert tfvars["api_public_access_cidrs"] == ["203.0.113.0/24", "198.51.100.7/32"]


def test_without_addresses_the_roots_open_default_applies(tmp_path):
    assert "api_public_access_cidrs" not in _tfvars(tmp_path, "")
    root = (resources.terraform_dir() / "root" / "variables.tf").read_text()
    block = root.split('variable "api_public_access_cidrs"')[1].split("\n}\n")[0]
    assert 'default     = ["0.0.0.0/0"]' in block
