"""Rendering a cohort into per-team Terraform roots: deterministic, data-only, golden-checked."""

from __future__ import annotations

import json
from pathlib import Path

from labctl.ops.render import render

GOLDEN = Path(__file__).parent / "golden"
COHORT = """\
cohort: golden
target: embedded
region: us-east-1
window: {start: 2026-12-01T09:00:00Z, duration: 4h}
lab: gpu-baseline
teams:
  - name: baseline
  - name: spot-team
    budget_usd: 99.5
    knobs:
      node_groups:
        gpu_on_demand: {instance_types: [g5.xlarge], min_size: 0, desired_size: 0, max_size: 1}
        gpu_spot: {instance_types: [g5.xlarge, g6.xlarge], max_size: 3}
      job: {pool: spot, checkpoint_every_steps: 500}
"""


def _render(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    spec = tmp_path / "cohort.yaml"
    spec.write_text(COHORT)
    out = tmp_path / "build"
    render(spec, out)
    return out


def test_tfvars_match_golden_files(tmp_path, golden):
    out = _render(tmp_path)
    for team in ("baseline", "spot-team"):
        golden(GOLDEN / f"{team}.tfvars.json", (out / team / "terraform.tfvars.json").read_text())


def test_render_is_deterministic_and_copies_static_root_and_modules(tmp_path):
    a = _render(tmp_path / "a")
    b = _render(tmp_path / "b")
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    assert (a / "baseline" / "modules" / "node-group" / "main.tf").exists()


def test_switched_off_pool_is_not_created_and_gpu_pools_are_tainted(tmp_path):
    out = _render(tmp_path)
    base = json.loads((out / "baseline" / "terraform.tfvars.json").read_text())
    assert sorted(base["node_groups"]) == ["gpu_on_demand", "system"]   # the baseline has no spot pool
    spot = json.loads((out / "spot-team" / "terraform.tfvars.json").read_text())
    pool = spot["node_groups"]["gpu_spot"]
    assert pool["capacity_type"] == "SPOT" and pool["gpus_per_node"] == 1
    assert {"key": "labctl.io/spot", "value": "true", "effect": "NoSchedule"} in pool["taints"]
    assert spot["budget_usd"] == "99.50"
    assert spot["expires_at"] == "2026-12-01T13:00:00Z" and spot["backstop_at"] == "2026-12-01T13:00:00"


def test_user_values_never_reach_hcl_text(tmp_path):
    out = _render(tmp_path)
    for tf in (out / "spot-team").rglob("*.tf"):
        text = tf.read_text()
        assert "spot-team" not in text and "golden" not in text, tf
