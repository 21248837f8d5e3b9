"""Where a cohort's resources live: endpoints and credentials per target.

One code path for all targets: the embedded emulator, LocalStack and AWS differ only here.
Emulator and LocalStack runs always get fake credentials and loopback (or configured) endpoints;
a user's real AWS credentials are passed to terraform only for target ``aws``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from labctl.aws import accounts, emulator
from labctl.aws.session import AwsTarget
from labctl.errors import EmulatorError, NotFoundError, RefusedError
from labctl.meta import CohortMeta
from labctl.ops import team_accounts
from labctl.render.terraform import ProviderSettings
from labctl.spec.load import ResolvedCohort
from labctl.spec.models import Accounts, Cohort
from labctl.state import CohortState, StateDir, write_atomic

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
LOCALSTACK_DEFAULT = "http://localhost:4566"
_REAL_AWS_VARS = ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                  "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")


@dataclass(frozen=True)
class Connection:
    target: str
    region: str
    endpoint_url: str | None
    provider: ProviderSettings
    env: dict[str, str] = field(default_factory=dict)      # for terraform
    emulator_boot_id: str | None = None
    accounts: Accounts = Accounts()                         # shared, or each team's own account
    cohort: str = ""
    # accounts.organization: what `up` would create or move for teams that have no account yet.
    accounts_pending: dict[str, str] = field(default_factory=dict)

    def aws(self) -> AwsTarget:
        """The AWS SDK side of the same target (fake credentials unless target is aws)."""
        return AwsTarget(kind=self.target, region=self.region, endpoint_url=self.endpoint_url,  # type: ignore[arg-type]
                         profile=self.env.get("AWS_PROFILE"))

    def aws_accounts(self) -> dict[str, AwsTarget]:
        """Every account the cohort's resources live in, each as a target that acts there: the
        one above (key ``accounts.SHARED``), or per team the role assumed in its account."""
        if not self.accounts.per_team:
            return {accounts.SHARED: self.aws()}
        return accounts.team_targets(self.aws(), self.accounts.teams, self.accounts.role_name,
                                     accounts.session_name(self.cohort))

    def team_aws(self, team: str) -> AwsTarget:
        """The target that acts where ``team``'s resources are: its own account's role (per-team),
        else :meth:`aws`."""
        account = self.accounts.account_of(team)
        if account is None:
            return self.aws()
        arn = accounts.role_arn(account, self.accounts.role_name, self.region)
        return accounts.assume_role(self.aws(), arn, accounts.session_name(self.cohort)).target


ACCOUNTS_FILE = "accounts.json"


def _accounts(cohort: Cohort, state_dir: Path, aws: AwsTarget, create: bool) -> team_accounts.Resolved:
    """The cohort file's accounts, recorded beside its state when per-team, so that `down`, the
    reaper and `status` (which read only what `up` recorded) find every team's account. With
    ``accounts.organization``, teams the file names no account for get theirs from the OU
    (labctl.ops.team_accounts; created only when ``create``, i.e. by `up`).

    A provisioned team cannot move: its resources stay in the account they were made in, and a
    file that now puts it elsewhere (or in the shared account) would make it twice and lose track
    of the first. That is refused, naming the team and both accounts."""
    cs = StateDir(state_dir).cohort(cohort.cohort)
    before = recorded_accounts(state_dir, cohort.cohort)
    try:
        resolved = team_accounts.resolve(cohort.cohort, [t.name for t in cohort.teams], cohort.accounts, before, aws, create)
    except team_accounts.AccountsFailed as exc:
        if exc.partial.created:     # made before another team's failed: a rerun reuses them
            _record(cs, exc.partial.accounts)
        raise
    accounts = resolved.accounts
    moved = [f"team {t} has resources in account {before.account_of(t)}, but the cohort file now puts it in "
             f"{accounts.account_of(t) or 'the shared account'}"
             for t in sorted(before.teams) if before.account_of(t) != accounts.account_of(t) and cs.has_resources(t)]
    if moved:
        raise RefusedError("; ".join(moved) + ": a team's resources cannot move between accounts; put its account "
                           f"back, or tear the team down first (`labctl down {cohort.cohort} --teams ...`)")
    if accounts.per_team:
        _record(cs, accounts)
    elif (cs.root / ACCOUNTS_FILE).exists():
        (cs.root / ACCOUNTS_FILE).unlink()         # nothing is left in the per-team accounts (checked above)
    return resolved


def _record(cs: CohortState, accounts: Accounts) -> None:
    cs.root.mkdir(parents=True, exist_ok=True)
    write_atomic(cs.root / ACCOUNTS_FILE, accounts.model_dump_json(indent=2) + "\n")


def recorded_accounts(state_dir: Path, cohort_id: str) -> Accounts:
    """Where a provisioned cohort's teams live, as `up` recorded it (shared when nothing was)."""
    record = StateDir(state_dir).cohort(cohort_id).root / ACCOUNTS_FILE
    return Accounts.model_validate_json(record.read_text()) if record.is_file() else Accounts()


