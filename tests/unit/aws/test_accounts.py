"""Per-team accounts on the boto3 side: the role labctl assumes in each team's account acts there
only, and the teardown inventory and sweep walk every account, each resource deleted where it is.

moto (in-process) keeps resources per account and answers AssumeRole into any account id with
credentials scoped to it, as AWS Organizations' OrganizationAccountAccessRole would. It does not
evaluate IAM policies (no cross-account denial): what labctl controls is which account each
target reaches, and that is what is asserted here.
"""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal as D

import pytest

from labctl.aws import accounts
from labctl.aws.inventory import inventory
from labctl.aws.sweep import plan_sweep

COHORT = "acct26"
TEAMS = {"team-a": "111111111111", "team-b": "222222222222", "team-c": "333333333333"}


@pytest.fixture
def targets(aws):
    return accounts.team_targets(aws, TEAMS, "OrganizationAccountAccessRole", accounts.session_name(COHORT))


def _tagged_vpc_and_bucket(target, team: str) -> None:
    tags = [{"Key": "labctl:cohort", "Value": COHORT}, {"Key": "labctl:team", "Value": team}]
    target.client("ec2").create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}])
    bucket = f"{COHORT}-{team}-ckpt"
    target.client("s3").create_bucket(Bucket=bucket)
    target.client("s3").put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})


def test_each_assumed_role_reaches_its_own_account_and_names_the_cohort(aws, targets):
    assert sorted(targets) == sorted(TEAMS.values())
    for account, target in targets.items():
        ident = target.client("sts").get_caller_identity()
        assert ident["Account"] == account
        assert ident["Arn"] == f"arn:aws:sts::{account}:assumed-role/OrganizationAccountAccessRole/labctl-{COHORT}"
    assert aws.client("sts").get_caller_identity()["Account"] == "123456789012"     # the facilitator's own


def test_the_credentials_are_kept_out_of_reprs(targets):
    target = next(iter(targets.values()))
    assert target.credentials is not None
    assert target.credentials.secret_access_key not in repr(target)
    assert target.credentials.session_token not in repr(target)


def test_teardown_finds_each_teams_resources_in_its_account_and_deletes_them_there(aws, targets):
    # One story (each walk of three accounts costs seconds in moto): list, dry run, sweep, prove empty.
    for team, account in TEAMS.items():
        _tagged_vpc_and_bucket(targets[account], team)
    found = accounts.inventory_in(targets, COHORT)
    vpcs = {(r.team, r.account) for r in found.resources if r.type == "ec2:vpc"}
    assert vpcs == {(team, account) for team, account in TEAMS.items()}
    for account, target in targets.items():      # listed account by account: one team's VPC each
        teams_here = {r.team for r in inventory(target, COHORT).resources if r.type == "ec2:vpc"}
        assert teams_here == {t for t, a in TEAMS.items() if a == account}
    assert not [r for r in inventory(aws, COHORT).resources if r.type == "ec2:vpc"]   # none in the facilitator's

    dry = accounts.sweep_in(targets, plan_sweep(found.resources), dry_run=True)
    assert len(dry.would_delete) == len(found.resources) == 2 * len(TEAMS)

    result = accounts.sweep_in(targets, plan_sweep(found.resources), dry_run=False)
    assert result.ok and len(result.deleted) == 2 * len(TEAMS)
    for target in targets.values():
        assert not inventory(target, COHORT).resources


def test_one_shared_account_is_the_single_account_walk_unchanged(aws):
    _tagged_vpc_and_bucket(aws, "team-a")
    shared = {accounts.SHARED: aws}
    assert accounts.inventory_in(shared, COHORT) == inventory(aws, COHORT)
    assert all(r.account is None for r in accounts.inventory_in(shared, COHORT).resources)


