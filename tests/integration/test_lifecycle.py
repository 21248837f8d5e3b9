"""The whole cohort lifecycle with the real terraform CLI and aws provider against the embedded
emulator: a failing team does not stop the others, a second `up` is a no-op, status shows the
node groups, `down --dry-run` changes nothing, and `down` ends at zero even for a team whose
Terraform state was deleted (the sweep finds it by tag)."""

from __future__ import annotations

import json
import textwrap

import boto3
import pytest

from labctl.aws import emulator
from labctl.aws.inventory import inventory
from labctl.aws.session import AwsTarget
from labctl.errors import ExitCode
from tests.integration.conftest import mirror_or_skip, terraform_or_skip

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]

COHORT = textwrap.dedent("""\
    cohort: life
    target: embedded
    region: us-east-1
    window: {start: 2026-12-01T09:00:00Z, duration: 4h}
    lab: gpu-baseline
    teams:
      - name: alpha
      - name: beta
        knobs:
          node_groups:
            gpu_on_demand: {instance_types: [g5.xlarge], min_size: 0, desired_size: 0, max_size: 1}
            gpu_spot: {instance_types: [g5.xlarge], max_size: 2}
          job: {pool: spot, checkpoint_every_steps: 500}
""")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    terraform_or_skip()
    mirror_or_skip()
    root = tmp_path_factory.mktemp("life")
    state = root / "state"
    spec = root / "cohort.yaml"
    spec.write_text(COHORT)
    info, _ = emulator.start_background(state)
    target = AwsTarget(kind="embedded", region="us-east-1", endpoint_url=info.url)
    yield {"state": state, "spec": spec, "url": info.url, "target": target}
    emulator.stop_background(state)


@pytest.fixture(scope="module")
def cli(world):
    from click.testing import CliRunner

    from labctl.cli.main import _register, cli as root

    _register()

    def run(*args):
        return CliRunner().invoke(root, ["--state-dir", str(world["state"]), *args], catch_exceptions=False)
    return run


