"""Several new teams provisioned by one terraform root ("a batch"), each then given its own state.

Why: every terraform command costs terraform core and the aws provider a fixed ~6 CPU-s whatever
it plans (bench/README.md), and on two cores that fixed cost, paid once per team, kept a 30-team
`up` above four minutes. A batch root calls each team's own root as a module, so the fixed cost is
paid once per batch. The batch calls the cohort's team module (the team root without its
provider.tf; labctl.render.terraform.write_team_module) once per team and passes each the provider
of its account: one provider, so one provider process, per account in the batch (one in all for a
cohort in one account) instead of one per team, which cost ~1.1 CPU-s per team (8 teams, one
apply: 23.8 CPU-s of terraform and providers with a provider per team, 15.0 with one;
bench/README.md). That provider is :func:`provider_config`, the team root's provider.tf written
from the same variables; its default_tags name only the cohort, and the modules tag every resource
with the team's tags themselves, so a resource is the same whichever root created it.

Nothing else changes: once the batch's apply ends (or is found interrupted), its state is split
into one ordinary state per team, with every address rewritten from ``module.team_<name>.X`` to
``X`` and the team's outputs restored, so `team plan`, a later `up`, `status` and `down` work on
the team's own root exactly as if it had been applied alone. A team's next plan being a no-op is
the proof the split is exact (tests/integration/test_lifecycle.py).

User values still reach Terraform only as data: the batch root reads one ``terraform.tfvars.json``
(each team's variables under its name) and passes ``var.teams["<team>"]["<variable>"]`` on.

`down` runs the other way (:func:`merge_states`): the chosen teams' states become one batch state
(``X`` -> ``module.team_<name>.X``, each team's outputs as the batch output ``team_<name>``), one
``terraform destroy`` removes them all, and whatever is left is split back into the teams' own
states with their own lineage (``split_state(..., identities=...)``): merge then split gives back
the states merged, exactly (tests/unit/tf/test_batch.py).
"""

from __future__ import annotations

import copy
import json
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labctl.state import write_atomic

PROVIDER = 'provider["registry.terraform.io/hashicorp/aws"]'
_TEAM = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")   # DNS-1123 label, as the spec enforces
_OUTPUT = re.compile(r'^output\s+"([A-Za-z0-9_-]+)"\s*\{(.*?)^\}', re.M | re.S)


def module_key(team: str) -> str:
    if not _TEAM.match(team):
        raise ValueError(f"team name {team!r} is not a DNS-1123 label")
    return f"team_{team}"


def team_of(address: str | None, teams: list[str]) -> str | None:
    """The team a resource address of the batch belongs to (None for the batch itself)."""
    if not address or not address.startswith("module.team_"):
        return None
    head = address.split(".", 2)[1]
    name = head[len("team_"):]
    return name if name in teams else None


def sensitive_outputs(outputs_tf: str) -> set[str]:
    """Names of the root outputs declared ``sensitive = true`` (read from the root's outputs.tf)."""
    return {m.group(1) for m in _OUTPUT.finditer(outputs_tf)
            if re.search(r"^\s*sensitive\s*=\s*true\s*$", m.group(2), re.M)}


# The tags every resource of a cohort carries whatever its team: the batch provider's default_tags.
COHORT_TAGS = {"labctl:cohort": "cohort", "labctl:lab": "lab", "labctl:expires-at": "expires_at"}


def provider_config(variables: Mapping[str, Any]) -> dict[str, Any]:
    """The aws provider of terraform/root/provider.tf for a team's variables, in Terraform JSON
    syntax, with the cohort's tags only as default_tags (the team's tags are on each resource)."""
    settings = variables.get("provider_settings") or {}
    emulator = bool(settings.get("emulator"))
    config: dict[str, Any] = {
        "region": variables["region"],
        "skip_credentials_validation": emulator,
        "skip_requesting_account_id": emulator,
        "skip_metadata_api_check": True,
        "skip_region_validation": emulator,
        "s3_use_path_style": emulator,
        "max_retries": settings.get("max_retries"),
        "default_tags": {"tags": {tag: variables[name] for tag, name in COHORT_TAGS.items()}},
    }
    account = variables.get("team_account")
    if account:
        config["assume_role"] = {"role_arn": account["role_arn"], "session_name": account["session_name"]}
    return config