def test_terraform_gets_each_teams_role_and_account_and_a_shared_cohort_gets_neither(tmp_path):
    from labctl.render.terraform import ProviderSettings, tfvars
    from labctl.spec.load import load_cohort

    base = """\
        cohort: acct26
        window: {start: 2026-12-01T09:00:00Z, duration: 4h}
        lab: gpu-baseline
        teams: [{name: team-a}, {name: team-b}]
        """
    per_team = textwrap.dedent(base) + textwrap.dedent("""\
        accounts:
          mode: per-team
          role_name: WorkshopAdmin
          teams: {team-a: "111111111111", team-b: "222222222222"}
        """)
    provider = ProviderSettings(emulator=True, max_retries=3)
    (tmp_path / "shared.yaml").write_text(textwrap.dedent(base))
    (tmp_path / "per-team.yaml").write_text(per_team)
    shared = load_cohort(tmp_path / "shared.yaml")
    assert "team_account" not in tfvars(shared, shared.team("team-a"), provider)
    cohort = load_cohort(tmp_path / "per-team.yaml")
    assert tfvars(cohort, cohort.team("team-b"), provider)["team_account"] == {
        "id": "222222222222", "role_arn": "arn:aws:iam::222222222222:role/WorkshopAdmin",
        "session_name": "labctl-acct26"}


def test_focus_rows_carry_each_teams_account_as_sub_account(tmp_path):
    from labctl.cost.catalog import load_catalog
    from labctl.cost.focus import FocusContext, focus_rows
    from labctl.cost.ledger import build_ledger
    from labctl.cost.model import Usage
    from datetime import datetime, timedelta, timezone

    t0 = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    catalog = load_catalog()
    ledger = build_ledger([Usage(team, f"eks-{team}", "cluster", "us-east-1", t0, t0 + timedelta(hours=1),
                                 source="emulator:eks") for team in TEAMS], catalog, as_of=t0 + timedelta(hours=1))
    rows = focus_rows(ledger, FocusContext(cohort=COHORT, sub_accounts=TEAMS), catalog)
    assert {(r["x_Team"], r["SubAccountId"]) for r in rows} == set(TEAMS.items())
    assert sum(D(r["BilledCost"]) for r in rows) > 0
    assert {r["SubAccountId"] for r in focus_rows(ledger, FocusContext(cohort=COHORT), catalog)} == {""}
    json.dumps(rows)      # plain values only


PER_TEAM_COHORT = """\
cohort: acct26
window: {start: 2026-12-01T09:00:00Z, duration: 4h}
lab: gpu-baseline
teams: [{name: team-a}, {name: team-b}]
accounts:
  mode: per-team
  teams: {team-a: "111111111111", team-b: "222222222222"}
"""


def test_preflight_assumes_the_role_in_every_teams_account_and_reads_each_accounts_quotas(tmp_path, aws, monkeypatch):
    from datetime import datetime, timezone

    from labctl.aws.quotas import QuotaValue
    from labctl.ops import preflight
    from labctl.spec.load import load_cohort

    asked = []      # moto's Service Quotas knows only vpc: answer EC2's here, and note which account asked

    def quota_value(target, service, code):  # type: ignore[no-untyped-def]
        asked.append(target.client("sts").get_caller_identity()["Account"])
        return QuotaValue(1000.0, "test")

    monkeypatch.setattr(preflight.quotas, "quota_value", quota_value)
    (tmp_path / "c.yaml").write_text(PER_TEAM_COHORT)
    checks = {c.name: c for c in preflight.run_checks(load_cohort(tmp_path / "c.yaml"), aws,
                                                      at=datetime(2026, 11, 30, tzinfo=timezone.utc))}
    assert checks["accounts"].status == preflight.PASS, checks["accounts"]
    assert "2 teams, each in its own account" in checks["accounts"].message
    per_team = sorted(n for n in checks if n.startswith("quota:"))
    assert per_team and all(n.endswith(("[team-a]", "[team-b]")) for n in per_team), per_team
    assert set(asked) == {"111111111111", "222222222222"}       # each account's own quotas, not the facilitator's


def test_preflight_names_the_team_whose_account_refuses_the_role(tmp_path, aws, monkeypatch):
    """moto grants every AssumeRole; AWS refuses one the account's trust policy does not allow."""
    from datetime import datetime, timezone

    from labctl.aws.quotas import QuotaValue
    from labctl.aws.session import AwsAccessDenied
    from labctl.ops import preflight
    from labctl.spec.load import load_cohort

    real = accounts.assume_role

    def refuse_b(base, arn, session, duration_s=3600):  # type: ignore[no-untyped-def]
        if ":222222222222:" in arn:
            raise AwsAccessDenied("sts", "AssumeRole", "AccessDenied", "not authorized to perform sts:AssumeRole")
        return real(base, arn, session, duration_s)

    monkeypatch.setattr(accounts, "assume_role", refuse_b)
    monkeypatch.setattr(preflight.quotas, "quota_value", lambda *_: QuotaValue(1000.0, "test"))
    (tmp_path / "c.yaml").write_text(PER_TEAM_COHORT)
    checks = preflight.run_checks(load_cohort(tmp_path / "c.yaml"), aws, at=datetime(2026, 11, 30, tzinfo=timezone.utc))
    failed = [c for c in checks if c.status == preflight.FAIL]
    assert [c.name for c in failed] == ["accounts"]
    assert failed[0].message.startswith("team team-b: cannot assume arn:aws:iam::222222222222:role/OrganizationAccountAccessRole")
    assert "team-a" not in failed[0].message and "sts:AssumeRole" in failed[0].fix


