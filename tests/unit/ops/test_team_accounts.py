"""`accounts: {mode: per-team, organization: ...}` against moto's Organizations (in-process): `up`'s
connection makes one account per team without one, moves it into the OU and records it; a rerun, a
second state directory and a run that crashed before MoveAccount reuse it; dry runs and preflight
make nothing and say what `up` would; a FAILED creation is one line naming the team and the reason.
"""

from __future__ import annotations

import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from labctl.errors import LabctlError, RefusedError
from labctl.render.terraform import tfvars
from labctl.spec.load import load_cohort

COHORT = "org26"
TEAMS = ("team-a", "team-b", "team-c")


@pytest.fixture
def org(aws):
    """An organization whose management account is the caller's, with an OU for the labs."""
    client = aws.client("organizations")
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    ou = client.create_organizational_unit(ParentId=root, Name="labs")["OrganizationalUnit"]["Id"]
    return client, root, ou


def spec(tmp_path: Path, ou: str, mapped: str = "") -> Path:
    p = tmp_path / "cohort.yaml"
    p.write_text(textwrap.dedent(f"""\
        cohort: {COHORT}
        target: aws
        window: {{start: 2030-12-01T09:00:00Z, duration: 4h}}
        lab: gpu-baseline
        teams: [{{name: team-a}}, {{name: team-b}}, {{name: team-c}}]
        accounts:
          mode: per-team
          organization: {{parent_id: {ou}, email: "labs+{{cohort}}-{{team}}@example.com"}}
        """) + (f"  teams: {{team-a: \"{mapped}\"}}\n" if mapped else ""))
    return p


def connect_for(path: Path, state: Path, create: bool):
    from labctl.ops.target import connect

    return connect(load_cohort(path).cohort, state, create_accounts=create)


def accounts_in(client, parent: str) -> dict[str, dict]:
    return {a["Name"]: a for a in client.list_accounts_for_parent(ParentId=parent)["Accounts"]}


def all_accounts(client) -> list[str]:
    return sorted(a["Id"] for a in client.list_accounts()["Accounts"])


def test_up_creates_one_account_per_team_in_the_ou_tagged_and_renders_its_role(tmp_path, org):
    client, root, ou = org
    conn = connect_for(spec(tmp_path, ou), tmp_path / "state", create=True)
    in_ou = accounts_in(client, ou)
    assert sorted(in_ou) == [f"{COHORT}-{t}" for t in TEAMS]
    assert {in_ou[f"{COHORT}-{t}"]["Email"] for t in TEAMS} == {f"labs+{COHORT}-{t}@example.com" for t in TEAMS}
    ids = {t: in_ou[f"{COHORT}-{t}"]["Id"] for t in TEAMS}
    assert {t: conn.accounts.account_of(t) for t in TEAMS} == ids and not conn.accounts_pending
    assert not set(ids.values()) & {a["Id"] for a in client.list_accounts_for_parent(ParentId=root)["Accounts"]}
    tags = {t["Key"]: t["Value"] for t in client.list_tags_for_resource(ResourceId=ids["team-b"])["Tags"]}
    assert tags == {"labctl:cohort": COHORT, "labctl:team": "team-b"}
    # Every root rendered through this connection assumes the role in the team's new account.
    cohort = load_cohort(tmp_path / "cohort.yaml")
    rendered = tfvars(cohort, cohort.team("team-c"), conn.provider)["team_account"]
    assert rendered["id"] == ids["team-c"]
    assert rendered["role_arn"] == f"arn:aws:iam::{ids['team-c']}:role/OrganizationAccountAccessRole"
    # Later commands read the record: no Organizations call (a cohort rebuilt from meta resolves the same).
    from labctl.ops.target import recorded_accounts, with_recorded_accounts

    assert recorded_accounts(tmp_path / "state", COHORT).teams == ids
    # Readers that take the cohort file and no connection (handouts) see the same accounts.
    read = with_recorded_accounts(load_cohort(tmp_path / "cohort.yaml"), tmp_path / "state").cohort.accounts
    assert {t: read.account_of(t) for t in TEAMS} == ids