def _iam(world):
    return boto3.client("iam", endpoint_url=world["url"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _count(world, type_):
    return sum(1 for r in inventory(world["target"], "life").resources if r.type == type_)


def test_1_one_broken_team_fails_while_the_other_completes(world, cli):
    # A role that already exists with beta's name makes beta's apply fail, as a clash would in a
    # real account; alpha must still be provisioned.
    _iam(world).create_role(RoleName="life-beta-cluster", AssumeRolePolicyDocument="{}")
    res = cli("up", str(world["spec"]), "--allow-past", "--output", "json")
    assert res.exit_code == ExitCode.TERRAFORM, res.output
    report = json.loads(res.stdout)
    by_team = {t["team"]: t for t in report["teams"]}
    assert by_team["alpha"]["status"] == "created"
    assert by_team["beta"]["status"] == "failed"
    assert "life-beta-cluster" in by_team["beta"]["error"]
    assert _count(world, "eks:cluster") == 1


def test_2_fixing_the_cause_and_rerunning_completes_only_what_is_missing(world, cli):
    _iam(world).delete_role(RoleName="life-beta-cluster")
    res = cli("up", str(world["spec"]), "--allow-past", "--teams", "beta")
    assert res.exit_code == 0, res.output
    assert "beta: changed" in res.output or "beta: created" in res.output
    assert _count(world, "eks:cluster") == 2
    assert _count(world, "ec2:vpc") == 2          # no duplicates from the failed attempt


def test_3_second_up_changes_nothing_and_says_so(world, cli):
    res = cli("up", str(world["spec"]), "--allow-past")
    assert res.exit_code == 0, res.output
    assert "alpha: unchanged (no changes)" in res.output
    assert "beta: unchanged (no changes)" in res.output


def test_3b_checkpoint_buckets_expire_their_objects(world, cli):
    # The expiry is what stops a forgotten bucket costing; it is the bucket's inline rule (no
    # 55 s lifecycle-resource wait), so check the emulator really holds it.
    s3 = boto3.client("s3", endpoint_url=world["url"], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("labctl-life-")]
    assert len(names) == 2, names
    for name in names:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
        assert [(r["ID"], r["Status"], r["Expiration"]["Days"]) for r in rules] == [("expire-checkpoints", "Enabled", 7)]
        assert rules[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1


def test_4_status_shows_node_groups_with_capacity_type_types_and_sizes(world, cli):
    res = cli("status", "life", "--output", "json")
    assert res.exit_code == 0, res.output
    st = json.loads(res.stdout)
    beta = next(t for t in st["teams"] if t["team"] == "beta")
    spot = next(ng for ng in beta["node_groups"] if ng["pool"] == "gpu_spot")
    assert spot["capacity_type"] == "SPOT" and spot["instance_types"] == ["g5.xlarge"] and spot["max"] == 2
    alpha = next(t for t in st["teams"] if t["team"] == "alpha")
    assert {ng["pool"] for ng in alpha["node_groups"]} == {"system", "gpu_on_demand"}
    assert st["window_end"].startswith("2026-12-01T13:00:00")


def test_5_down_dry_run_changes_nothing(world, cli):
    before = len(inventory(world["target"], "life").resources)
    res = cli("down", "life", "--dry-run", "--output", "json")
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    assert plan["dry_run"] is True
    assert any("aws_eks_cluster" in a for a in plan["teams"]["alpha"]["destroyed"])
    assert len(inventory(world["target"], "life").resources) == before
    world["dry_run"] = plan


def test_6_down_with_deleted_state_still_ends_at_zero(world, cli):
    state_file = world["state"] / "cohorts" / "life" / "teams" / "alpha" / "terraform.tfstate"
    state_file.unlink()          # alpha's state is lost: only the tag sweep can find its resources
    res = cli("down", "life", "--output", "json")
    assert res.exit_code == 0, res.output
    proof = json.loads(res.stdout)
    assert proof["clean"] is True and proof["left"] == []
    assert proof["teams"]["alpha"]["destroy"] == "nothing-to-destroy"
    swept_types = {item.split()[0] for item in proof["teams"]["alpha"]["swept"]}
    # everything alpha had, found by tag (or by containment in its VPC / cluster)
    assert {"eks:cluster", "eks:nodegroup", "ec2:vpc", "ec2:subnet", "ec2:launch-template", "iam:role",
            "iam:oidc-provider", "s3:bucket", "budgets:budget", "sns:topic", "scheduler:schedule",
            } <= swept_types, swept_types
    assert proof["teams"]["beta"]["destroy"] == "destroyed" and proof["teams"]["beta"]["left"] == []
    # On an emulator target beta's cluster went through the EKS API just before the destroy (node
    # groups first, their ASG tags with them): listed as destroyed, and nothing misread as removed
    # by another command.
    beta = proof["teams"]["beta"]
    early = beta["deleted_through_eks_api"]
    assert early[-1] == "module.cluster.aws_eks_cluster.this", early
    assert {a.split(".aws_")[0] for a in early if "aws_eks_node_group" in a} == {
        'module.node_group["system"]', 'module.node_group["gpu_on_demand"]', 'module.node_group["gpu_spot"]'}, early
    assert set(early) <= set(beta["destroyed"]) and beta["removed_elsewhere"] == []
    assert any("EKS API" in n for n in world["dry_run"]["notes"]), world["dry_run"]["notes"]
    report = json.loads((world["state"] / "cohorts" / "life" / "reports" / "teardown-alpha.json").read_text())
    assert report["clean"] is True and report["final_inventory"] == []
    assert inventory(world["target"], "life").resources == ()
    # The dry run counted what the real run did for the team whose state was intact: what its
    # destroy removes, and only what is left for the sweep after that (not everything twice).
    dry = world["dry_run"]["teams"]["beta"]
    assert len(dry["destroyed"]) == len(proof["teams"]["beta"]["destroyed"]) > 0
    assert len(dry["swept"]) == len(proof["teams"]["beta"]["swept"])


def test_7_a_second_down_keeps_the_first_proof(world, cli):
    reports = world["state"] / "cohorts" / "life" / "reports"
    first = {p.name: p.read_bytes() for p in reports.glob("teardown-*.json")}
    res = cli("down", "life", "--output", "json")
    assert res.exit_code == 0, res.output
    again = json.loads(res.stdout)
    assert again["clean"] is True
    assert again["teams"]["beta"]["destroy"] == "nothing-to-destroy"
    assert again["teams"]["beta"]["report"] == str(reports / "teardown-beta.json")
    assert {p.name: p.read_bytes() for p in reports.glob("teardown-*.json")} == first
    assert json.loads(first["teardown-beta.json"])["destroy"] == "destroyed"


def test_8_a_torn_down_cohort_is_not_provisioned_again_by_accident(world, cli):
    for args in (("up", str(world["spec"]), "--allow-past", "--teams", "beta"),
                 ("up", str(world["spec"]), "--allow-past"),
                 ("team", "plan", "beta", "--cohort", str(world["spec"])),
                 ("team", "apply", "beta", "--cohort", str(world["spec"]))):
        res = cli(*args)
        assert res.exit_code == ExitCode.REFUSED, (args, res.output)
        lines = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
        assert len(lines) == 1 and "torn down" in lines[0], res.output
        assert f"labctl up {world['spec']} --reprovision" in lines[0] or "--reprovision" in lines[0]
    assert inventory(world["target"], "life").resources == ()
    res = cli("status", "life", "--output", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["status"] == "down"
