"""Validating a cohort checks each distinct shape of team once, and never lets a shared verdict
hide a team's own problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from labctl import naming
from labctl.errors import SpecError
from labctl.ops import validate as validate_op
from labctl.ops.target import provider_settings
from labctl.render import k8s_validate
from labctl.render.k8s_validate import ShapeCache
from labctl.render.manifests import render_team_manifests
from labctl.render.terraform import tfvars
from labctl.spec.load import load_cohort

SPOT = """\
    knobs:
      node_groups:
        gpu_on_demand: {instance_types: [g5.xlarge], min_size: 0, desired_size: 0, max_size: 1}
        gpu_spot: {instance_types: [g5.xlarge, g6.xlarge], max_size: 3}
      job: {pool: spot, checkpoint_every_steps: 500}
"""


def _cohort_file(tmp_path: Path, teams: int) -> Path:
    lines = ["cohort: shapes", "target: embedded", "region: us-east-1",
             "window: {start: 2026-12-01T09:00:00Z, duration: 4h}", "lab: gpu-baseline", "teams:"]
    for i in range(teams):
        lines.append(f"  - name: team-{i:02d}\n    members: [user{i}@example.com]")
        if i % 2:
            lines.append(SPOT.rstrip("\n"))
    p = tmp_path / "cohort.yaml"
    p.write_text("\n".join(lines) + "\n")
    return p


def _team(cohort, name: str):
    team = cohort.team(name)
    files = render_team_manifests(cohort, team, None, s3_endpoint_url="http://127.0.0.1:5000")
    return (name, [naming.bucket_name(cohort.cohort.cohort, name), *team.members], files,
            tfvars(cohort, team, provider_settings("embedded")), team.lab.kubernetes_version)


def test_twenty_teams_of_two_shapes_are_validated_twice(tmp_path, monkeypatch):
    calls = []
    real = k8s_validate.validate_team
    monkeypatch.setattr(k8s_validate, "validate_team", lambda *a, **k: calls.append(1) or real(*a, **k))
    cohort, rendered = validate_op.validate_and_render(_cohort_file(tmp_path, 20))
    assert len(cohort.teams) == 20 and len(rendered) == 20
    assert len(calls) == 2          # baseline teams and spot teams; names, members and buckets aside
    files, variables = rendered["team-07"]
    assert variables["team"] == "team-07" and "team-07" in files["00-namespace.yaml"]


def test_a_problem_is_found_in_the_team_that_has_it_even_when_others_share_its_shape(tmp_path):
    cohort = load_cohort(_cohort_file(tmp_path, 4))
    cache = ShapeCache()
    name, own, files, variables, version = _team(cohort, "team-00")
    assert cache.validate_team(name, own, files, variables, version) == []
    name, own, files, variables, version = _team(cohort, "team-02")      # same shape: shared
    assert cache.validate_team(name, own, files, variables, version) == [] and cache.shared == 1
    broken = {**files, "50-training-job.yaml": files["50-training-job.yaml"].replace("backoffLimit:", "backofLimit:")}
    problems = cache.validate_team(name, own, broken, variables, version)
    assert [p.field for p in problems] == ["Job/train spec.backofLimit"]
    assert cache.validated == 2


def test_a_team_whose_name_is_also_fixed_text_is_a_shape_of_its_own(tmp_path):
    """A team called `system` (a node pool's name too): the pool's name stays as it is in its
    shape, so it cannot take the verdict of a team whose files differ there."""
    p = _cohort_file(tmp_path, 1)
    p.write_text(p.read_text() + "  - name: system\n    members: [user9@example.com]\n")
    cohort = load_cohort(p)
    a, b = _team(cohort, "team-00"), _team(cohort, "system")
    assert k8s_validate.shape(*a) != k8s_validate.shape(*b)


def test_a_cohort_with_a_bad_team_still_names_it(tmp_path, monkeypatch):
    """team-05 renders a typo its shape-mates (team-01, team-03) do not have: it is its own shape."""
    p = _cohort_file(tmp_path, 6)
    real = validate_op.render_team_manifests

    def typo_in_team_05(cohort, team, *a, **k):  # type: ignore[no-untyped-def]
        files = real(cohort, team, *a, **k)
        if team.name == "team-05":
            files["50-training-job.yaml"] = files["50-training-job.yaml"].replace("backoffLimit:", "backofLimit:")
        return files

    monkeypatch.setattr(validate_op, "render_team_manifests", typo_in_team_05)
    with pytest.raises(SpecError) as err:
        validate_op.validate_cohort(p)
    assert [pr.field for pr in err.value.problems] == ["teams[5]"]
    assert "team team-05" in err.value.problems[0].message and "backofLimit" in err.value.problems[0].message


def test_a_template_that_renders_broken_yaml_is_still_a_render_error(tmp_path, monkeypatch):
    """Shape-mates skip the parse-back, but each shape's first team still has it."""
    import shutil

    from labctl import resources
    from labctl.errors import RenderError
    from labctl.render import manifests

    k8s = tmp_path / "k8s"
    shutil.copytree(resources.k8s_dir(), k8s)
    (k8s / "namespace.yaml.j2").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: [unclosed\n")
    real = manifests.environment
    monkeypatch.setattr(manifests, "environment", lambda template_dir=None: real(template_dir or k8s))
    with pytest.raises(RenderError, match="k8s/namespace.yaml.j2 rendered invalid YAML for team team-00"):
        validate_op.validate_cohort(_cohort_file(tmp_path, 4))