def test_a_rerun_and_a_second_state_directory_reuse_the_accounts_and_create_none(tmp_path, org, monkeypatch):
    from labctl.aws import organizations

    client, _, ou = org
    path = spec(tmp_path, ou)
    first = connect_for(path, tmp_path / "a", create=True).accounts.teams
    before = all_accounts(client)
    # The same state directory asks Organizations nothing: its record answers.
    calls: list[str] = []
    real = organizations.find_accounts
    monkeypatch.setattr(organizations, "find_accounts", lambda *a, **k: calls.append("find") or real(*a, **k))
    assert connect_for(path, tmp_path / "a", create=True).accounts.teams == first
    assert calls == []
    # A second state directory finds each team's account in the OU by its name and email.
    assert connect_for(path, tmp_path / "b", create=True).accounts.teams == first
    assert calls == ["find"]
    assert all_accounts(client) == before


def test_a_team_named_under_accounts_teams_keeps_that_account_and_gets_none_made(tmp_path, org):
    client, _, ou = org
    conn = connect_for(spec(tmp_path, ou, mapped="111111111111"), tmp_path / "state", create=True)
    assert conn.accounts.account_of("team-a") == "111111111111"
    assert sorted(accounts_in(client, ou)) == [f"{COHORT}-team-b", f"{COHORT}-team-c"]


def test_an_account_a_crashed_run_left_in_the_root_is_moved_not_made_again(tmp_path, org):
    client, root, ou = org
    left = client.create_account(Email=f"labs+{COHORT}-team-b@example.com", AccountName=f"{COHORT}-team-b")
    left_id = left["CreateAccountStatus"]["AccountId"]
    conn = connect_for(spec(tmp_path, ou), tmp_path / "state", create=True)
    assert conn.accounts.account_of("team-b") == left_id
    assert accounts_in(client, ou)[f"{COHORT}-team-b"]["Id"] == left_id
    assert left_id not in {a["Id"] for a in client.list_accounts_for_parent(ParentId=root)["Accounts"]}
    assert len(accounts_in(client, ou)) == 3


def test_dry_runs_create_nothing_and_say_which_accounts_up_would_create(tmp_path, org):
    from labctl.ops.preflight import preflight
    from labctl.ops.up import up

    client, root, ou = org
    path = spec(tmp_path, ou)
    before = all_accounts(client)
    conn = connect_for(path, tmp_path / "state", create=False)
    assert conn.accounts_pending == {t: f"would create account {COHORT}-{t} (labs+{COHORT}-{t}@example.com) in {ou}"
                                     for t in TEAMS}
    # Rendering such a team for terraform is refused: it would otherwise land in the facilitator's account.
    cohort = load_cohort(path)
    with pytest.raises(RefusedError, match=f"team team-a has no account yet: `labctl up` creates it in {ou}"):
        tfvars(cohort, cohort.team("team-a"), conn.provider)
    report = up(path, tmp_path / "state", dry_run=True, quiet=True)
    assert [(t.team, t.status, t.planned) for t in report.teams] == [
        (t, "would-create-account", [conn.accounts_pending[t]]) for t in TEAMS]
    checks = {c.name: c for c in preflight(path, tmp_path / "state", aws=conn.aws(),
                                           at=datetime(2030, 11, 30, tzinfo=timezone.utc)).checks}
    assert checks["accounts:organization"].status == "pass"
    assert f"team team-b: would create account {COHORT}-team-b" in checks["accounts:organization"].message
    assert all_accounts(client) == before
    # An account a crashed run left in the root is reported as to be moved, and stays where it is.
    left = client.create_account(Email="x@example.com", AccountName=f"{COHORT}-team-c")["CreateAccountStatus"]["AccountId"]
    again = connect_for(path, tmp_path / "state", create=False)
    assert again.accounts_pending["team-c"] == f"would move account {left} ({COHORT}-team-c) from {root} into {ou}"
    assert left in {a["Id"] for a in client.list_accounts_for_parent(ParentId=root)["Accounts"]}


