"""Render a team's Terraform root: the static root module and modules copied as they are, plus
terraform.tfvars.json built from the validated spec. User values only ever travel as JSON data.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labctl import naming, resources
from labctl.render import pools
from labctl.spec.load import ResolvedCohort, TeamSpec
from labctl.spec.offerings import type_info


@dataclass(frozen=True)
class ProviderSettings:
    emulator: bool
    max_retries: int

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
    # The cluster's public endpoint is open to all unless the cohort lists addresses (same rule).
    cidrs = [str(n) for n in getattr(c, "api_access_cidrs", None) or []]
    if cidrs:
        out["api_public_access_cidrs"] = cidrs
    return out


def write_root(dest: Path, variables: dict[str, Any]) -> list[Path]:
    """Write (or refresh) a team's Terraform root at ``dest``; leaves .terraform and state alone.

    Returns the files whose content changed, so callers can tell a no-op render from a change.
    """
    src = resources.terraform_dir()
    dest.mkdir(parents=True, exist_ok=True)
    changed: list[Path] = []
    for f in sorted((src / "root").glob("*.tf")):
        changed += _copy_if_changed(f, dest / f.name)
    mod_dest = dest / "modules"
    wanted = {p.relative_to(src / "modules") for p in (src / "modules").rglob("*") if p.is_file()}
    for rel in sorted(wanted):
        changed += _copy_if_changed(src / "modules" / rel, mod_dest / rel)
    if mod_dest.exists():  # modules removed from the package disappear from the build too
        for p in sorted(mod_dest.rglob("*"), reverse=True):
            if p.is_file() and p.relative_to(mod_dest) not in wanted:
                p.unlink()
                changed.append(p)
    text = json.dumps(variables, indent=2, sort_keys=True) + "\n"
    changed += _write_if_changed(dest / "terraform.tfvars.json", text)
    return changed


def _copy_if_changed(src: Path, dst: Path) -> list[Path]:
    data = src.read_bytes()
    if dst.exists() and dst.read_bytes() == data:
        return []
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return [dst]


def _write_if_changed(dst: Path, text: str) -> list[Path]:
    if dst.exists() and dst.read_text() == text:
        return []
    tmp = dst.with_suffix(dst.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(dst)
    return [dst]
