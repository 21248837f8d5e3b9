"""A team's knobs file: pre-filled with its current values, merged over the cohort's team knobs,
and refused outside the lab's limits with the knobs file, line and field."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from labctl.errors import ExitCode, NotFoundError, SpecError
from labctl.ops import team as T
from labctl.spec.load import load_cohort

COHORT = textwrap.dedent("""\
    cohort: kn
    window: {start: 2026-12-01T09:00:00Z, duration: 4h}
    lab: gpu-baseline
    teams:
      - name: alpha
      - name: beta
        knobs:
          job: {checkpoint_every_steps: 100}
""")


@pytest.fixture
def spec(tmp_path) -> Path:
    p = tmp_path / "cohort.yaml"
    p.write_text(COHORT)
    return p


@pytest.fixture
def state(tmp_path) -> Path:
    return tmp_path / "state"


def _knobs(state: Path, team: str = "alpha") -> Path:
    return state / "cohorts" / "kn" / "teams" / team / "knobs.yaml"


def test_knobs_file_is_created_in_the_state_dir_prefilled_and_audited(spec, state):
    res = T.team_knobs(spec, state, "beta")
    assert res.created and res.path == _knobs(state, "beta")
    assert "checkpoint_every_steps: 100" in res.text          # the cohort's knobs for beta, not the lab's 0
    assert "# allowed: g4dn.xlarge" in res.text                # commented with the lab's allowed values
    audit = [json.loads(x) for x in (state / "cohorts" / "kn" / "audit.log").read_text().splitlines()]
    assert audit[-1]["command"] == "team knobs" and audit[-1]["team"] == "beta"


def test_unedited_knobs_file_changes_nothing(spec, state):
    T.team_knobs(spec, state, "beta")
    cohort = load_cohort(spec)
    merged = T.apply_knobs_file(cohort, "beta", _knobs(state, "beta"))
    assert merged.team("beta").lab == cohort.team("beta").lab


def test_existing_knobs_file_is_kept_unless_reset(spec, state):
    T.team_knobs(spec, state, "alpha")
    _knobs(state).write_text("job: {gpus: 1}\n")
    assert not T.team_knobs(spec, state, "alpha").created
    assert _knobs(state).read_text() == "job: {gpus: 1}\n"
    assert T.team_knobs(spec, state, "alpha", reset=True).created
    assert "node_groups:" in _knobs(state).read_text()


def test_knobs_file_overrides_the_cohort_knobs_and_keeps_the_rest(spec, state):
    p = _knobs(state, "beta")
    p.parent.mkdir(parents=True)
    p.write_text("node_groups:\n  gpu_on_demand: {instance_types: [g5.xlarge]}\n")
    merged = T.apply_knobs_file(load_cohort(spec), "beta", p).team("beta")
    assert merged.lab.node_groups.gpu_on_demand.instance_types == ["g5.xlarge"]
    assert merged.lab.job.checkpoint_every_steps == 100          # from the cohort file
    assert merged.lab.node_groups.gpu_on_demand.min_size == 2    # from the lab


@pytest.mark.parametrize("text, expected", [
    ("node_groups:\n  gpu_on_demand:\n    instance_types: [p5.48xlarge]\n",
     "knobs.yaml:3: node_groups.gpu_on_demand.instance_types[0]: instance type 'p5.48xlarge' is not allowed by this lab"),
    ("node_groups:\n  gpu_spot:\n    max_size: 9\n",
     "knobs.yaml:3: node_groups.gpu_spot.max_size: max_size 9 exceeds the lab's limit of 4 nodes per group"),
    ("job:\n  gpus: 12\n",
     "knobs.yaml:2: job.gpus: must be at most 8, not 12"),
    ("limits:\n  max_gpus_per_team: 64\n",
     "knobs.yaml:1: limits: not a knob a team may change (a knobs file holds only: node_groups, autoscaler, job, inference)"),
    ("autoscaler:\n  scale_down_unneeded_time: soon\n",
     "knobs.yaml:2: autoscaler.scale_down_unneeded_time: 'soon' is not a duration"),
    ("job:\n  pool: spot\n",
     "knobs.yaml:2: job.pool: job runs on the spot pool but node_groups.gpu_spot.max_size is 0"),
    ("node_groups:\n  gpu_spot: {max_size: 1}\n",
     "knobs.yaml:1: node_groups: up to 9 GPUs at max size, the lab's quota allows 8 per team"),
])
def test_knobs_outside_the_labs_limits_are_refused_with_file_line_and_field(spec, state, text, expected):
    p = _knobs(state)
    p.parent.mkdir(parents=True)
    p.write_text(text)
    with pytest.raises(SpecError) as err:
        T.apply_knobs_file(load_cohort(spec), "alpha", p)
    assert err.value.exit_code == ExitCode.INVALID_SPEC
    first = str(err.value).splitlines()[0]
    assert first.startswith(str(p.parent)) and expected in first, first


def test_a_problem_in_a_value_the_file_does_not_set_points_at_the_cohort_or_lab(spec, state):
    p = _knobs(state, "beta")
    p.parent.mkdir(parents=True)
    p.write_text("node_groups:\n  gpu_on_demand: {min_size: 3}\n")   # min 3 > desired 2 (from the lab)
    with pytest.raises(SpecError) as err:
        T.apply_knobs_file(load_cohort(spec), "beta", p)
    assert "knobs.yaml:2: node_groups.gpu_on_demand" in str(err.value)


def test_comment_only_knobs_file_is_no_change(spec, state):
    p = _knobs(state)
    p.parent.mkdir(parents=True)
    p.write_text("# nothing yet\n")
    cohort = load_cohort(spec)
    assert T.apply_knobs_file(cohort, "alpha", p) is cohort


def test_taking_in_a_teams_copy_validates_it_first(spec, state, tmp_path):
    T.team_knobs(spec, state, "alpha")
    before = _knobs(state).read_text()
    bad = tmp_path / "edited.yaml"
    bad.write_text("job:\n  gpus: 99\n")
    with pytest.raises(SpecError, match="edited.yaml:2: job.gpus"):
        T.team_knobs(spec, state, "alpha", source=bad)
    assert _knobs(state).read_text() == before
    good = tmp_path / "good.yaml"
    good.write_text("autoscaler: {scale_down_enabled: true}\n")
    T.team_knobs(spec, state, "alpha", source=good)
    assert _knobs(state).read_text() == good.read_text()


def test_unknown_team_and_unknown_cohort_are_not_found(spec, state):
    with pytest.raises(NotFoundError, match="no team 'gamma'"):
        T.team_knobs(spec, state, "gamma")
    with pytest.raises(NotFoundError, match="neither a cohort file nor a provisioned cohort"):
        T.team_knobs("nope", state, "alpha")


def test_with_team_knobs_applies_every_teams_file(spec, state):
    p = _knobs(state, "alpha")
    p.parent.mkdir(parents=True)
    p.write_text("autoscaler: {scale_down_enabled: true}\n")
    cohort = T.with_team_knobs(load_cohort(spec), state)
    assert cohort.team("alpha").lab.autoscaler.scale_down_enabled is True
    assert cohort.team("beta").lab.autoscaler.scale_down_enabled is False


@pytest.mark.parametrize("at, hours", [
    (datetime(2026, 11, 30, tzinfo=timezone.utc), Decimal("4.000")),       # before: the whole window
    (datetime(2026, 12, 1, 10, 30, tzinfo=timezone.utc), Decimal("2.500")),
    (datetime(2026, 12, 1, 14, tzinfo=timezone.utc), Decimal("0.000")),    # after: nothing left
])
def test_cost_is_for_the_rest_of_the_session(spec, at, hours):
    assert T.hours_left(load_cohort(spec), at) == hours


def test_manifest_diff_names_each_changed_file(tmp_path):
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "a.yaml").write_text("x: 1\ny: 2\n")
    (tmp_path / "k8s" / "gone.yaml").write_text("z: 1\n")
    lines, diff = T.manifest_diff(tmp_path / "k8s", {"a.yaml": "x: 1\ny: 3\n", "new.yaml": "n: 1\n"})
    assert lines == ["k8s/a.yaml: changed (+1 -1)", "k8s/gone.yaml: removed (+0 -1)", "k8s/new.yaml: new (+1 -0)"]
    assert "-y: 2" in diff and "+y: 3" in diff


def test_saved_plan_fingerprint_follows_inputs_and_state(tmp_path):
    (tmp_path / "main.tf").write_text("# root\n")
    (tmp_path / "terraform.tfvars.json").write_text("{}")
    a = T.plan_fingerprint(tmp_path)
    assert T.plan_fingerprint(tmp_path) == a
    (tmp_path / "terraform.tfstate").write_text('{"serial": 2}')
    b = T.plan_fingerprint(tmp_path)
    (tmp_path / "terraform.tfvars.json").write_text('{"x": 1}')
    assert len({a, b, T.plan_fingerprint(tmp_path)}) == 3


def test_apply_refuses_a_cohort_that_was_never_provisioned(spec, state):
    with pytest.raises(NotFoundError, match="run `labctl up` first"):
        T.team_apply(spec, state, "alpha")