def provider_aliases(variables: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """``{team: alias}``: teams whose provider is the same (one account, one role, one region)
    share one alias, ``p0``, ``p1``, ... in the order of their first team."""
    seen: dict[str, str] = {}
    out: dict[str, str] = {}
    for team, v in variables.items():
        key = json.dumps(provider_config(v), sort_keys=True)
        out[team] = seen.setdefault(key, f"p{len(seen)}")
    return out


def provider_address(alias: str) -> str:
    """How a state records a resource made with the batch's provider ``alias``."""
    return f"{PROVIDER}.{alias}"


def batch_root(members: dict[str, tuple[Path, dict[str, Any]]], batch_dir: Path, team_module: Path,
               any_sensitive: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """The batch root (Terraform JSON syntax) and its tfvars, for ``{team: (team_dir, variables)}``:
    ``team_module`` called once per team, each given its account's provider."""
    aliases = provider_aliases({team: variables for team, (_, variables) in members.items()})
    source = os.path.relpath(team_module, batch_dir)
    if not source.startswith(".."):
        source = "./" + source
    providers: dict[str, Any] = {}
    modules: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for team, (_team_dir, variables) in members.items():
        key, alias = module_key(team), aliases[team]
        providers.setdefault(alias, {"alias": alias, **provider_config(variables)})
        args = {name: f'${{var.teams["{team}"]["{name}"]}}' for name in sorted(variables)}
        modules[key] = {"source": source, "providers": {"aws": f"aws.{alias}"}, **args}
        outputs[key] = {"value": f"${{module.{key}}}", **({"sensitive": True} if any_sensitive else {})}
    root = {
        "variable": {"teams": {"type": "any", "description": "Each team's variables, as its own root's tfvars."}},
        "provider": {"aws": list(providers.values())},
        "module": modules,
        "output": outputs,
    }
    return root, {"teams": {team: variables for team, (_, variables) in members.items()}}


def write_batch_root(batch_dir: Path, members: dict[str, tuple[Path, dict[str, Any]]], team_module: Path,
                     any_sensitive: bool = False) -> None:
    root, tfvars = batch_root(members, batch_dir, team_module, any_sensitive)
    for name, doc in (("main.tf.json", root), ("terraform.tfvars.json", tfvars)):
        write_atomic(batch_dir / name, json.dumps(doc, indent=2, sort_keys=True) + "\n")


def _strip(address: str, prefix: str) -> str | None:
    if address == prefix:
        return ""
    if address.startswith(prefix + "."):
        return address[len(prefix) + 1:]
    return None


def _prefixed(address: str, prefix: str) -> str:
    return f"{prefix}.{address}" if address else prefix


def merge_states(states: Mapping[str, dict[str, Any]], aliases: Mapping[str, str]) -> dict[str, Any]:
    """One batch state from the teams' own states (``{team: state}``), for the batch root
    :func:`batch_root` writes: every address and dependency moves under ``module.team_<name>``,
    each resource's provider becomes the batch's provider for its team (``aliases``, as
    :func:`provider_aliases` gives them), each team's outputs become the object output
    ``team_<name>``, and its check results follow their addresses. Lineage and serial are the
    batch's own (fresh)."""
    resources: list[dict[str, Any]] = []
    outputs: dict[str, Any] = {}
    checks: list[dict[str, Any]] = []
    versions = []
    for team, state in states.items():
        prefix = f"module.{module_key(team)}"
        versions.append(str(state.get("terraform_version") or ""))
        for r in state.get("resources") or []:
            r = copy.deepcopy(r)
            r["module"] = _prefixed(r.get("module", ""), prefix)
            r["provider"] = provider_address(aliases[team])
            for inst in r.get("instances") or []:
                if "dependencies" in inst:
                    inst["dependencies"] = [_prefixed(d, prefix) for d in inst["dependencies"]]
            resources.append(r)
        own = state.get("outputs") or {}
        if own:
            outputs[module_key(team)] = {
                "value": {name: o.get("value") for name, o in own.items()},
                "type": ["object", {name: o.get("type", "dynamic") for name, o in own.items()}],
                **({"sensitive": True} if any(o.get("sensitive") for o in own.values()) else {}),
            }
        for c in state.get("check_results") or []:
            c = copy.deepcopy(c)
            c["config_addr"] = _prefixed(c["config_addr"], prefix)
            for o in c.get("objects") or []:
                o["object_addr"] = _prefixed(o["object_addr"], prefix)
            checks.append(c)
    return {
        "version": 4,
        "terraform_version": max(versions, key=_version_key, default=""),
        "serial": 1,
        "lineage": str(uuid.uuid4()),
        "outputs": outputs,
        "resources": resources,
        "check_results": checks or None,
    }


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in v.split("-")[0].split("."))


def _own_provider(resource: Mapping[str, Any], prefix: str) -> str:
    """The provider a batch state's resource of team module ``prefix`` has in the team's own root:
    the batch's (``provider[...]`` or ``provider[...].p0``) or, in a batch state written before
    teams shared one, the team module's own (``module.team_x.provider[...]``)."""
    recorded = str(resource["provider"])
    if recorded == PROVIDER or recorded.startswith(PROVIDER + "."):
        return PROVIDER
    own = _strip(recorded, prefix)
    if own is None or not own.startswith("provider["):
        raise ValueError(f"resource {resource['type']}.{resource['name']} of {prefix} uses provider {recorded!r}, "
                         "neither the batch's nor the team's own")
    return own


def split_state(batch_state: dict[str, Any], teams: list[str], sensitive: set[str] | frozenset[str] = frozenset(),
                identities: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """One state per team from a batch's state: the team's resources with addresses relative to its
    own root, its outputs and its check results. Teams with no resource in the batch state are
    left out. A team in ``identities`` keeps the ``lineage``, ``serial`` and ``terraform_version``
    given there (its own state's, when the batch was merged from it); the others get fresh ones."""
    out: dict[str, dict[str, Any]] = {}
    for team in teams:
        prefix = f"module.{module_key(team)}"
        resources = []
        for r in batch_state.get("resources") or []:
            rest = _strip(r.get("module", ""), prefix)
            if rest is None:
                continue
            r = copy.deepcopy(r)
            if rest:
                r["module"] = rest
            else:
                r.pop("module", None)
            r["provider"] = _own_provider(r, prefix)
            for inst in r.get("instances") or []:
                if "dependencies" in inst:
                    inst["dependencies"] = [d for d in (_strip(x, prefix) for x in inst["dependencies"]) if d]
            resources.append(r)
        if not resources:
            continue
        outputs: dict[str, Any] = {}
        o = (batch_state.get("outputs") or {}).get(module_key(team))
        if o and isinstance(o.get("value"), dict):
            types = o["type"][1] if isinstance(o.get("type"), list) and len(o["type"]) == 2 else {}
            for name, value in sorted(o["value"].items()):
                if value is None:          # terraform keeps no null output in a state
                    continue
                entry: dict[str, Any] = {"value": value, "type": types.get(name, "dynamic")}
                if name in sensitive:
                    entry["sensitive"] = True
                outputs[name] = entry
        checks = []
        for c in batch_state.get("check_results") or []:
            config = _strip(c.get("config_addr", ""), prefix)
            if not config:
                continue
            c = copy.deepcopy(c)
            c["config_addr"] = config
            if c.get("objects") is not None:
                c["objects"] = [{**o, "object_addr": _strip(o["object_addr"], prefix)} for o in c["objects"]
                                if _strip(o.get("object_addr", ""), prefix)]
            checks.append(c)
        ident = (identities or {}).get(team) or {}
        out[team] = {
            "version": 4,
            "terraform_version": ident.get("terraform_version", batch_state.get("terraform_version", "")),
            "serial": ident.get("serial", 1),
            "lineage": ident.get("lineage") or str(uuid.uuid4()),
            "outputs": outputs,
            "resources": resources,
            "check_results": checks or None,
        }
    return out
