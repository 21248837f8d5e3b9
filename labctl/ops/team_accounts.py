"""Each team's own account when the cohort's ``accounts.organization`` names an OU: which account a
team already has, which labctl finds in Organizations, which it creates (only `up` creates).

Order for a team (labctl.spec.models.Accounts): the cohort file's ``accounts.teams`` entry, else
what an earlier run recorded (labctl.ops.target's accounts.json: later commands ask Organizations
nothing), else the ACTIVE account named ``<cohort>-<team>`` or with the team's email in the OU
(or still in the root, where a run that crashed before MoveAccount left it), else, at `up`, a new
account (CreateAccount, tagged labctl:cohort/labctl:team, with the cohort's role) moved into the
OU. Anything less than `up` (preflight, `up --dry-run`, plan) creates and moves nothing and says
which accounts `up` would create or move.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from labctl.aws import organizations
from labctl.aws.session import AwsTarget
from labctl.errors import AccountsFailed, AwsError, EnvironmentProblem
from labctl.naming import TAG_COHORT, TAG_TEAM
from labctl.text import plural
from labctl.spec.models import Accounts, Organization, account_name

# CreateAccount requests in flight at once (Organizations runs only a few per organization).
MAX_CREATING = 4


@dataclass(frozen=True)
class Resolved:
    accounts: Accounts                                   # teams: every team that has an account now
    pending: dict[str, str] = field(default_factory=dict)   # team -> what `up` would do for it (one line)
    created: dict[str, str] = field(default_factory=dict)   # team -> account id made by this call


def resolve(cohort_id: str, teams: Sequence[str], wanted: Accounts, recorded: Accounts, aws: AwsTarget,
            create: bool) -> Resolved:
    """``wanted`` (the cohort file's accounts) with every team's account filled in where one exists
    or (``create``) was made. Failures name the team: one CreateAccount that FAILED stops here, after
    recording nothing for that team, and before any terraform runs."""
    org = wanted.organization
    if org is None or not wanted.per_team:
        return Resolved(wanted)
    known = dict(wanted.teams)
    for t in teams:
        if t not in known and t in recorded.teams:
            known[t] = recorded.teams[t]
    missing = [t for t in teams if t not in known]
    if not missing:
        return Resolved(wanted.model_copy(update={"teams": known}))
    found, pending, to_create = _look_up(cohort_id, missing, org, aws, create)
    known.update(found)
    created: dict[str, str] = {}
    failures: list[str] = []
    if to_create:
        created, failures = _create(cohort_id, to_create, wanted.role_name, org, aws)
        known.update(created)
    resolved = wanted.model_copy(update={"teams": known})
    if failures:
        raise AccountsFailed("; ".join(failures), Resolved(resolved, pending, created))
    return Resolved(resolved, pending, created)


def _look_up(cohort_id: str, missing: Sequence[str], org: Organization, aws: AwsTarget,
             create: bool) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(team -> account found and in the OU, team -> what a dry run would do, teams to create)."""
    wanted = {t: (account_name(cohort_id, t), org.email_of(cohort_id, t)) for t in missing}
    try:
        hits = organizations.find_accounts(aws, org.parent_id, wanted)
        for account, where in hits.values():
            if where != org.parent_id and create:
                organizations.move_to(aws, account.id, where, org.parent_id)
    except AwsError as exc:
        raise EnvironmentProblem(f"{plural(len(missing), 'team')} ({', '.join(missing)}) with no account yet: looking "
                                 f"in {org.parent_id} failed: {exc} (the facilitator's credentials must be the "
                                 "organization's management account's or a delegated administrator's)") from None
    found: dict[str, str] = {}
    pending: dict[str, str] = {}
    for team, (name, email) in wanted.items():
        account, where = hits.get(team, (None, org.parent_id))
        if account is not None and (create or where == org.parent_id):
            found[team] = account.id
        elif account is not None:
            pending[team] = f"would move account {account.id} ({name}) from {where} into {org.parent_id}"
        elif not create:
            pending[team] = f"would create account {name} ({email}) in {org.parent_id}"
    return found, pending, [t for t in missing if t not in hits] if create else []


def _create(cohort_id: str, teams: Sequence[str], role_name: str, org: Organization,
            aws: AwsTarget) -> tuple[dict[str, str], list[str]]:
    """Create and move each team's account; (team -> account id, one failure line per team)."""
    def one(team: str) -> tuple[str, str | None, str | None]:
        name, email = account_name(cohort_id, team), org.email_of(cohort_id, team)
        try:
            account = organizations.create_account(aws, email, name, role_name, {TAG_COHORT: cohort_id, TAG_TEAM: team})
            source, _ = organizations.parent_of(aws, account)
            organizations.move_to(aws, account, source, org.parent_id)
        except AwsError as exc:
            return team, None, f"team {team}: creating its account {name} ({email}) in {org.parent_id} failed: {exc}"
        return team, account, None

    with ThreadPoolExecutor(max_workers=min(MAX_CREATING, len(teams))) as pool:
        results = list(pool.map(one, teams))
    return ({t: a for t, a, _ in results if a is not None}, [why for _, _, why in results if why is not None])
