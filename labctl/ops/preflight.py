"""`labctl preflight`: before class, check what would otherwise fail in front of the room.

Checks, each ``pass``, ``warn``, ``fail`` or ``skip`` with what to do:

- ``window``: not over, not already started, at most 12 hours, at least one hour;
- ``credentials``: the target answers (STS GetCallerIdentity) with the credentials labctl will use;
- ``offerings``: every instance type the cohort uses is offered in the region and in >= 2 AZs
  (EC2 DescribeInstanceTypeOfferings; EKS wants subnets in two zones); types the lab allows but
  the region lacks are a warning (a team choosing them would fail);
- ``quota:*``: EC2 vCPU quotas (Service Quotas) for G/VT and P instances, on-demand and spot,
  and standard on-demand for system nodes, against the cohort's maximum (every team at max size)
  - fail below that; warn below what the teams could reach within the lab's limits (spot GPU
  quotas are 0 by default in new accounts, and a team switching to spot mid-class would stall);
- ``budget``: team budgets and the cohort's estimate (max size x hours x catalog price, plus the
  EKS fee) against ``facilitator_cap_usd``.

The emulator has no EC2 quotas (moto's Service Quotas implements only the ``vpc`` service), so
quota checks are ``skip`` there; tests stub the real API's answers with the AWS SDK's Stubber.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from labctl.aws import accounts, ec2, identity, quotas
from labctl.aws.session import AwsError, AwsTarget
from labctl.errors import LabctlError
from labctl.cost.catalog import ON_DEMAND, SPOT, Catalog, load_catalog
from labctl.cost.money import fmt_usd
from labctl.ops import team_accounts
from labctl.ops.estimates import short_address, spec_estimate
from labctl.spec.load import ResolvedCohort, load_cohort
from labctl.spec.models import Accounts
from labctl.spec.offerings import type_info
from labctl.text import plural
from labctl.state import CohortState, now
from labctl.ops.target import connect

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
MAX_WINDOW = timedelta(hours=12)
MIN_WINDOW = timedelta(hours=1)

# EC2 vCPU quotas by instance class and market (Service Quotas, service code "ec2"); verified
# against AWS's quota names: L-DB2E81BA "Running On-Demand G and VT instances", L-3819A6DF "All G
# and VT Spot Instance Requests", L-417A185B "Running On-Demand P instances", L-7212CCBC "All P
# Spot Instance Requests", L-1216C47A "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z)
# instances", L-34B43A08 "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests".
QUOTA_CODES: dict[tuple[str, str], tuple[str, str]] = {
    ("G", ON_DEMAND): ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    ("G", SPOT): ("L-3819A6DF", "All G and VT Spot Instance Requests"),
    ("P", ON_DEMAND): ("L-417A185B", "Running On-Demand P instances"),
    ("P", SPOT): ("L-7212CCBC", "All P Spot Instance Requests"),
    ("Standard", ON_DEMAND): ("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"),
    ("Standard", SPOT): ("L-34B43A08", "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests"),
}


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    message: str
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "message": self.message, "fix": self.fix,
                "details": self.details}


@dataclass
class PreflightReport:
    cohort: str
    target: str
    region: str
    checks: list[Check]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status == WARN]

    def as_dict(self) -> dict[str, Any]:
        return {"cohort": self.cohort, "target": self.target, "region": self.region,
                "ok": not self.failed, "checks": [c.as_dict() for c in self.checks]}

    def text(self) -> str:
        lines = []
        for c in self.checks:
            lines.append(f"{c.status.upper():<5} {c.name}: {c.message}")
            if c.fix and c.status in (WARN, FAIL):
                lines.append(f"      fix: {c.fix}")
        verdict = "FAILED" if self.failed else "ok"
        lines.append(f"preflight {self.cohort} ({self.target}, {self.region}): {verdict} - "
                     f"{len(self.failed)} failed, {plural(len(self.warnings), 'warning')}, {plural(len(self.checks), 'check')}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- pure checks


def instance_class(instance_type: str) -> str:
    """Quota class of an instance type: 'G' (G and VT), 'P', or 'Standard'."""
    family = instance_type.split(".", 1)[0]
    if family.startswith(("g", "vt")):
        return "G"
    if family.startswith("p"):
        return "P"
    return "Standard"


def check_window(cohort: ResolvedCohort, at: datetime) -> Check:
    w = cohort.cohort.window
    start, end = w.start, w.ends_at
    length = end - start
    details = {"start": start.isoformat(), "end": end.isoformat(), "hours": str(w.hours)}
    if end <= at:
        return Check("window", FAIL, f"the window ended at {end.isoformat()}", "set window.start to the class's start", details)
    if length > MAX_WINDOW:
        return Check("window", FAIL, f"the window is {length} long; labctl caps a class at 12 h",
                     "shorten window.duration (the class is 4 h); GPU nodes left up overnight are the costliest mistake",
                     details)
    if start < at:
        return Check("window", WARN, f"the window started {_ago(at - start)} ago; teardown runs at {end.isoformat()}",
                     "if that is not the class you are preparing, fix window.start", details)
    if length < MIN_WINDOW:
        return Check("window", WARN, f"the window is only {length} long; teardown runs at its end",
                     "check window.duration (the class is 4 h)", details)
    if start - at > timedelta(days=30):
        return Check("window", WARN, f"the window starts in {(start - at).days} days",
                     "run preflight again the day before: quotas and prices change", details)
    return Check("window", PASS, f"{start.isoformat()} to {end.isoformat()} ({w.hours.normalize():f} h)", "", details)


def _ago(delta: timedelta) -> str:
    mins = int(delta.total_seconds() // 60)
    return f"{mins // 60}h{mins % 60:02d}m" if mins >= 60 else f"{mins}m"


def used_types(cohort: ResolvedCohort) -> list[str]:
    out: set[str] = set()
    for t in cohort.teams:
        for _, g in t.lab.node_groups.items():
            if g.max_size > 0:
                out.update(g.instance_types)
    return sorted(out)


def allowed_types(cohort: ResolvedCohort) -> list[str]:
    lim = cohort.lab.limits
    return sorted(set(lim.gpu_instance_types) | set(lim.system_instance_types))


def vcpu_need(cohort: ResolvedCohort) -> dict[tuple[str, str], int]:
    """vCPUs per (class, market) with every team's node groups at max size (dearest listed type)."""
    need: dict[tuple[str, str], int] = defaultdict(int)
    for t in cohort.teams:
        for _, g in t.lab.node_groups.items():
            if g.max_size < 1:
                continue
            market = SPOT if g.capacity_type == "SPOT" else ON_DEMAND
            per_class: dict[str, int] = {}
            for it in g.instance_types:
                info = type_info(it)
                cls = instance_class(it)
                per_class[cls] = max(per_class.get(cls, 0), info.vcpu if info else 0)
            for cls, vcpu in per_class.items():
                need[(cls, market)] += vcpu * g.max_size
    return dict(need)


