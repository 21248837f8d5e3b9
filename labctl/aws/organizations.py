"""AWS Organizations, for a cohort whose teams get their accounts from an OU: find, create and
move member accounts, typed.

Owns: :func:`find_accounts` (the ACTIVE accounts in a parent, or in the organization's root, with the
name or email labctl gives a team's account), :func:`create_account` (CreateAccount, then
DescribeCreateAccountStatus until it SUCCEEDED or FAILED, bounded), :func:`move_to` (MoveAccount
from wherever the account is into the OU). The facilitator's credentials must be the management
account's or a delegated administrator's. Accounts are never closed here: CloseAccount is limited
to 10% of an organization's accounts per 30 days and cannot be undone for 90 days.

botocore's errors become :class:`~labctl.errors.AwsError` subclasses here; a creation that FAILED
is :class:`AccountCreationFailed`, with Organizations' FailureReason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from labctl.aws.session import AwsTarget, aws_errors
from labctl.errors import AccountCreationFailed, AwsError  # noqa: F401 - AccountCreationFailed: raised here, its callers import it from here

ACTIVE = "ACTIVE"
# CreateAccount takes minutes on AWS (moto answers SUCCEEDED at once): poll every few seconds,
# give up after this long, naming the request so its outcome can still be looked up.
CREATE_TIMEOUT_S = 15 * 60
POLL_S = 5.0


@dataclass(frozen=True)
class OrgAccount:
    id: str
    name: str
    email: str
    status: str


def _account(raw: Mapping[str, Any]) -> OrgAccount:
    # Organizations now answers State beside the deprecated Status; either says ACTIVE.
    return OrgAccount(str(raw["Id"]), str(raw.get("Name", "")), str(raw.get("Email", "")),
                      str(raw.get("State") or raw.get("Status") or ""))


def accounts_in(target: AwsTarget, parent_id: str) -> list[OrgAccount]:
    """Every account directly under ``parent_id`` (an OU or the root)."""
    org = target.client("organizations")
    with aws_errors("organizations", "ListAccountsForParent", emulator=target.fake_credentials):
        pages = org.get_paginator("list_accounts_for_parent").paginate(ParentId=parent_id)
        return [_account(a) for page in pages for a in page.get("Accounts", [])]


def parent_of(target: AwsTarget, child_id: str) -> tuple[str, str]:
    """The (id, type) of ``child_id``'s parent: ``ROOT`` or ``ORGANIZATIONAL_UNIT``."""
    with aws_errors("organizations", "ListParents", emulator=target.fake_credentials):
        parents = target.client("organizations").list_parents(ChildId=child_id).get("Parents", [])
    if not parents:
        raise AwsError("organizations", "ListParents", "NoParent", f"{child_id} has no parent")
    return str(parents[0]["Id"]), str(parents[0]["Type"])


def root_of(target: AwsTarget, parent_id: str) -> str:
    """The organization's root above ``parent_id`` (itself when it is the root)."""
    node = parent_id
    for _ in range(8):          # Organizations nests OUs at most five deep under the root
        if node.startswith("r-"):
            return node
        node, kind = parent_of(target, node)
        if kind == "ROOT":
            return node
    raise AwsError("organizations", "ListParents", "TooDeep", f"no root found above {parent_id}")


def find_accounts(target: AwsTarget, parent_id: str, wanted: Mapping[str, tuple[str, str]]) -> dict[str, tuple[OrgAccount, str]]:
    """For each key of ``wanted`` (key -> (name, email)), the ACTIVE account with that name or email
    and the parent it is in: ``parent_id`` first, else the organization's root (where CreateAccount
    leaves an account until it is moved: a run that crashed in between). Emails compare without
    case, as Organizations does. Keys with no such account are left out."""
    if not wanted:
        return {}
    places = [(parent_id, accounts_in(target, parent_id))]
    root = root_of(target, parent_id)
    if root != parent_id:
        places.append((root, accounts_in(target, root)))
    found: dict[str, tuple[OrgAccount, str]] = {}
    for key, (name, email) in wanted.items():
        hit = next(((a, where) for where, accounts in places for a in accounts
                    if a.status == ACTIVE and (a.name == name or a.email.lower() == email.lower())), None)
        if hit is not None:
            found[key] = hit
    return found


def create_account(target: AwsTarget, email: str, name: str, role_name: str, tags: Mapping[str, str],
                   timeout_s: float | None = None, poll_s: float | None = None,
                   sleep: Callable[[float], None] = time.sleep) -> str:
    """CreateAccount, then wait until it SUCCEEDED; the new account's id. FAILED raises
    :class:`AccountCreationFailed` with the FailureReason; past ``timeout_s`` an
    :class:`AwsError` names the request id, whose outcome the next run finds by name/email."""
    org = target.client("organizations")
    with aws_errors("organizations", "CreateAccount", emulator=target.fake_credentials):
        status = org.create_account(Email=email, AccountName=name, RoleName=role_name,
                                    Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["CreateAccountStatus"]
    timeout_s = CREATE_TIMEOUT_S if timeout_s is None else timeout_s
    deadline = time.monotonic() + timeout_s
    while True:
        state = status.get("State")
        if state == "SUCCEEDED":
            return str(status["AccountId"])
        if state == "FAILED":
            raise AccountCreationFailed("organizations", "CreateAccount", str(status.get("FailureReason") or "FAILED"),
                                        f"request {status.get('Id')} ended FAILED")
        if time.monotonic() >= deadline:
            raise AwsError("organizations", "DescribeCreateAccountStatus", "Timeout",
                           f"account {name!r} was still {state} after {timeout_s:.0f} s (request {status.get('Id')})")
        sleep(POLL_S if poll_s is None else poll_s)
        status = describe_create_status(target, str(status["Id"]))


def describe_create_status(target: AwsTarget, request_id: str) -> Mapping[str, Any]:
    with aws_errors("organizations", "DescribeCreateAccountStatus", emulator=target.fake_credentials):
        answer = target.client("organizations").describe_create_account_status(CreateAccountRequestId=request_id)
    return dict(answer["CreateAccountStatus"])


def move_to(target: AwsTarget, account_id: str, source_id: str, parent_id: str) -> None:
    """MoveAccount from ``source_id`` into ``parent_id`` (nothing when it is there already)."""
    if source_id == parent_id:
        return
    with aws_errors("organizations", "MoveAccount", emulator=target.fake_credentials):
        target.client("organizations").move_account(AccountId=account_id, SourceParentId=source_id,
                                                    DestinationParentId=parent_id)
