"""A small cohort (baseline team, a spot team with the priority expander, a team with members, a
team serving inference on spot) rendered once per test session: manifests and tfvars, the inputs
of every k8s unit test."""

from __future__ import annotations

from pathlib import Path

import pytest

from labctl.render.manifests import render_team_manifests
from labctl.render.terraform import ProviderSettings, tfvars
from labctl.spec.load import load_cohort

COHORT = """\
cohort: golden
target: aws
region: us-east-1
window: {start: 2026-12-01T09:00:00Z, duration: 4h}
lab: gpu-baseline
teams:
  - name: baseline
  - name: spot-team
    members: [ada@example.com, "grace"]
    budget_usd: 99.5
    knobs:
      node_groups:
        gpu_on_demand: {instance_types: [g5.xlarge], min_size: 0, desired_size: 0, max_size: 1}
        gpu_spot: {instance_types: [g5.xlarge, g6.xlarge], max_size: 3}
      autoscaler: {expander: priority, scale_down_enabled: true, scale_down_unneeded_time: 5m}
      job: {pool: spot, checkpoint_every_steps: 500}
  - name: serving
    knobs:
      node_groups:
        gpu_on_demand: {instance_types: [g5.xlarge], min_size: 0, desired_size: 0, max_size: 2}
        gpu_spot: {instance_types: [g5.xlarge, g6.xlarge], max_size: 3}
      inference: {enabled: true, pool: spot, replicas: {min: 1, max: 3}, target_cpu_utilization: 60}
"""

PROVIDER = ProviderSettings(emulator=False, max_retries=25)


@pytest.fixture(scope="session")
def cohort(tmp_path_factory):
    d: Path = tmp_path_factory.mktemp("cohort")
    (d / "cohort.yaml").write_text(COHORT)
    return load_cohort(d / "cohort.yaml")


@pytest.fixture(scope="session")
def rendered(cohort):
    """team -> (files, tfvars, kubernetes_version)"""
    return {t.name: (render_team_manifests(cohort, t), tfvars(cohort, t, PROVIDER), t.lab.kubernetes_version)
            for t in cohort.teams}