def vcpu_potential(cohort: ResolvedCohort) -> dict[tuple[str, str], int]:
    """vCPUs per GPU (class, market) the teams could reach by changing knobs within the lab's limits."""
    lim = cohort.lab.limits
    per_team: dict[str, int] = {}
    for it in lim.gpu_instance_types:
        info = type_info(it)
        if info is None or info.gpus == 0:
            continue
        nodes = min(lim.max_nodes_per_group, lim.max_gpus_per_team // info.gpus)
        cls = instance_class(it)
        per_team[cls] = max(per_team.get(cls, 0), nodes * info.vcpu)
    n = len(cohort.teams)
    return {(cls, m): v * n for cls, v in per_team.items() for m in (ON_DEMAND, SPOT)}


def check_quota(cls: str, market: str, need: int, potential: int, value: float | None, source: str) -> Check:
    code, qname = QUOTA_CODES[(cls, market)]
    name = f"quota:{cls.lower()}-{market}"
    details = {"quota_code": code, "quota_name": qname, "need_vcpus": need, "potential_vcpus": potential,
               "quota_vcpus": value, "source": source}
    ask = max(need, potential)
    fix = (f"request an increase to {ask} vCPUs: aws service-quotas request-service-quota-increase "
           f"--service-code ec2 --quota-code {code} --desired-value {ask} (allow days; spot GPU quotas "
           "start at 0 in new accounts and are refused more often)")
    if value is None:
        return Check(name, WARN, f"{qname} ({code}): could not be read; the cohort needs {need} vCPUs", fix, details)
    have = int(value)
    if have < need:
        return Check(name, FAIL, f"{qname} ({code}) is {have} vCPUs; the cohort needs {need} at max size", fix, details)
    if have < potential:
        return Check(name, WARN, f"{qname} ({code}) is {have} vCPUs: enough for the cohort as planned ({need}), "
                                 f"not for teams using their limits ({potential})", fix, details)
    return Check(name, PASS, f"{qname} ({code}) is {have} vCPUs; need {need}, up to {potential} within the lab's limits",
                 "", details)


def cohort_estimate(cohort: ResolvedCohort, catalog: Catalog) -> tuple[dict[str, tuple[Decimal, Decimal]], list[str]]:
    """Per team (expected, max) over the window, exactly as `labctl plan` prices a new team (the
    same estimator, from the team's spec instead of a terraform plan: labctl.ops.estimates)."""
    warnings: list[str] = []
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for t in cohort.teams:
        est, _ = spec_estimate(cohort, t, catalog)
        _, expected, mx = est.total()
        out[t.name] = (expected, mx)
        warnings += [f"{t.name}/{short_address(w.address)}: {w.message}" for w in est.warnings]
    return out, sorted(set(warnings))


def check_budget(cohort: ResolvedCohort, catalog: Catalog) -> list[Check]:
    est, warnings = cohort_estimate(cohort, catalog)
    cap = cohort.cohort.facilitator_cap_usd
    budgets = sum((t.budget_usd for t in cohort.teams), Decimal(0))
    desired = sum((d for d, _ in est.values()), Decimal(0))
    mx = sum((m for _, m in est.values()), Decimal(0))
    details = {"cap_usd": None if cap is None else str(cap), "budgets_usd": str(budgets),
               "estimate_desired_usd": str(desired), "estimate_max_usd": str(mx),
               "teams": {k: {"desired": str(d), "max": str(m)} for k, (d, m) in est.items()},
               "price_warnings": warnings}
    hours = cohort.cohort.window.hours.normalize()
    checks: list[Check] = []
    f = fmt_usd
    if cap is None:
        checks.append(Check("budget:cap", WARN, f"no facilitator_cap_usd; team budgets total {f(budgets)}, the cohort "
                                                f"may cost {f(desired)} as started and up to {f(mx)} at max size over {hours:f} h",
                            "set facilitator_cap_usd in the cohort file to what you may spend", details))
    elif budgets > cap:
        checks.append(Check("budget:cap", FAIL, f"team budgets total {f(budgets)}, above the cap {f(cap)}",
                            "lower teams' budget_usd (or the lab's) or raise facilitator_cap_usd", details))
    elif desired > cap:
        checks.append(Check("budget:cap", FAIL, f"the cohort as started costs about {f(desired)} over {hours:f} h, above the cap {f(cap)}",
                            "fewer teams, smaller starting node groups, or a shorter window", details))
    elif mx > cap:
        checks.append(Check("budget:cap", WARN, f"as started {f(desired)}, but up to {f(mx)} if every team scales to max, above the cap {f(cap)}",
                            "budgets alert each team and the backstop scales GPUs to zero at the window's end; "
                            "lower limits.max_nodes_per_group if that is not enough", details))
    else:
        checks.append(Check("budget:cap", PASS, f"budgets {f(budgets)}, estimate {f(desired)} (up to {f(mx)}) within the cap {f(cap)}",
                            "", details))
    over = [f"{k} ({f(d)} > {f(t.budget_usd)})" for t in cohort.teams for k, (d, _) in est.items()
            if k == t.name and d > t.budget_usd]
    if over:
        checks.append(Check("budget:teams", WARN, "the expected cost over the session is above the budget for: " + ", ".join(over),
                            "intended in labs that teach with a budget alert (runaway-bill); otherwise raise budget_usd",
                            {"teams": over}))
    else:
        checks.append(Check("budget:teams", PASS, "every team's expected cost fits its budget", ""))
    if warnings:
        checks.append(Check("budget:prices", WARN, f"{plural(len(warnings), 'price')} derived or missing in the catalog: {'; '.join(warnings[:3])}",
                            "`labctl prices refresh` (real account) or pick types the catalog knows", {"warnings": warnings}))
    return checks


def check_offerings(cohort: ResolvedCohort, aws: AwsTarget) -> list[Check]:
    used, allowed = used_types(cohort), allowed_types(cohort)
    region = aws.region
    try:
        zones = ec2.instance_type_offerings(aws, sorted(set(used) | set(allowed)))
    except AwsError as exc:
        return [Check("offerings", FAIL, f"could not list instance type offerings: {exc}",
                      "check the credentials and that the region is enabled for the account")]
    missing = [t for t in used if not zones.get(t)]
    thin = [t for t in used if zones.get(t) and len(zones[t]) < 2]
    unoffered_allowed = [t for t in allowed if t not in used and not zones.get(t)]
    details = {t: sorted(z) for t, z in sorted(zones.items())}
    checks = []
    if missing:
        checks.append(Check("offerings", FAIL, f"not offered in {region}: {', '.join(missing)}",
                            "choose a region that offers them, or change the lab's / teams' instance types", details))
    elif thin:
        checks.append(Check("offerings", WARN, f"offered in only one availability zone of {region}: {', '.join(thin)}",
                            "capacity may run out; add a second type to the node group", details))
    else:
        checks.append(Check("offerings", PASS, f"all {len(used)} instance types offered in {region} "
                                               f"({', '.join(used)})", "", details))
    if unoffered_allowed:
        checks.append(Check("offerings:allowed", WARN, f"the lab allows types {region} does not offer: "
                                                       f"{', '.join(unoffered_allowed)}",
                            "tell teams, or remove them from limits in lab.yaml", {}))
    return checks


def check_quotas(cohort: ResolvedCohort, aws: AwsTarget) -> list[Check]:
    need, potential = vcpu_need(cohort), vcpu_potential(cohort)
    keys = sorted(set(need) | {k for k, v in potential.items() if v > 0} | {("G", SPOT)},
                  key=lambda k: (k[0], k[1]))
    checks = []
    for cls, market in keys:
        code, qname = QUOTA_CODES[(cls, market)]
        try:
            quota = quotas.quota_value(aws, "ec2", code)
        except AwsError as exc:
            checks.append(Check(f"quota:{cls.lower()}-{market}", WARN, f"{qname} ({code}) could not be read: {exc}",
                                "grant servicequotas:GetServiceQuota to the facilitator's credentials, or check "
                                "the quota in the console"))
            continue
        if quota.value is None and aws.fake_credentials:
            checks.append(Check(f"quota:{cls.lower()}-{market}", SKIP,
                                f"{qname} ({code}): the {aws.kind} target has no EC2 quotas (moto's Service Quotas "
                                "knows only vpc); checked against real accounts only",
                                "", {"quota_code": code, "need_vcpus": need.get((cls, market), 0)}))
            continue
        checks.append(check_quota(cls, market, need.get((cls, market), 0), potential.get((cls, market), 0), quota.value, quota.source))
    return checks


def check_accounts(cohort: ResolvedCohort, aws: AwsTarget) -> list[Check]:
    """Per-team accounts: the facilitator's credentials can assume the role in every team's account
    (else that team fails, named, before any terraform runs), and each account's own EC2 quotas
    hold its team (quotas are per account)."""
    acc = cohort.cohort.accounts
    checks, denied = [], []
    pending: dict[str, str] = {}
    if acc.organization is not None:      # teams without an account: found in the OU, or `up` makes them
        try:
            resolved = team_accounts.resolve(cohort.id, [t.name for t in cohort.teams], acc, Accounts(), aws, create=False)
        except LabctlError as exc:
            return [Check("accounts", FAIL, str(exc), "run preflight with the management account's (or a delegated "
                          "administrator's) credentials, or fix accounts.organization.parent_id")]
        acc, pending = resolved.accounts, resolved.pending
        if pending:
            checks.append(Check("accounts:organization", PASS, "; ".join(f"team {t}: {w}" for t, w in pending.items()),
                                "", {"would_create": dict(pending)}))
    for team in cohort.teams:
        if team.name in pending:
            continue
        account = acc.account_of(team.name) or ""
        arn = accounts.role_arn(account, acc.role_name, cohort.cohort.region)
        try:
            role = accounts.assume_role(aws, arn, accounts.session_name(cohort.id), duration_s=900)
        except AwsError as exc:
            denied.append(f"team {team.name}: cannot assume {arn}: {exc}")
            continue
        one = replace(cohort, teams=(team,))
        checks += [replace(c, name=f"{c.name}[{team.name}]") for c in check_quotas(one, role.target)]
    if denied:
        checks.insert(0, Check("accounts", FAIL, "; ".join(denied),
                               f"let the facilitator's credentials assume {acc.role_name} in each team's account "
                               "(sts:AssumeRole), or fix the account ids under accounts.teams"))
    else:
        checks.insert(0, Check("accounts", PASS, f"{plural(len(cohort.teams), 'team')}, each in its own account "
                                                 f"through role {acc.role_name}", ""))
    return checks


def check_credentials(aws: AwsTarget) -> Check:
    try:
        ident = identity.caller_identity(aws)
    except AwsError as exc:
        fix = ("start it: `labctl emulator start`" if aws.fake_credentials else
               "log in (aws sso login / AWS_PROFILE) with the account the cohort targets")
        return Check("credentials", FAIL, f"the {aws.kind} target does not answer: {exc}", fix)
    # The account id is not secret; the caller's ARN can name a person, so only its kind is shown.
    return Check("credentials", PASS, f"{aws.kind}: account {ident.account} ({ident.principal_kind})", "",
                 {"account": ident.account})


def run_checks(cohort: ResolvedCohort, aws: AwsTarget, at: datetime | None = None,
               catalog: Catalog | None = None) -> list[Check]:
    at = at or now()
    checks = [check_window(cohort, at)]
    cred = check_credentials(aws)
    checks.append(cred)
    if cred.status == FAIL:
        checks.append(Check("offerings", SKIP, "not checked: the target does not answer"))
        checks.append(Check("quotas", SKIP, "not checked: the target does not answer"))
    else:
        checks += check_offerings(cohort, aws)
        checks += check_accounts(cohort, aws) if cohort.cohort.accounts.per_team else check_quotas(cohort, aws)
    checks += check_budget(cohort, catalog or load_catalog())
    return checks


def preflight(cohort_file: Path, state_dir: Path, aws: AwsTarget | None = None,
              at: datetime | None = None) -> PreflightReport:
    """Run every check for a cohort file; ``aws`` overrides the target's own connection (tests)."""
    cohort = load_cohort(cohort_file)
    if aws is None:
        aws = connect(cohort.cohort, state_dir).aws()
    report = PreflightReport(cohort.id, aws.kind, cohort.cohort.region, run_checks(cohort, aws, at))
    cs_root = state_dir / "cohorts" / cohort.id
    if cs_root.is_dir():
        CohortState(cs_root).audit("preflight", "failed" if report.failed else "ok",
                                   failed=[c.name for c in report.failed], warnings=[c.name for c in report.warnings])
    return report