def test_team_plan_refuses_a_team_whose_account_up_has_not_made_yet(tmp_path, org):
    """Rendered without an account, its plan would run in the facilitator's account."""
    from click.testing import CliRunner

    from labctl.cli.main import _register, cli

    client, _, ou = org
    _register()
    res = CliRunner().invoke(cli, ["--state-dir", str(tmp_path / "s"), "team", "plan", "team-b", "--cohort", str(spec(tmp_path, ou))])
    assert res.exit_code == 9, res.output
    assert "team team-b has no account yet: `labctl" in res.output and f"up` creates it in {ou}" in res.output
    assert accounts_in(client, ou) == {}


def test_a_failed_creation_is_one_line_naming_the_team_and_the_reason(tmp_path, org, monkeypatch):
    from click.testing import CliRunner
    from moto.organizations.models import OrganizationsBackend

    from labctl.aws import organizations
    from labctl.cli.main import _register, cli
    from labctl.ops.target import recorded_accounts

    client, _, ou = org
    real_create, real_status = OrganizationsBackend.create_account, OrganizationsBackend.describe_create_account_status

    def create(self, **kw):      # Organizations refuses team-b's address after a while, as AWS does
        if kw["AccountName"].endswith("team-b"):
            return {"CreateAccountStatus": {"Id": "car-teambfailed0", "AccountName": kw["AccountName"], "State": "IN_PROGRESS"}}
        return real_create(self, **kw)

    def status(self, **kw):
        if kw["CreateAccountRequestId"] == "car-teambfailed0":
            return {"CreateAccountStatus": {"Id": "car-teambfailed0", "State": "FAILED", "FailureReason": "EMAIL_ALREADY_EXISTS"}}
        return real_status(self, **kw)

    monkeypatch.setattr(OrganizationsBackend, "create_account", create)
    monkeypatch.setattr(OrganizationsBackend, "describe_create_account_status", status)
    monkeypatch.setattr(organizations, "POLL_S", 0.01)
    path, state = spec(tmp_path, ou), tmp_path / "state"
    _register()
    result = CliRunner().invoke(cli, ["--state-dir", str(state), "up", str(path)])
    assert result.exit_code != 0
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert (f"team team-b: creating its account {COHORT}-team-b (labs+{COHORT}-team-b@example.com) in {ou} failed: "
            "organizations CreateAccount: EMAIL_ALREADY_EXISTS") in lines[0]
    # No team was rendered or applied; the accounts made for the others are recorded, and a rerun reuses them.
    cs = state / "cohorts" / COHORT
    assert not (cs / "teams").exists() and not (cs / "meta.json").exists()
    made = recorded_accounts(state, COHORT).teams
    assert sorted(made) == ["team-a", "team-c"] and sorted(accounts_in(client, ou)) == [f"{COHORT}-team-a", f"{COHORT}-team-c"]


def test_create_account_polls_until_succeeded_and_gives_up_in_bounded_time(aws, monkeypatch):
    from labctl.aws import organizations

    states = iter([{"Id": "car-1", "State": "IN_PROGRESS"}, {"Id": "car-1", "State": "SUCCEEDED", "AccountId": "123456789013"}])
    monkeypatch.setattr(organizations, "describe_create_status", lambda target, rid: next(states))
    client = aws.client("organizations")
    client.create_organization(FeatureSet="ALL")
    slept: list[float] = []
    real = client.create_account
    monkeypatch.setattr(client, "create_account", lambda **kw: real(**kw) and {"CreateAccountStatus": {"Id": "car-1", "State": "IN_PROGRESS"}})
    assert organizations.create_account(aws, "a@example.com", "x-a", "R", {}, poll_s=0.5, sleep=slept.append) == "123456789013"
    assert slept == [0.5, 0.5]
    monkeypatch.setattr(organizations, "describe_create_status", lambda target, rid: {"Id": "car-1", "State": "IN_PROGRESS"})
    with pytest.raises(LabctlError, match=r"account 'x-b' was still IN_PROGRESS after 0 s \(request car-1\)"):
        organizations.create_account(aws, "b@example.com", "x-b", "R", {}, timeout_s=0, sleep=slept.append)
