"""Account per team, with the real terraform CLI and aws provider against the embedded emulator:
three teams in three accounts go up (one batch: each team's provider assumes the facilitator's
role in its own account), each team's resources are in its account and nowhere else, a team's
role is in its own account and trusts only it, the root refuses credentials that reach another
account than the team's, and `down` proves each account empty. The cohort keeps its state in S3
(`state: {backend: s3}`): the bucket is the facilitator's, terraform reads and locks each team's
state there as the facilitator while each team's provider acts in its own account, and the batch
pushes each new team's state to its own workspace (the second push once found a workspace in the
bucket and made `terraform init` refuse its own, a workspace not created yet). Two teams' accounts
are named in the cohort file; the third's is made by `up` in an Organizations OU
(`accounts.organization`) and reached the same way after that (team plan, status, down).

moto 5.2.1 keeps resources per account and answers AssumeRole into any account id; it does not
evaluate IAM policies, so it cannot show AWS refusing a team's role in another account. What
labctl controls is asserted instead: where each team's resources land, which account its role
lives in and whom that role trusts, and that no terraform run touches an account it was not meant for.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from labctl.aws import accounts, emulator
from labctl.aws.session import AwsTarget
from labctl.ops.target import recorded_accounts
from labctl.tf import state as tfstate
from tests.integration.conftest import mirror_or_skip, terraform_or_skip

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]

# blue's account is made by `up` in an Organizations OU (accounts.organization); world fills it in.
TEAMS = {"red": "111111111111", "green": "222222222222", "blue": ""}
FACILITATOR = "123456789012"      # moto's account: the credentials labctl starts from
COHORT = textwrap.dedent("""\
    cohort: accts
    target: embedded
    region: us-east-1
    window: {start: 2026-12-01T09:00:00Z, duration: 4h}
    lab: gpu-baseline
    teams:
      - name: red
      - name: green
      - name: blue
    state: {backend: s3}
    accounts:
      mode: per-team
      organization: {parent_id: OU_ID, email: "labs+{cohort}-{team}@example.com"}
      teams: {red: "111111111111", green: "222222222222"}
