"""Cohort validation: every bad input gives one line naming file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from labctl.errors import ExitCode, SpecError
from labctl.spec.load import apply_knobs, load_cohort
from labctl.spec.yamlsrc import load_yaml

GOOD = """\
cohort: fall26
target: embedded
region: us-east-1
window:
  start: 2026-12-01T09:00:00Z
  duration: 4h
lab: gpu-baseline
teams:
  - name: team-a
    members: [alice@example.com]
    budget_usd: 120
  - name: team-b
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cohort.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SpecError) as err:
        load_cohort(write(tmp_path, text))
    assert err.value.exit_code == ExitCode.INVALID_SPEC
    return [str(p) for p in err.value.problems]


def test_good_cohort_resolves_teams_budgets_and_window(tmp_path):
    cohort = load_cohort(write(tmp_path, GOOD))
    assert [t.name for t in cohort.teams] == ["team-a", "team-b"]
    assert str(cohort.team("team-a").budget_usd) == "120"
    assert cohort.team("team-b").budget_usd == cohort.lab.budget_usd   # falls back to the lab's
    assert cohort.cohort.window.ends_at.isoformat() == "2026-12-01T13:00:00+00:00"


BAD = [
    # (what, replace old -> new, expected line fragment)
    ("unknown top-level key", ("lab: gpu-baseline", "lab: gpu-baseline\ncolour: blue"), "cohort.yaml:8: colour: unknown key"),
    ("team name not DNS-1123", ("- name: team-b", "- name: Team_B"), "cohort.yaml:12: teams[1].name: 'Team_B' is not a DNS-1123 label"),
    ("cohort id not DNS-1123", ("cohort: fall26", "cohort: Fall 26"), "cohort.yaml:1: cohort: 'Fall 26' is not a DNS-1123 label"),
    ("duplicate team", ("- name: team-b", "- name: team-a"), "cohort.yaml:12: teams[1].name: duplicate team 'team-a' (first at teams[0])"),
    ("window ends before start", ("  duration: 4h", "  end: 2026-12-01T08:00:00Z"),
     "cohort.yaml:4: window: window ends (2026-12-01T08:00:00+00:00) before it starts"),
    ("zero budget", ("budget_usd: 120", "budget_usd: 0"), "cohort.yaml:11: teams[0].budget_usd: must be more than 0, not 0"),
    ("negative budget", ("budget_usd: 120", "budget_usd: -5"), "cohort.yaml:11: teams[0].budget_usd: must be more than 0, not -5"),
    ("unknown lab", ("lab: gpu-baseline", "lab: no-such-lab"), "cohort.yaml:7: lab: unknown lab 'no-such-lab'"),
    ("unknown target", ("target: embedded", "target: gcp"), "cohort.yaml:2: target: must be 'embedded', 'localstack' or 'aws', not 'gcp'"),
    ("bad duration", ("duration: 4h", "duration: four hours"), "cohort.yaml:6: window.duration: 'four hours' is not a duration"),
    ("team name too long for AWS names", ("- name: team-b", "- name: a-very-long-team-name"),
     "teams[1].name: 'a-very-long-team-name' is longer than 20 characters"),
    ("instance type not offered in region",
     ("- name: team-b", "- name: team-b\n    knobs:\n      node_groups:\n        gpu_spot: {instance_types: [g6.xlarge], max_size: 1}"),
     None),
    ("instance type the lab does not allow",
     ("- name: team-b", "- name: team-b\n    knobs:\n      node_groups:\n        gpu_on_demand: {instance_types: [p4d.24xlarge]}"),
     "cohort.yaml:15: teams[1].knobs.node_groups.gpu_on_demand.instance_types[0]: instance type 'p4d.24xlarge' is not allowed by this lab"),
    ("GPU count over the lab quota",
     ("- name: team-b", "- name: team-b\n    knobs:\n      node_groups:\n        gpu_spot: {max_size: 4, instance_types: [g5.12xlarge]}"),
     "teams[1].knobs.node_groups: up to 24 GPUs at max size, the lab's quota allows 8 per team"),
    ("unknown knob section", ("- name: team-b", "- name: team-b\n    knobs:\n      limits: {max_gpus_per_team: 99}"),
     "cohort.yaml:14: teams[1].knobs.limits: unknown knob section"),
    ("unknown knob key", ("- name: team-b", "- name: team-b\n    knobs:\n      job: {gpu: 2}"),
     "cohort.yaml:14: teams[1].knobs.job.gpu: unknown key"),
    ("price expander does not run on AWS", ("- name: team-b", "- name: team-b\n    knobs:\n      autoscaler: {expander: price}"),
     "cohort.yaml:14: teams[1].knobs.autoscaler.expander: the 'price' expander works only on GCE, GKE and Equinix Metal"),
    ("node group bounds", ("- name: team-b", "- name: team-b\n    knobs:\n      node_groups:\n        gpu_on_demand: {min_size: 3}"),
     "min_size <= desired_size <= max_size"),
]




