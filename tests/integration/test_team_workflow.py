"""A team's own workflow with real terraform against the emulator, on one small cohort: knobs
file, refusal outside the limits, `team plan` with the cost over the rest of the session,
`team apply` of the saved plan changing only that team, the team role's policy as Terraform
rendered it, and the audit log."""

from __future__ import annotations

import json
import re
import textwrap
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from labctl.aws import emulator
from labctl.errors import SpecError
from labctl.ops import team as T
from labctl.ops.up import up
from tests.integration.conftest import mirror_or_skip, terraform_or_skip

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    terraform_or_skip()
    mirror_or_skip()
    root = tmp_path_factory.mktemp("teamwf")
    state, spec = root / "state", root / "cohort.yaml"
    start = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    spec.write_text(textwrap.dedent(f"""\
        cohort: twf
        window: {{start: {start}, duration: 4h}}
        lab: explore-instances
        teams:
          - name: alpha
            knobs: {{node_groups: {{gpu_spot: {{max_size: 0}}}}}}
          - name: beta
            knobs: {{node_groups: {{gpu_spot: {{max_size: 0}}}}}}
    """))
    info, _ = emulator.start_background(state)
    report = up(spec, state, quiet=True)
    assert not report.failed, report.as_dict()
    yield {"state": state, "spec": spec, "url": info.url}
    emulator.stop_background(state)


