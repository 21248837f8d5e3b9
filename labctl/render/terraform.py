"""Render a team's Terraform root: the static root module copied as it is, linked to the cohort's
one copy of the modules, plus terraform.tfvars.json built from the validated spec. User values
only ever travel as JSON data.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labctl import naming, resources
from labctl.errors import RefusedError
from labctl.render import pools
from labctl.spec.accounts import role_arn, session_name
from labctl.spec.load import ResolvedCohort, TeamSpec
from labctl.spec.models import Accounts
from labctl.spec.offerings import type_info


TFVARS_FILE = "terraform.tfvars.json"


@dataclass(frozen=True)
class ProviderSettings:
    emulator: bool
    max_retries: int
    # The cohort's accounts as its connection resolved them (labctl.ops.target): with
    # accounts.organization, the accounts made or found for teams the cohort file names none for.
    accounts: Accounts | None = None

    def as_dict(self) -> dict[str, Any]:
        # No endpoint here: it is not Terraform input, the runner's environment carries it
        # (AWS_ENDPOINT_URL, labctl.ops.target).
        return {"emulator": self.emulator, "max_retries": self.max_retries}


def _utc(ts) -> str:  # type: ignore[no-untyped-def]
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def tfvars(cohort: ResolvedCohort, team: TeamSpec, provider: ProviderSettings) -> dict[str, Any]:
    c = cohort.cohort
    lab = team.lab
    node_groups: dict[str, Any] = {}
    standby: dict[str, Any] = {}
    for gname, group in lab.node_groups.items():
        gpus = max(((type_info(t).gpus if type_info(t) else 0) for t in group.instance_types), default=0)
        off = group.max_size < 1
        # A pool switched off in the lab or by the team's knobs gets no node group, only its launch
        # template (standby): switching it on later then creates no template (a fixed 5 s wait).
        # Its sizes are placeholders EKS would accept; no node group is made from them.
        (standby if off else node_groups)[gname] = {
            "capacity_type": group.capacity_type,
            "instance_types": list(group.instance_types),
            "min_size": 0 if off else group.min_size,
            "max_size": 1 if off else group.max_size,
            "desired_size": 0 if off else group.desired_size,
            "disk_gib": group.disk_gib,
            "gpus_per_node": gpus,
            "labels": pools.labels(gname),
            "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in pools.taints(gname)],
        }
    ends = c.window.ends_at
    out = {
        "cohort": c.cohort,
        "team": team.name,
        "lab": lab.name,
        "expires_at": _utc(ends),
        "region": c.region,
        "provider_settings": provider.as_dict(),
        "kubernetes_version": lab.kubernetes_version,
        "node_groups": node_groups,
        "checkpoint_bucket": naming.bucket_name(c.cohort, team.name),
        "checkpoint_expiry_days": lab.checkpoints.expiry_days,
        "budget_usd": f"{team.budget_usd:.2f}",
        "budget_period_start": c.window.start.strftime("%Y-%m-%d_%H:%M"),
        "backstop_at": ends.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if standby:
        out["standby_node_groups"] = standby
    # Module team-access trusts the account root unless the facilitator names principals; the key
    # is written only when there are some, so renders without it stay byte-identical.
    principals = list(getattr(c, "team_access_principal_arns", None) or [])
    if principals:
        out["team_access_principal_arns"] = principals
    # Per-team accounts: the team's provider assumes the facilitator's role in the team's own
    # account, and the root refuses to run where the credentials reach any other (same rule).
    accounts = provider.accounts or getattr(c, "accounts", None)
    account = accounts.account_of(team.name) if accounts is not None else None
    if accounts is not None and accounts.per_team and account is None and provider.accounts is not None:
        raise RefusedError(f"team {team.name} has no account yet: `labctl up` creates it in "
                          f"{accounts.organization.parent_id if accounts.organization else 'its OU'}, "
                          "before any terraform runs")
    if accounts is not None and account is not None:
        out["team_account"] = {"id": account, "role_arn": role_arn(account, accounts.role_name, c.region),
                               "session_name": session_name(c.cohort)}
    # The cluster's public endpoint is open to all unless the cohort lists addresses (same rule).
    cidrs = [str(n) for n in getattr(c, "api_access_cidrs", None) or []]
    if cidrs:
        out["api_public_access_cidrs"] = cidrs
    return out


# A team's root is labctl.state's ``<cohort>/teams/<team>``; the cohort's one copy of the modules
# sits beside the teams folder, and each root reaches it through its ``modules`` link.
COHORT_MODULES = "modules"
_SYNC = threading.Lock()        # `up` renders teams from several threads into one module copy
_SYNCED: dict[Path, tuple[tuple[str, int, int], ...]] = {}   # copy -> the package files it was made from


def cohort_modules_dir(team_dir: Path) -> Path:
    """Where the modules of the cohort that ``team_dir`` (``<cohort>/teams/<team>``) belongs to live."""
    return team_dir.parent.parent / COHORT_MODULES


def write_modules(dest: Path) -> list[Path]:
    """Write (or refresh) one copy of terraform/modules at ``dest``, for every team root linked to it.

    Files are replaced whole (write and rename), so a terraform reading a module while another
    thread refreshes it sees the old file or the new one, never half of one. Returns what changed.
    """
    src = resources.terraform_dir() / "modules"
    wanted, signature = _package_modules(src)
    changed: list[Path] = []
    with _SYNC:
        # Every team of an `up` writes its root: the copy is compared with the package once per
        # process, not once per team (100 teams: 0.9 s of reading the same files).
        if _SYNCED.get(dest.absolute()) == signature and dest.is_dir():
            return []
        for rel in sorted(wanted):
            changed += _copy_if_changed(src / rel, dest / rel)
        for p in sorted(dest.rglob("*"), reverse=True):   # modules removed from the package go too
            if p.is_file() and p.relative_to(dest) not in wanted:
                p.unlink()
                changed.append(p)
        _SYNCED[dest.absolute()] = signature
    return changed


@functools.lru_cache(maxsize=4)
def _package_modules(src: Path) -> tuple[frozenset[Path], tuple[tuple[str, int, int], ...]]:
    """The package's module files (relative to ``src``) and their sizes and times, read once per
    process: listing them again for each of 100 teams was most of writing their roots."""
    files = sorted(p for p in src.rglob("*") if p.is_file())
    return (frozenset(p.relative_to(src) for p in files),
            tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))


def write_root(dest: Path, variables: dict[str, Any], modules: Path | None = None) -> list[Path]:
    """Write (or refresh) a team's Terraform root at ``dest``; leaves .terraform and state alone.

    The root is terraform/root as it is (its module calls say ``./modules/<name>``) with
    ``dest/modules`` a relative link to ``modules``, the cohort's one copy of terraform/modules
    (default: :func:`cohort_modules_dir`), refreshed here too. One copy per cohort rather than one
    per team: 100 teams wrote 26 MB of identical modules. terraform follows the link like a
    folder, so the root, a batch root calling it, and the cohort's shared `terraform init` see
    the same ``modules/<name>`` paths as before. Returns the files whose content changed (the
    link counts as one), so callers can tell a no-op render from a change.
    """
    changed = _root_files(dest, modules if modules is not None else cohort_modules_dir(dest))
    text = json.dumps(variables, indent=2, sort_keys=True) + "\n"
    changed += _write_if_changed(dest / TFVARS_FILE, text)
    return changed


# The team root minus its provider: what a batch of teams (labctl.tf.batch) calls once per team,
# passing each the provider of its account. One per cohort, beside its modules.
TEAM_MODULE = "team-module"
PROVIDER_FILE = "provider.tf"


def team_module_dir(team_dir: Path) -> Path:
    """Where the team module of the cohort that ``team_dir`` (``<cohort>/teams/<team>``) belongs to lives."""
    return team_dir.parent.parent / TEAM_MODULE


def write_team_module(dest: Path, modules: Path | None = None) -> list[Path]:
    """Write (or refresh) the cohort's team module at ``dest``: terraform/root's files but
    provider.tf, and a ``modules`` link to the cohort's modules (default: beside ``dest``), so its
    module calls resolve as in a team's own root. Returns what changed."""
    return _root_files(dest, modules if modules is not None else dest.parent / COHORT_MODULES, leave_out=PROVIDER_FILE)


