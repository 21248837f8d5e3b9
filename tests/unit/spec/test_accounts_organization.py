"""`accounts: {mode: per-team, organization: ...}`: teams without an account under accounts.teams
get one from an Organizations OU. Every bad value is one problem naming the file, line and field.
"""

from __future__ import annotations

import pytest

from tests.unit.spec.test_accounts import BASE, load, problems

ORG = BASE + """\
accounts:
  mode: per-team
  organization:
    parent_id: ou-ab12-cd34ef56
    email: "labs+{cohort}-{team}@example.com"
  teams:
    team-a: "111111111111"
"""
# Lines: 10 accounts, 11 mode, 12 organization, 13 parent_id, 14 email, 15 teams, 16 team-a.


def test_named_teams_keep_their_account_and_the_others_come_from_the_ou(tmp_path):
    accounts = load(tmp_path, ORG).cohort.accounts
    assert accounts.per_team and accounts.organization is not None
    assert accounts.organization.parent_id == "ou-ab12-cd34ef56"
    assert accounts.organization.email_of("fall26", "team-b") == "labs+fall26-team-b@example.com"
    assert accounts.account_of("team-a") == "111111111111"
    assert accounts.account_of("team-b") is None        # resolved at `up` (labctl.ops.target)


def test_the_organizations_root_is_a_parent_too(tmp_path):
    accounts = load(tmp_path, ORG.replace("ou-ab12-cd34ef56", "r-ab12")).cohort.accounts
    assert accounts.organization is not None and accounts.organization.parent_id == "r-ab12"


BAD = [
    ("an OU id of the wrong form", [("ou-ab12-cd34ef56", "ou-AB12")],
     "cohort.yaml:13: accounts.organization.parent_id: 'ou-AB12' is neither an organizational unit id"),
    ("an account id as parent", [("ou-ab12-cd34ef56", "'111111111111'")],
     "cohort.yaml:13: accounts.organization.parent_id: '111111111111' is neither"),
    ("a placeholder other than cohort/team", [("labs+{cohort}-{team}@", "labs+{team}-{region}@")],
     "cohort.yaml:14: accounts.organization.email: 'labs+{team}-{region}@example.com' uses {region}"),
    ("an attribute placeholder", [("labs+{cohort}-{team}@", "labs+{team.__class__}@")],
     "cohort.yaml:14: accounts.organization.email: 'labs+{team.__class__}@example.com' uses {team.__class__}"),
    ("no team placeholder", [("labs+{cohort}-{team}@", "labs+{cohort}@")],
     "cohort.yaml:14: accounts.organization.email: 'labs+{cohort}@example.com' has no {team}"),
    ("not an address", [("@example.com", ".example.com")],
     "cohort.yaml:14: accounts.organization.email: 'labs+{cohort}-{team}.example.com' does not make an email address"),
    ("an unclosed brace", [("labs+{cohort}-{team}@", "labs+{cohort-{team}@")],
     "cohort.yaml:14: accounts.organization.email: 'labs+{cohort-{team}@example.com' is not an email template"),
    ("an unknown key", [("    email:", "    mail: x\n    email:")],
     "cohort.yaml:14: accounts.organization.mail:"),
    ("organization in shared mode", [("  mode: per-team\n", "  mode: shared\n"), ("  teams:\n    team-a: \"111111111111\"\n", "")],
     "cohort.yaml:10: accounts: accounts.organization is read only with `mode: per-team`"),
    ("an address too long for one team", [("labs+{cohort}-{team}@example.com", "labs+{cohort}-{team}@" + "x" * 50 + ".com")],
     "cohort.yaml:8: teams[1].name: team 'team-b': its account's email would be"),
]


@pytest.mark.parametrize("what,changes,expected", BAD, ids=[b[0] for b in BAD])
def test_a_bad_organization_is_one_problem_at_its_line(tmp_path, what, changes, expected):
    text = ORG
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    found = problems(tmp_path, text)
    assert found and found[0].startswith(str(tmp_path / expected)), found
    assert len(found) == 1 or what.startswith("an address too long"), found     # team-c's is too long as well