""")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    terraform_or_skip()
    mirror_or_skip()
    from click.testing import CliRunner

    from labctl.cli.main import _register, cli as root

    _register()
    base = tmp_path_factory.mktemp("accts")
    state = base / "state"
    spec = base / "cohort.yaml"
    info, _ = emulator.start_background(state)
    target = AwsTarget(kind="embedded", region="us-east-1", endpoint_url=info.url)
    org = target.client("organizations")       # the facilitator's account manages the organization
    org.create_organization(FeatureSet="ALL")
    ou = org.create_organizational_unit(ParentId=org.list_roots()["Roots"][0]["Id"], Name="labs")["OrganizationalUnit"]["Id"]
    spec.write_text(COHORT.replace("OU_ID", ou))

    def cli(*args):
        return CliRunner().invoke(root, ["--state-dir", str(state), *args], catch_exceptions=False)

    up = cli("up", str(spec), "--allow-past", "--output", "json")
    TEAMS["blue"] = recorded_accounts(state, "accts").teams.get("blue", "")
    in_account = accounts.team_targets(target, TEAMS, "OrganizationAccountAccessRole", "test-check")
    yield {"state": state, "spec": spec, "url": info.url, "target": target, "cli": cli, "up": up,
           "in": in_account, "ou": ou}
    emulator.stop_background(state)


def _listing(target, account: str) -> dict[str, set[str]]:
    """The cohort's resources in one account, listed with plain API calls (not labctl's walker,
    and a few calls instead of its ~40): VPCs by their team tag, clusters, roles, buckets, budgets."""
    vpcs = target.client("ec2").describe_vpcs(Filters=[{"Name": "tag:labctl:cohort", "Values": ["accts"]}])["Vpcs"]
    budgets = target.client("budgets").describe_budgets(AccountId=account).get("Budgets", [])
    found = {
        "vpc": {t["Value"] for v in vpcs for t in v.get("Tags", []) if t["Key"] == "labctl:team"},
        "cluster": set(target.client("eks").list_clusters()["clusters"]),
        "role": {r["RoleName"] for r in target.client("iam").list_roles()["Roles"] if r["RoleName"].startswith("accts-")},
        "bucket": {b["Name"] for b in target.client("s3").list_buckets()["Buckets"]},
        "budget": {b["BudgetName"] for b in budgets if b["BudgetName"].startswith("accts-")},
    }
    return {k: v for k, v in found.items() if v}


def test_1_three_teams_in_three_accounts_go_up(world):
    assert world["up"].exit_code == 0, world["up"].output
    report = json.loads(world["up"].stdout)
    assert {t["team"]: t["status"] for t in report["teams"]} == {t: "created" for t in TEAMS}


def test_1b_the_team_without_an_account_got_one_made_in_the_ou(world):
    org = world["target"].client("organizations")
    in_ou = org.list_accounts_for_parent(ParentId=world["ou"])["Accounts"]
    assert [(a["Id"], a["Name"], a["Email"]) for a in in_ou] == [(TEAMS["blue"], "accts-blue", "labs+accts-blue@example.com")]
    assert TEAMS["blue"] not in {FACILITATOR, TEAMS["red"], TEAMS["green"]}


def test_2_each_teams_resources_are_in_its_account_and_nowhere_else(world):
    for team, account in TEAMS.items():
        here = _listing(world["in"][account], account)
        assert here["vpc"] == {team}, (account, here)
        assert here["cluster"] == {f"accts-{team}"}, (account, here)
        assert here["role"] and all(r.startswith(f"accts-{team}-") for r in here["role"]), (account, here)
        assert len(here["bucket"]) == 1 and team in next(iter(here["bucket"])), (account, here)
        assert here["budget"] and all(b.startswith(f"accts-{team}") for b in here["budget"]), (account, here)
    # Nothing of the cohort's in the facilitator's account but the bucket that holds its states.
    assert _listing(world["target"], FACILITATOR) == {"bucket": {f"labctl-state-{FACILITATOR}-accts"}}


def test_3_a_teams_role_is_in_its_own_account_and_trusts_only_that_account(world):
    for team, account in TEAMS.items():
        handed_out = tfstate.team_outputs(world["state"] / "cohorts" / "accts" / "teams" / team)["team_role_arn"]
        iam = world["in"][account].client("iam")
        name = f"accts-{team}-team"
        role = iam.get_role(RoleName=name)["Role"]
        assert role["Arn"] == f"arn:aws:iam::{account}:role/{name}"
        assert handed_out == role["Arn"]          # what `labctl handouts` gives the team
        principals = [p for s in role["AssumeRolePolicyDocument"]["Statement"]
                      for p in ([s["Principal"]["AWS"]] if isinstance(s["Principal"]["AWS"], str) else s["Principal"]["AWS"])]
        assert principals == [f"arn:aws:iam::{account}:root"], principals
        for other, other_account in TEAMS.items():       # no team's role exists in another team's account
            if other != team:
                with pytest.raises(Exception, match="NoSuchEntity|cannot be found"):
                    world["in"][other_account].client("iam").get_role(RoleName=name)


def test_3b_status_reads_each_teams_node_groups_in_its_own_account(world):
    res = world["cli"]("status", "accts", "--output", "json")
    assert res.exit_code == 0, res.output
    for t in json.loads(res.stdout)["teams"]:
        assert t["error"] is None, t
        assert {ng["pool"] for ng in t["node_groups"]} >= {"system"}, t


def test_3c_sweep_dry_run_lists_every_teams_resources_across_the_accounts(world):
    res = world["cli"]("sweep", "accts", "--dry-run", "--output", "json")
    assert res.exit_code == 0, res.output
    actions = json.loads(res.stdout)["actions"]
    assert {a["team"] for a in actions} == set(TEAMS) and {a["status"] for a in actions} == {"would-delete"}
    assert {a["resource"].split()[0] for a in actions if a["team"] == "red"} >= {"eks:cluster", "ec2:vpc", "iam:role"}


def test_3d_a_teams_own_root_plans_nothing_after_the_batch_that_made_it(world):
    """The batch's state split into the team's own: its provider assumes the same role on its own."""
    res = world["cli"]("--output", "json", "team", "plan", "blue", "--cohort", str(world["spec"]))
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["changes"] == [], res.stdout[-2000:]


def test_4_the_root_refuses_credentials_that_reach_another_account_than_the_teams(world):
    """green's root, planned with red's role but green's account id: stopped before any change."""
    from labctl.ops.common import prepare
    from labctl.ops.target import connect_recorded
    from labctl.state import StateDir
    from labctl.tf import argv as A

    cs = StateDir(world["state"]).existing_cohort("accts")
    ctx = prepare(world["state"], "accts", connect_recorded(cs.meta(), world["state"], start_emulator=False))
    ctx.ensure_init("green")
    wrong = json.dumps({"id": TEAMS["green"], "role_arn": accounts.role_arn(TEAMS["red"], "OrganizationAccountAccessRole"),
                        "session_name": "test"})
    res = ctx.tf("green").run([*A.plan(), f"-var=team_account={wrong}"])
    assert res.returncode == 1        # an error: not 0 (no changes) nor 2 (changes to apply)
    assert f"belong in AWS account {TEAMS['green']}, but its credentials reach account {TEAMS['red']}" in \
        res.stdout + res.stderr, (res.stdout + res.stderr)[-2000:]


def test_5_down_proves_each_account_empty(world):
    res = world["cli"]("down", "accts", "--output", "json")
    assert res.exit_code == 0, res.output
    proof = json.loads(res.stdout)
    assert proof["clean"] is True and proof["left"] == []
    for team, account in TEAMS.items():
        assert proof["teams"][team]["destroy"] == "destroyed"
        report = json.loads((world["state"] / "cohorts" / "accts" / "reports" / f"teardown-{team}.json").read_text())
        assert report["account"] == account and report["clean"] is True and report["final_inventory"] == []
        assert _listing(world["in"][account], account) == {}    # listed in the account itself, not by labctl's walk
    assert _listing(world["target"], FACILITATOR) == {}         # the state bucket went once every proof was written
