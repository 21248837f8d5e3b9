"""A cohort that gives each team an AWS account of its own: the role labctl assumes in each, and
the inventory and sweep that walk every account.

Owns: :func:`assume_role`
(STS AssumeRole, typed: the result is an :class:`~labctl.aws.session.AwsTarget` whose clients act
in that account only, checked with GetCallerIdentity), and :func:`inventory_in` /
:func:`sweep_in`, which run :mod:`labctl.aws.inventory` and :mod:`labctl.aws.sweep` once per
account and put the results together. Each resource found remembers its account
(``Resource.account``), so its deletion goes to the account that holds it.

A cohort in one account (``shared``, the default) is the same code with one target keyed
:data:`SHARED`: what it finds and deletes is exactly what the single-account functions do.

Terraform does not use these credentials: each team's provider assumes the same role itself
(terraform/root/main.tf), so temporary credentials never reach a file or another team's process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime

from labctl.aws.identity import caller_identity
from labctl.aws.inventory import Inventory, Resource, inventory
from labctl.aws.session import AwsAccessDenied, AwsTarget, Credentials, aws_errors
from labctl.aws.sweep import Action, SweepResult, execute_sweep
from labctl.spec.accounts import role_arn, session_name  # noqa: F401 - the aws side of the same names

SHARED = ""            # the key of the one account a shared cohort lives in
# Accounts walked at once: each walk is a few dozen sequential API calls, mostly waiting.
MAX_PARALLEL = 8


@dataclass(frozen=True)
class AssumedRole:
    account_id: str
    role_arn: str
    target: AwsTarget                 # clients with the role's credentials, in ``account_id``
    expires_at: datetime | None


def assume_role(base: AwsTarget, arn: str, session: str, duration_s: int = 3600) -> AssumedRole:
    """Assume ``arn`` with ``base``'s credentials; the returned target acts as that role.

    Refused (AwsAccessDenied) when the credentials it gets reach another account than the one the
    ARN names: everything labctl then creates or deletes would land in the wrong account."""
    account = arn.split(":")[4]
    with aws_errors("sts", "AssumeRole", emulator=base.fake_credentials):
        answer = base.client("sts").assume_role(RoleArn=arn, RoleSessionName=session, DurationSeconds=duration_s)
    c = answer["Credentials"]
    target = replace(base, credentials=Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]),
                     _clients={})
    reached = caller_identity(target).account
    if reached != account:
        raise AwsAccessDenied("sts", "AssumeRole", "WrongAccount",
                              f"assuming {arn} gave credentials for account {reached}, not {account}")
    return AssumedRole(account, arn, target, c.get("Expiration"))


def team_targets(base: AwsTarget, accounts: Mapping[str, str], role_name: str, session: str) -> dict[str, AwsTarget]:
    """One target per team account (``accounts``: team -> account id), keyed by account id."""
    ids = sorted(set(accounts.values()))
    arns = [role_arn(a, role_name, base.region) for a in ids]
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, max(1, len(ids)))) as pool:
        roles = list(pool.map(lambda arn: assume_role(base, arn, session), arns))
    return {r.account_id: r.target for r in roles}


def inventory_in(targets: Mapping[str, AwsTarget], cohort: str, team: str | None = None) -> Inventory:
    """:func:`~labctl.aws.inventory.inventory` in every account, as one inventory; each resource
    names its account (None for :data:`SHARED`). What one account could not read says which."""
    keys = sorted(targets)
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, max(1, len(keys)))) as pool:
        found = list(pool.map(lambda k: inventory(targets[k], cohort, team), keys))
    if keys == [SHARED]:
        return found[0]
    resources, pending, unreadable = [], [], []
    for key, inv in zip(keys, found, strict=True):
        resources += [replace(r, account=key) for r in inv.resources]
        pending += [replace(r, account=key) for r in inv.pending_deletion]
        unreadable += [f"{key}: {u}" for u in inv.unreadable]
    return Inventory(cohort=cohort, resources=tuple(sorted(resources, key=_order)), unreadable=tuple(unreadable),
                     pending_deletion=tuple(sorted(pending, key=_order)))


def _order(r: Resource) -> tuple[str, str, str]:
    return (r.type, r.team or "", r.id)


def sweep_in(targets: Mapping[str, AwsTarget], actions: Sequence[Action], dry_run: bool) -> SweepResult:
    """:func:`~labctl.aws.sweep.execute_sweep` per account: each action in the account its
    resource was found in (``Resource.account``; None: :data:`SHARED`)."""
    by_account: dict[str, list[Action]] = {}
    for a in actions:
        key = a.resource.account or SHARED
        if key not in targets:
            raise KeyError(f"{a.resource.describe()} was found in account {key}, which this cohort does not use")
        by_account.setdefault(key, []).append(a)
    keys = sorted(by_account)
    if not keys:
        return SweepResult(dry_run=dry_run)
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(keys))) as pool:
        results = list(pool.map(lambda k: execute_sweep(targets[k], by_account[k], dry_run), keys))
    return SweepResult(dry_run=dry_run, outcomes=tuple(o for r in results for o in r.outcomes))