def with_recorded_accounts(cohort: ResolvedCohort, state_dir: Path) -> ResolvedCohort:
    """``cohort`` with the accounts `up` made or found for the teams its file names none for
    (accounts.organization), for readers that take the cohort file and no connection (handouts)."""
    acc = cohort.cohort.accounts
    if acc.organization is None:
        return cohort
    recorded = recorded_accounts(state_dir, cohort.id).teams
    teams = {**{t: a for t, a in recorded.items() if t in {s.name for s in cohort.teams}}, **acc.teams}
    return replace(cohort, cohort=cohort.cohort.model_copy(update={"accounts": acc.model_copy(update={"teams": teams})}))


def provider_settings(target: str) -> ProviderSettings:
    if target == "aws":
        return ProviderSettings(emulator=False, max_retries=25)
    return ProviderSettings(emulator=True, max_retries=3)


def _emulated_env(region: str, endpoint_url: str) -> dict[str, str]:
    """terraform's environment for the emulator and LocalStack: fake credentials, and every
    service's endpoint (the aws provider and its SDK read AWS_ENDPOINT_URL)."""
    return {**FAKE_CREDENTIALS, "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": endpoint_url}


def connect(cohort: Cohort, state_dir: Path, start_emulator: bool = True,
            emulator_url: str | None = None, emulator_boot_id: str | None = None, recorded: bool = False,
            create_accounts: bool = False) -> Connection:
    """Resolve the cohort's target; for ``embedded`` find (or start) the background emulator.
    ``create_accounts`` (`up` only): teams of an ``accounts.organization`` cohort that have no
    account get one made now; otherwise :attr:`Connection.accounts_pending` says what would be."""
    conn = _connect(cohort, state_dir, start_emulator, emulator_url, emulator_boot_id)
    # A cohort rebuilt from what `up` recorded (connect_recorded) takes the recorded accounts.
    if recorded:
        resolved = team_accounts.Resolved(recorded_accounts(state_dir, cohort.cohort))
    else:
        resolved = _accounts(cohort, state_dir, conn.aws(), create_accounts)
    accounts = resolved.accounts
    # Every root rendered through this connection takes the resolved accounts (render.terraform).
    provider = replace(conn.provider, accounts=accounts) if accounts.per_team else conn.provider
    return replace(conn, accounts=accounts, cohort=cohort.cohort, provider=provider, accounts_pending=resolved.pending)


def _connect(cohort: Cohort, state_dir: Path, start_emulator: bool,
             emulator_url: str | None, emulator_boot_id: str | None) -> Connection:
    if cohort.target == "embedded":
        if emulator_url is None:
            info = emulator.running(state_dir)
            if info is None:
                if not start_emulator:
                    raise EmulatorError(
                        "the embedded emulator is not running; start it with `labctl emulator start`")
                info, _ = emulator.start_background(state_dir)
            emulator_url, emulator_boot_id = info.url, info.boot_id
        return Connection("embedded", cohort.region, emulator_url, provider_settings("embedded"),
                          _emulated_env(cohort.region, emulator_url), emulator_boot_id)
    if cohort.target == "localstack":
        url = cohort.endpoints.url or os.environ.get("LOCALSTACK_ENDPOINT") or LOCALSTACK_DEFAULT
        return Connection("localstack", cohort.region, url, provider_settings("localstack"),
                          _emulated_env(cohort.region, url))
    env = {k: os.environ[k] for k in _REAL_AWS_VARS if k in os.environ}
    if cohort.aws_profile:
        env = {"AWS_PROFILE": cohort.aws_profile}
    env.update({"AWS_REGION": cohort.region, "AWS_DEFAULT_REGION": cohort.region})
    return Connection("aws", cohort.region, None, provider_settings("aws"), env)


def connect_recorded(meta: CohortMeta, state_dir: Path, start_emulator: bool = True) -> Connection:
    """Reconnect to a provisioned cohort from what `up` recorded (no cohort file or lab needed)."""
    if meta.cohort is None:
        raise NotFoundError("the cohort's meta.json names no cohort: it was not written by `up`")
    fake = Cohort.model_construct(
        cohort=meta.cohort, target=meta.target, region=meta.region,
        endpoints=type("E", (), {"url": meta.localstack_endpoint})(), aws_profile=meta.aws_profile)
    return connect(fake, state_dir, start_emulator=start_emulator, recorded=True)