def test_what_up_connects_with_is_recorded_so_down_and_the_reaper_reach_every_teams_account(tmp_path, monkeypatch):
    """`down`, the reaper, `status` and `collect` know a cohort only from what was recorded: a
    per-team cohort's accounts must be there, or they would walk only the facilitator's account."""
    import yaml

    from labctl.meta import CohortMeta
    from labctl.ops.target import ACCOUNTS_FILE, connect, connect_recorded
    from labctl.spec.load import load_cohort

    monkeypatch.delenv("AWS_PROFILE", raising=False)
    base = {"cohort": "acct26", "target": "aws", "lab": "gpu-baseline", "teams": [{"name": "team-a"}],
            "window": {"start": "2026-12-01T09:00:00Z", "duration": "4h"}}
    shared = tmp_path / "shared.yaml"
    shared.write_text(yaml.safe_dump(base))
    assert not connect(load_cohort(shared).cohort, tmp_path).accounts.per_team
    assert not (tmp_path / "cohorts" / "acct26" / ACCOUNTS_FILE).exists()

    per_team = tmp_path / "per-team.yaml"
    per_team.write_text(yaml.safe_dump({**base, "accounts": {"mode": "per-team", "role_name": "WorkshopAdmin",
                                                             "teams": {"team-a": "111111111111"}}}))
    connect(load_cohort(per_team).cohort, tmp_path)
    again = connect_recorded(CohortMeta(cohort="acct26", target="aws"), tmp_path)
    assert again.accounts.account_of("team-a") == "111111111111" and again.accounts.role_name == "WorkshopAdmin"
    assert again.cohort == "acct26"


def test_a_provisioned_team_cannot_move_to_another_account_and_nothing_is_recorded_then(tmp_path, monkeypatch):
    """Its resources stay where they were made: a cohort file that now puts the team elsewhere
    would make them twice and leave `down` looking in the wrong account."""
    import yaml

    from labctl.errors import RefusedError
    from labctl.ops.target import ACCOUNTS_FILE, connect
    from labctl.spec.load import load_cohort
    from labctl.state import StateDir

    monkeypatch.delenv("AWS_PROFILE", raising=False)
    base = {"cohort": "acct26", "target": "aws", "lab": "gpu-baseline", "teams": [{"name": "team-a"}, {"name": "team-b"}],
            "window": {"start": "2026-12-01T09:00:00Z", "duration": "4h"}}

    def cohort(**accounts):
        p = tmp_path / "c.yaml"
        p.write_text(yaml.safe_dump({**base, "accounts": accounts}))
        return load_cohort(p).cohort

    connect(cohort(mode="per-team", teams={"team-a": "111111111111", "team-b": "222222222222"}), tmp_path)
    record = StateDir(tmp_path).cohort("acct26").root / ACCOUNTS_FILE
    written = record.read_text()
    state = StateDir(tmp_path).cohort("acct26").team_dir("team-a") / "terraform.tfstate"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"version": 4, "resources": [{"mode": "managed", "type": "aws_vpc", "name": "this",
                                                               "instances": [{"attributes": {"id": "vpc-1"}}]}]}))
    for moved in ({"mode": "per-team", "teams": {"team-a": "333333333333", "team-b": "222222222222"}},
                  {"mode": "shared"}):
        with pytest.raises(RefusedError, match="team team-a has resources in account 111111111111, but the cohort "
                                               "file now puts it in (333333333333|the shared account)"):
            connect(cohort(**moved), tmp_path)
        assert record.read_text() == written
    # team-b has nothing yet: it may move
    connect(cohort(mode="per-team", teams={"team-a": "111111111111", "team-b": "444444444444"}), tmp_path)
    assert json.loads(record.read_text())["teams"]["team-b"] == "444444444444"


