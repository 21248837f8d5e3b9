"""The cohort's ``accounts:`` section checked against its teams; pure.

The model (labctl.spec.models.Accounts) checks each value's form: a 12-digit account id, an IAM
role name. What needs the whole file is here, each problem at the line of the value involved: in
per-team mode every team has an account (or ``accounts.organization`` will make it one, with an
email Organizations takes), no account is named for a team the cohort lacks, and no two teams
share one (a shared account would undo the isolation the mode exists for). Also the
role ARN and session name both Terraform (render) and the AWS SDK side (labctl.aws.accounts) use.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from labctl.spec.models import EMAIL, EMAIL_PLACEHOLDERS, email_template_fields
from labctl.spec.yamlsrc import PathKey

At = Callable[[PathKey, str], None]
_SESSION_NAME = re.compile(r"[^\w+=,.@-]")
MAX_EMAIL = 64              # Organizations CreateAccount: Email 6-64 characters


def partition(region: str) -> str:
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


def role_arn(account_id: str, role_name: str, region: str = "us-east-1") -> str:
    """The role labctl assumes in a team's account, e.g. its OrganizationAccountAccessRole."""
    return f"arn:{partition(region)}:iam::{account_id}:role/{role_name}"


def session_name(cohort: str) -> str:
    """RoleSessionName (2-64 of [\\w+=,.@-]): who assumed the role shows in the account's CloudTrail."""
    return _SESSION_NAME.sub("-", f"labctl-{cohort}")[:64]


def _as_id(value: Any) -> str | None:
    """The account id as the model reads it (an unquoted number included), None when malformed:
    the model reports that one."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and len(value) == 12 and value.isdigit() else None


def check(data: dict[str, Any], at: At) -> None:
    """Report, through ``at(path, message)``, what is wrong between ``accounts`` and ``teams``."""
    accounts = data.get("accounts")
    if not isinstance(accounts, dict):
        return
    mapping = accounts.get("teams")
    mapping = mapping if isinstance(mapping, dict) else {}
    if accounts.get("mode", "shared") != "per-team":
        if mapping and accounts.get("mode", "shared") == "shared":
            at(("accounts", "teams"), "accounts.teams is read only with `mode: per-team`; in shared mode every "
                                      "team lives in the facilitator's account")
        return
    raw_teams = data.get("teams") if isinstance(data.get("teams"), list) else []
    names = [t.get("name") for t in raw_teams if isinstance(t, dict) and isinstance(t.get("name"), str)]
    organization = accounts.get("organization")
    for i, team in enumerate(raw_teams):
        name = team.get("name") if isinstance(team, dict) else None
        if not isinstance(name, str) or name in mapping:
            continue
        if organization is None:
            at(("teams", i, "name"), f"team {name!r} has no account: with `accounts: {{mode: per-team}}` every "
                                     "team needs one under accounts.teams, or accounts.organization to make them")
        elif isinstance(organization, dict):
            _check_created(data.get("cohort"), name, organization, lambda msg, i=i: at(("teams", i, "name"), msg))
    first: dict[str, str] = {}
    for team, value in mapping.items():
        if team not in names:
            at(("accounts", "teams", team), f"accounts.teams names team {team!r}, which is not in the cohort's teams")
        account = _as_id(value)
        if account is None:
            continue
        if account in first:
            at(("accounts", "teams", team), f"account {account} is already {first[account]}'s: per-team mode "
                                            "gives each team an account of its own")
        first.setdefault(account, str(team))


def _check_created(cohort: Any, team: str, organization: dict[str, Any], at: Callable[[str], None]) -> None:
    """The Email Organizations would be given for this team fits its limits (an address of at most
    64 characters). A template the model refuses (bad placeholder, no address) is reported there,
    once. AccountName (``<cohort>-<team>``, at most 50) always fits: both ids are at most 20."""
    if not isinstance(cohort, str):
        return
    template = organization.get("email")
    try:
        fields = email_template_fields(template) if isinstance(template, str) else None
    except ValueError:
        return
    if fields is None or any(f not in EMAIL_PLACEHOLDERS for f in fields) or \
            not re.fullmatch(EMAIL, str(template).format(cohort="c", team="t")):
        return
    email = str(template).format(cohort=cohort, team=team)
    if len(email) > MAX_EMAIL or not re.fullmatch(EMAIL, email):
        at(f"team {team!r}: its account's email would be {email!r}, which Organizations refuses "
           f"(an address of 6-{MAX_EMAIL} characters): change accounts.organization.email")