def _inference(knob: str) -> tuple[str, str]:
    return ("- name: team-b", "- name: team-b\n    knobs:\n      inference: " + knob)


# The optional inference service: each bad value is exactly one line (file:line: field: message).
INFERENCE_BAD = [
    ("inference unknown key", _inference("{enabled: true, gpus: 1}"),
     "cohort.yaml:14: teams[1].knobs.inference.gpus: unknown key (allowed here: enabled, name, image, pool, "
     "replicas, gpus_per_replica, target_cpu_utilization, cpu, memory, port)"),
    ("inference max below min", _inference("{enabled: true, replicas: {min: 3, max: 2}}"),
     "cohort.yaml:14: teams[1].knobs.inference.replicas: need min <= max, got min 3 > max 2"),
    ("inference zero min replicas", _inference("{enabled: true, replicas: {min: 0}}"),
     "cohort.yaml:14: teams[1].knobs.inference.replicas.min: must be at least 1, not 0"),
    ("inference zero GPUs", _inference("{enabled: true, gpus_per_replica: 0}"),
     "cohort.yaml:14: teams[1].knobs.inference.gpus_per_replica: must be at least 1, not 0"),
    ("inference cpu target too low", _inference("{enabled: true, target_cpu_utilization: 5}"),
     "cohort.yaml:14: teams[1].knobs.inference.target_cpu_utilization: must be at least 10, not 5"),
    ("inference cpu target too high", _inference("{enabled: true, target_cpu_utilization: 99}"),
     "cohort.yaml:14: teams[1].knobs.inference.target_cpu_utilization: must be at most 95, not 99"),
    ("inference unknown pool", _inference("{enabled: true, pool: reserved}"),
     "cohort.yaml:14: teams[1].knobs.inference.pool: must be 'on-demand' or 'spot', not 'reserved'"),
    ("inference bad quantity", _inference("{enabled: true, memory: 8GB}"),
     "cohort.yaml:14: teams[1].knobs.inference.memory: '8GB' is not a Kubernetes quantity like 3, 500m or 12Gi"),
    ("inference on a switched-off pool", _inference("{enabled: true, pool: spot}"),
     "cohort.yaml:14: teams[1].knobs.inference.pool: inference runs on the spot pool but "
     "node_groups.gpu_spot.max_size is 0"),
    ("inference GPUs per replica over the pool's nodes", _inference("{enabled: true, gpus_per_replica: 8}"),
     "cohort.yaml:14: teams[1].knobs.inference.gpus_per_replica: inference asks for 8 GPUs per replica; "
     "no instance type of node_groups.gpu_on_demand has that many"),
    ("inference GPUs at max replicas over the quota",
     _inference("{enabled: true, gpus_per_replica: 2, replicas: {min: 1, max: 4}}"),
     "cohort.yaml:14: teams[1].knobs.inference.replicas.max: inference at 4 replicas x 2 GPUs plus the job's 1 "
     "need 9 GPUs; the team's GPU quota is 8"),
]