def _client(world, service):
    return boto3.client(service, endpoint_url=world["url"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _nodegroups(world, team):
    return sorted(_client(world, "eks").list_nodegroups(clusterName=f"twf-{team}")["nodegroups"])


def test_1_team_role_policy_as_rendered_confines_changes_to_the_team(world):
    iam = boto3.client("iam", endpoint_url=world["url"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    doc = iam.get_role_policy(RoleName="twf-alpha-team", PolicyName="labctl-team")["PolicyDocument"]
    for st in doc["Statement"]:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if st["Effect"] == "Allow" and any(not a.split(":")[1].startswith(("Describe", "List", "Get", "View")) for a in actions):
            assert st["Condition"]["StringEquals"]["aws:ResourceTag/labctl:team"] == "alpha"


def test_2_out_of_limits_knobs_are_refused_before_terraform_runs(world):
    T.team_knobs(world["spec"], world["state"], "alpha")
    path = T.knobs_path(T.StateDir(world["state"]).cohort("twf"), "alpha")
    good = path.read_text()
    path.write_text(good.replace("max_size: 0    # 0 switches the pool off; at most 1", "max_size: 3    # x"))
    with pytest.raises(SpecError, match=r"knobs.yaml:\d+: node_groups.gpu_spot.max_size: max_size 3 exceeds"):
        T.team_plan(world["spec"], world["state"], "alpha")
    path.write_text(good)


def test_3_plan_shows_changes_and_cost_then_apply_changes_only_that_team(world):
    path = T.knobs_path(T.StateDir(world["state"]).cohort("twf"), "alpha")
    text = path.read_text()
    text = text.replace("max_size: 0    # 0 switches the pool off; at most 1\n    disk_gib: 100",
                        "max_size: 1    # 0 switches the pool off; at most 1\n    disk_gib: 100", 1)
    text = text.replace("pool: on-demand    #", "pool: spot    #")
    path.write_text(text)
    beta_before = _nodegroups(world, "beta")
    plan = T.team_plan(world["spec"], world["state"], "alpha")
    assert plan.status == "would-change", plan.as_dict()
    assert any('node_group["gpu_spot"]' in c for c in plan.changes)
    # The pool's launch template stood by while it was off: switching it on creates none (the
    # provider waits a fixed 5 s after creating one).
    assert not any("aws_launch_template" in c for c in plan.changes), plan.changes
    assert any("50-training-job" in m for m in plan.manifest_changes)
    assert "over the session" in plan.cost_change and plan.hours_left <= 3
    applied = T.team_apply(world["spec"], world["state"], "alpha")
    assert applied.status == "changed" and applied.used_saved_plan, applied.as_dict()
    assert "twf-alpha-gpu_spot" in _nodegroups(world, "alpha")
    assert _nodegroups(world, "beta") == beta_before
    again = T.team_plan(world["spec"], world["state"], "alpha")
    assert again.status == "no-changes", again.as_dict()
    audit = [json.loads(x) for x in (world["state"] / "cohorts" / "twf" / "audit.log").read_text().splitlines()]
    assert [a["command"] for a in audit if a["command"].startswith("team")][-1] == "team apply"
    # the knobs it applied, and when: the debrief attributes the rest of the class to them
    entry = [a for a in audit if a["command"] == "team apply"][-1]
    assert entry["knobs"]["job"]["pool"] == "spot" and entry["knobs"]["node_groups"]["gpu_spot"]["max_size"] == 1
    from labctl.ops.debrief import load_inputs

    inp, _ = load_inputs(T.StateDir(world["state"]).cohort("twf"))
    alpha = next(p for p in inp.teams if p.name == "alpha")
    assert [s.source for s in alpha.segments] == ["cohort file", "team apply"]
    first, applied_set = ({(c.path, c.value) for c in s.choices} for s in alpha.segments)
    assert ("node_groups.gpu_spot.max_size", 0) in first and ("job.pool", "spot") not in first
    assert ("job.pool", "spot") in applied_set and not any(p == "node_groups.gpu_spot.max_size" for p, _ in applied_set)


def test_4_apply_without_a_plan_plans_and_applies_in_one_go_with_its_cost(world):
    path = T.knobs_path(T.StateDir(world["state"]).cohort("twf"), "alpha")
    text = path.read_text()
    # another spot instance type: the node group is replaced (moto cannot update one in place)
    text, n = re.subn(r"(  gpu_spot:\n    instance_types: )\[[^\]]*\]", r"\1[g6e.xlarge]", text)
    assert n == 1, text
    path.write_text(text)
    beta_before = _nodegroups(world, "beta")
    applied = T.team_apply(world["spec"], world["state"], "alpha")
    assert applied.status == "changed" and not applied.used_saved_plan, applied.as_dict()
    assert any('node_group["gpu_spot"].aws_eks_node_group' in c for c in applied.changes), applied.changes
    assert applied.estimate is not None and applied.previous is not None
    assert "show" not in applied.timings and "plan" not in applied.timings     # one terraform process
    assert "twf-alpha-gpu_spot" in _nodegroups(world, "alpha")
    assert any("g6e.xlarge" in c.label for c in applied.estimate.components), applied.estimate.components
    assert _nodegroups(world, "beta") == beta_before
    assert T.team_plan(world["spec"], world["state"], "alpha").status == "no-changes"


def test_5_a_disk_resize_rolls_a_new_launch_template_version_onto_the_node_group_in_place(world):
    path = T.knobs_path(T.StateDir(world["state"]).cohort("twf"), "alpha")
    text, n = re.subn(r"(  gpu_on_demand:\n(?:    .*\n)*?    disk_gib: )\d+", r"\g<1>60", path.read_text())
    assert n == 1, text
    path.write_text(text)
    applied = T.team_apply(world["spec"], world["state"], "alpha")
    assert applied.status == "changed", applied.as_dict()
    assert sorted(c.split()[0] for c in applied.changes) == ["update", "update"], applied.changes
    eks, ec2 = _client(world, "eks"), _client(world, "ec2")
    ng = eks.describe_nodegroup(clusterName="twf-alpha", nodegroupName="twf-alpha-gpu_on_demand")["nodegroup"]
    lt = ec2.describe_launch_templates(LaunchTemplateIds=[ng["launchTemplate"]["id"]])["LaunchTemplates"][0]
    assert ng["launchTemplate"]["version"] == str(lt["LatestVersionNumber"]) == "2"
    data = ec2.describe_launch_template_versions(LaunchTemplateId=lt["LaunchTemplateId"], Versions=["2"])
    assert data["LaunchTemplateVersions"][0]["LaunchTemplateData"]["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 60
    assert T.team_plan(world["spec"], world["state"], "alpha").status == "no-changes"


def test_6_a_hand_run_whose_credentials_reach_another_account_stops_before_any_change(world):
    """The endpoint reaches terraform through AWS_ENDPOINT_URL, not the root's HCL: a root meant
    for the emulator, run with credentials that reach some other account, must refuse at its
    first read instead of changing that account. moto hands out credentials of account
    111111111111 through AssumeRole, standing in for a shell's real credentials."""
    from dataclasses import replace

    from labctl.ops.common import prepare
    from labctl.ops.target import connect
    from labctl.spec.load import load_cohort
    from labctl.tf import argv as A

    creds = _client(world, "sts").assume_role(RoleArn="arn:aws:iam::111111111111:role/elsewhere",
                                              RoleSessionName="by-hand")["Credentials"]
    cohort = load_cohort(world["spec"])
    conn = connect(cohort.cohort, world["state"])
    other = {**conn.env, "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
             "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"], "AWS_SESSION_TOKEN": creds["SessionToken"]}
    ctx = prepare(world["state"], cohort.id, replace(conn, env=other))
    state_file = ctx.cohort_state.team_dir("alpha") / "terraform.tfstate"
    before = state_file.read_bytes()
    res = ctx.tf("alpha").run(A.apply(refresh=False))
    assert res.returncode != 0
    assert "the credentials reach AWS account 111111111111" in " ".join(e.one_line() for e in res.progress.errors)
    assert res.planned_changes() == []
    assert state_file.read_bytes() == before
    # The same root through labctl's own environment plans cleanly against the emulator.
    assert prepare(world["state"], cohort.id, conn).tf("alpha").run(A.plan(refresh=False)).returncode in (0, 2)
