"""The cohort's `accounts:` section: shared by default, per-team with every team in an account of its own.

Every bad value is one problem naming the cohort file, the line and the field; the CLI turns it
into one line and a non-zero exit before anything is rendered or created.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from labctl.errors import ExitCode, SpecError
from labctl.spec.load import load_cohort

BASE = """\
cohort: fall26
window:
  start: 2026-12-01T09:00:00Z
  duration: 4h
lab: gpu-baseline
teams:
  - name: team-a
  - name: team-b
  - name: team-c
"""

PER_TEAM = BASE + """\
accounts:
  mode: per-team
  teams:
    team-a: "111111111111"
    team-b: "222222222222"
    team-c: "333333333333"
"""


def load(tmp_path: Path, text: str):
    p = tmp_path / "cohort.yaml"
    p.write_text(textwrap.dedent(text))
    return load_cohort(p)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SpecError) as err:
        load(tmp_path, text)
    assert err.value.exit_code == ExitCode.INVALID_SPEC
    return [str(p) for p in err.value.problems]


def test_without_the_section_every_team_shares_the_facilitators_account(tmp_path):
    accounts = load(tmp_path, BASE).cohort.accounts
    assert accounts.mode == "shared" and not accounts.per_team
    assert accounts.account_of("team-a") is None


def test_per_team_gives_each_team_its_account_and_the_default_role(tmp_path):
    accounts = load(tmp_path, PER_TEAM).cohort.accounts
    assert [accounts.account_of(t) for t in ("team-a", "team-b", "team-c")] == \
        ["111111111111", "222222222222", "333333333333"]
    assert accounts.role_name == "OrganizationAccountAccessRole"


def test_an_unquoted_twelve_digit_id_is_read_as_the_same_account(tmp_path):
    text = PER_TEAM.replace('team-b: "222222222222"', "team-b: 222222222222")
    assert load(tmp_path, text).cohort.accounts.account_of("team-b") == "222222222222"


BAD = [
    ("eleven digits", ('team-b: "222222222222"', 'team-b: "22222222222"'),
     "cohort.yaml:14: accounts.teams.team-b: '22222222222' is not a 12-digit AWS account id"),
    ("letters", ('team-b: "222222222222"', 'team-b: "2222-2222-222"'),
     "cohort.yaml:14: accounts.teams.team-b: '2222-2222-222' is not a 12-digit AWS account id"),
    ("a number too short", ('team-b: "222222222222"', "team-b: 12345678901"),
     "cohort.yaml:14: accounts.teams.team-b: 12345678901 is not a 12-digit AWS account id (write it in quotes"),
    ("two teams in one account", ('team-c: "333333333333"', 'team-c: "111111111111"'),
     "cohort.yaml:15: accounts.teams.team-c: account 111111111111 is already team-a's"),
    ("a team with no account", ('    team-c: "333333333333"\n', ""),
     "cohort.yaml:9: teams[2].name: team 'team-c' has no account"),
    ("an account for a team the cohort lacks", ('team-c: "333333333333"', 'team-c: "333333333333"\n    team-d: "444444444444"'),
     "cohort.yaml:16: accounts.teams.team-d: accounts.teams names team 'team-d', which is not in the cohort's teams"),
    ("a bad role name", ("  mode: per-team", "  mode: per-team\n  role_name: 'Org Access'"),
     "cohort.yaml:12: accounts.role_name: 'Org Access' is not an IAM role name"),
    ("an unknown mode", ("  mode: per-team", "  mode: per-account"), "cohort.yaml:11: accounts.mode:"),
    ("a mapping in shared mode", ("  mode: per-team", "  mode: shared"),
     "cohort.yaml:12: accounts.teams: accounts.teams is read only with `mode: per-team`"),
]


@pytest.mark.parametrize("what,change,expected", BAD, ids=[b[0] for b in BAD])
def test_a_bad_accounts_section_is_one_problem_at_its_line(tmp_path, what, change, expected):
    old, new = change
    assert old in PER_TEAM
    found = problems(tmp_path, PER_TEAM.replace(old, new))
    assert len(found) == 1, found
    assert found[0].startswith(str(tmp_path / expected)), found


def test_the_init_templates_accounts_example_validates_once_uncommented(tmp_path):
    from labctl.ops.scaffold import example_cohort

    text = example_cohort("gpu-baseline")
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("# accounts:"))
    for i in range(start, start + 3):
        lines[i] = lines[i][2:]
    cohort = load(tmp_path, "\n".join(lines) + "\n").cohort
    assert cohort.accounts.per_team and cohort.accounts.account_of("team-b") == "444455556666"