def _root_files(dest: Path, modules: Path, leave_out: str | None = None) -> list[Path]:
    """terraform/root's files (but ``leave_out``) at ``dest``, with ``dest/modules`` a relative link
    to ``modules``, the cohort's one copy of terraform/modules, refreshed too. Returns what changed."""
    dest.mkdir(parents=True, exist_ok=True)
    changed = write_modules(modules)
    for f in sorted((resources.terraform_dir() / "root").glob("*.tf")):
        if f.name != leave_out:
            changed += _copy_if_changed(f, dest / f.name)
    changed += _link(dest / "modules", Path(os.path.relpath(modules, dest)))
    return changed


def read_tfvars(root: Path) -> dict[str, Any]:
    """The variables a rendered root was given: its terraform.tfvars.json, as :func:`write_root`
    writes it for a team (or labctl.tf.batch for a batch, ``{"teams": {team: variables}}``). The
    one reader of that file. A missing file raises FileNotFoundError; one that is not a JSON object,
    ValueError naming the file."""
    path = root / TFVARS_FILE
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise ValueError(f"{path} is not a JSON object")
    return doc


def _link(link: Path, target: Path) -> list[Path]:
    """``link`` -> ``target``, replacing a team's own module copy (as roots were once written)."""
    if link.is_symlink():
        if Path(os.readlink(link)) == target:
            return []
    elif link.is_dir():
        shutil.rmtree(link)
    tmp = link.with_name(f".{link.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target, target_is_directory=True)
    tmp.replace(link)
    return [link]


def _copy_if_changed(src: Path, dst: Path) -> list[Path]:
    data = src.read_bytes()
    if dst.exists() and dst.read_bytes() == data:
        return []
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(dst)
    return [dst]


def _write_if_changed(dst: Path, text: str) -> list[Path]:
    if dst.exists() and dst.read_text() == text:
        return []
    tmp = dst.with_suffix(dst.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(dst)
    return [dst]