def test_a_teams_handout_names_its_own_account_and_the_role_there(tmp_path):
    from labctl.ops.handouts import write_handouts

    spec = tmp_path / "c.yaml"
    spec.write_text(PER_TEAM_COHORT.replace("cohort: acct26\n", "cohort: acct26\ntarget: aws\n"))
    root = tmp_path / "state" / "cohorts" / "acct26"
    root.mkdir(parents=True)
    (root / "meta.json").write_text(json.dumps({"cohort": "acct26", "target": "aws", "region": "us-east-1"}))
    for team, account in (("team-a", "111111111111"), ("team-b", "222222222222")):
        (root / "teams" / team).mkdir(parents=True)
        outputs = {"team_role_arn": {"value": f"arn:aws:iam::{account}:role/acct26-{team}-team"}}
        (root / "teams" / team / "terraform.tfstate").write_text(json.dumps({"outputs": outputs, "resources": [{}]}))
    write_handouts(spec, tmp_path / "state", tmp_path / "out")
    access = (tmp_path / "out" / "team-b" / "access.md").read_text()
    assert "Role: `arn:aws:iam::222222222222:role/acct26-team-b-team`" in access
    assert "Account: `222222222222`, your team's own" in access and "111111111111" not in access


def test_what_an_interrupted_apply_left_in_a_teams_account_is_found_and_removed_there(tmp_path, aws, targets):
    """A kill during `up` can leave a VPC that no state holds; the rerun must find it in the team's
    account (not the facilitator's) and delete it, or the team would get a second one."""
    from labctl.ops import resume
    from labctl.ops.common import prepare
    from labctl.ops.target import connect
    from labctl.spec.load import load_cohort

    spec = tmp_path / "c.yaml"
    spec.write_text(PER_TEAM_COHORT.replace("cohort: acct26\n", "cohort: acct26\ntarget: aws\n"))
    cohort = load_cohort(spec)
    ctx = prepare(tmp_path / "state", "acct26", connect(cohort.cohort, tmp_path / "state"))
    ec2 = targets["111111111111"].client("ec2")
    tags = [{"Key": "labctl:cohort", "Value": COHORT}, {"Key": "labctl:team", "Value": "team-a"}]
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}])["Vpc"]["VpcId"]

    done, refused = resume.reconcile_interrupted(ctx, cohort, ["team-a"])
    assert refused == {}
    assert [s.resource.id for s in done["team-a"].deletes] == [vpc]
    assert vpc not in {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}


def test_debrief_billed_reads_each_team_accounts_cost_explorer(tmp_path, aws, monkeypatch):
    """Per-team accounts: a team's bill is its account's, so `debrief --billed` asks each team
    account's Cost Explorer (moto answers what is queued; which account asked is recorded)."""
    from datetime import date

    from labctl.cost.model import BilledCost
    from labctl.meta import CohortMeta
    from labctl.ops import debrief
    from labctl.ops.target import ACCOUNTS_FILE
    from labctl.spec.models import Accounts
    from labctl.state import StateDir
    from tests.unit.report.synth import write_class

    names = write_class(tmp_path, "c1", 2)
    cs = StateDir(tmp_path).cohort("c1")
    cs.write_meta(CohortMeta.from_dict({**cs.meta().as_dict(), "target": "aws"}))
    mapping = dict(zip(names, ("111111111111", "222222222222"), strict=True))
    (cs.root / ACCOUNTS_FILE).write_text(Accounts(mode="per-team", teams=mapping).model_dump_json())
    asked = []

    def billed_costs(target, start, end, *, cohort=None):  # type: ignore[no-untyped-def]
        account = target.client("sts").get_caller_identity()["Account"]
        asked.append(account)
        team = next(t for t, a in mapping.items() if a == account)
        return [BilledCost(date(2026, 12, 1), date(2026, 12, 2), (("labctl:cohort", "c1"), ("labctl:team", team)),
                           "UnblendedCost", D("1.25"), "USD", False)]

    monkeypatch.setattr(debrief, "billed_costs", billed_costs)
    out = debrief.write_debrief(tmp_path, "c1", tmp_path / "out", billed=True)
    assert sorted(asked) == sorted(mapping.values())
    billed = json.loads((tmp_path / "out" / "debrief.json").read_text())["billed"]
    assert billed["included"] and D(billed["total_usd"]) == D("2.50"), billed
    assert out["summary"]["billed"]["included"]
