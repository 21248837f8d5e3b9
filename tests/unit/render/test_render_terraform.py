"""Rendering a cohort into per-team Terraform roots: deterministic, data-only, golden-checked."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labctl import resources
from labctl.ops.render import render
from labctl.render.terraform import read_tfvars, write_root

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


def test_read_tfvars_gives_back_what_write_root_wrote_and_names_a_broken_file(tmp_path):
    variables = {"cohort": "c1", "team": "alpha", "node_groups": {"system": {"max_size": 2}}}
    write_root(tmp_path / "alpha", variables, modules=tmp_path / "modules")
    assert read_tfvars(tmp_path / "alpha") == variables
    (tmp_path / "alpha" / "terraform.tfvars.json").write_text('["not", "an", "object"]')
    with pytest.raises(ValueError, match=r"alpha/terraform\.tfvars\.json is not a JSON object"):
        read_tfvars(tmp_path / "alpha")
    (tmp_path / "alpha" / "terraform.tfvars.json").write_text('{"cut off')
    with pytest.raises(ValueError, match=r"alpha/terraform\.tfvars\.json: not JSON"):
        read_tfvars(tmp_path / "alpha")


def test_render_is_deterministic_and_copies_static_root_and_modules(tmp_path):
    a = _render(tmp_path / "a")
    b = _render(tmp_path / "b")
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    assert (a / "baseline" / "modules" / "node-group" / "main.tf").exists()
    pkg = resources.terraform_dir()
    for f in (pkg / "root").glob("*.tf"):      # the root as it is: its module calls say ./modules/<name>
        assert (a / "baseline" / f.name).read_bytes() == f.read_bytes()


def test_the_modules_are_written_once_per_cohort_and_every_team_root_links_to_them(tmp_path):
    out = _render(tmp_path)
    pkg = resources.terraform_dir() / "modules"
    module_files = sorted(p.relative_to(pkg) for p in pkg.rglob("*") if p.is_file())
    copies = [p for p in out.rglob("main.tf") if p.parent.name == "node-group"]
    assert copies == [out / "_modules" / "node-group" / "main.tf"]           # one copy, not one per team
    for team in ("baseline", "spot-team"):
        link = out / team / "modules"
        assert link.is_symlink() and os.readlink(link) == os.path.join("..", "_modules")   # relative: the tree can move
        assert sorted(p.relative_to(link) for p in link.rglob("*") if p.is_file()) == module_files


def test_a_root_written_with_its_own_module_copy_is_moved_onto_the_cohorts(tmp_path):
    cohort = tmp_path / "cohort"
    team = cohort / "teams" / "t1"
    (team / "modules" / "network").mkdir(parents=True)
    (team / "modules" / "network" / "main.tf").write_text("# the old per-team copy\n")
    changed = write_root(team, {"team": "t1"})
    assert (team / "modules").is_symlink() and team / "modules" in changed
    assert (cohort / "modules" / "network" / "main.tf").read_bytes() == \
        (resources.terraform_dir() / "modules" / "network" / "main.tf").read_bytes()
    assert write_root(team, {"team": "t1"}) == []             # a second render changes nothing


def test_teams_rendered_at_once_from_threads_share_one_complete_copy(tmp_path):
    teams = [tmp_path / "c" / "teams" / f"t{i}" for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda d: write_root(d, {"team": d.name}), teams))
    pkg = resources.terraform_dir() / "modules"
    for p in pkg.rglob("*"):
        if p.is_file():
            assert (tmp_path / "c" / "modules" / p.relative_to(pkg)).read_bytes() == p.read_bytes()
    assert not [p for p in (tmp_path / "c").rglob("*.tmp")]


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