@pytest.mark.parametrize("what,change,expected", INFERENCE_BAD, ids=[b[0] for b in INFERENCE_BAD])
def test_bad_inference_value_is_exactly_one_line(tmp_path, what, change, expected):
    old, new = change
    found = problems(tmp_path, GOOD.replace(old, new, 1))
    assert len(found) == 1 and found[0].endswith(expected), found


def test_inference_is_off_by_default_and_a_team_may_switch_it_on(tmp_path):
    old, new = _inference("{enabled: true, replicas: {min: 1, max: 3}}")
    cohort = load_cohort(write(tmp_path, GOOD.replace(old, new, 1)))
    assert not cohort.lab.inference.enabled and not cohort.team("team-a").lab.inference.enabled
    inf = cohort.team("team-b").lab.inference
    assert inf.enabled and (inf.replicas.min, inf.replicas.max) == (1, 3) and inf.pool == "on-demand"


def test_disabled_inference_is_not_held_to_the_pool_rules(tmp_path):
    old, new = _inference("{enabled: false, pool: spot, gpus_per_replica: 8}")
    assert not load_cohort(write(tmp_path, GOOD.replace(old, new, 1))).team("team-b").lab.inference.enabled


@pytest.mark.parametrize("what,change,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_clear_line(tmp_path, what, change, expected):
    old, new = change
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    if what == "instance type not offered in region":
        text = text.replace("region: us-east-1", "region: eu-west-1")
        expected = "instance type 'g6.xlarge' is not offered in region eu-west-1"
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found
    assert all("\n" not in p for p in found)


def test_all_problems_are_reported_not_only_the_first(tmp_path):
    text = GOOD.replace("cohort: fall26", "cohort: Fall").replace("- name: team-b", "- name: team-a")
    text = text.replace("lab: gpu-baseline", "lab: gpu-baseline\nextra: 1")
    found = problems(tmp_path, text)
    assert len(found) >= 2


def test_missing_file_and_broken_yaml(tmp_path):
    with pytest.raises(SpecError, match="file not found"):
        load_cohort(tmp_path / "nope.yaml")
    assert "invalid YAML" in problems(tmp_path, "cohort: [unclosed\n")[0]


def test_duplicate_yaml_key_is_an_error(tmp_path):
    found = problems(tmp_path, GOOD + "region: eu-west-1\n")
    assert any("region: duplicate key" in p for p in found)


def test_validate_cli_exit_code_and_no_traceback(run_cli, tmp_path):
    bad = write(tmp_path, GOOD.replace("- name: team-b", "- name: team-a"))
    result = run_cli("validate", str(bad), "--allow-past")
    assert result.exit_code == ExitCode.INVALID_SPEC
    assert "duplicate team 'team-a'" in result.output
    assert "Traceback" not in result.output


def test_validate_cli_accepts_a_good_file_with_json_output(run_cli, tmp_path):
    good = write(tmp_path, GOOD)
    result = run_cli("validate", str(good), "--allow-past", "--output", "json")
    assert result.exit_code == 0, result.output
    assert '"valid": true' in result.output


def test_a_teams_knobs_file_asking_for_more_than_its_pool_holds_is_refused_with_what_fits(tmp_path):
    cohort = load_cohort(write(tmp_path, GOOD))
    knobs = tmp_path / "knobs.yaml"
    knobs.write_text("node_groups:\n  gpu_on_demand: {instance_types: [g5.xlarge]}\njob:\n  cpu: \"4\"\n")
    with pytest.raises(SpecError) as err:
        apply_knobs(cohort, "team-b", load_yaml(knobs))
    [problem] = [str(p) for p in err.value.problems]
    assert problem.startswith(f"{knobs}:4: job.cpu: job 'train' requests 4 CPU")
    assert "g5.xlarge has 3870m CPU" in problem and "Fits: request at most 3870m CPU" in problem
