"""Batches of new teams: the batch root keeps user values out of HCL, events and errors are routed
to the right team, and the batch's state splits into states each team's own root can use."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labctl.ops import batch as ops_batch
from labctl.state import StateDir
from labctl.tf.batch import (PROVIDER, batch_root, merge_states, module_key, provider_address, provider_config,
                             sensitive_outputs, split_state, team_of)


@pytest.mark.parametrize("bad", ["Alpha", "a_b", 'x"]} #', "${file(\"/etc/passwd\")}", "-a", "a" * 64, ""])
def test_module_key_refuses_anything_but_a_dns_label(bad):
    with pytest.raises(ValueError):
        module_key(bad)


def _vars(team, cohort="c1", account=None, **extra):
    """A team's variables as render writes them, the ones a batch's provider is made of included."""
    v = {"cohort": cohort, "team": team, "lab": "gpu-baseline", "expires_at": "2026-12-01T13:00:00Z",
         "region": "us-east-1", "provider_settings": {"emulator": True, "max_retries": 3}, **extra}
    if account:
        v["team_account"] = {"id": account, "role_arn": f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                             "session_name": f"labctl-{cohort}"}
    return v


def test_batch_root_passes_user_values_only_as_tfvars_data(tmp_path):
    hostile = "${file(\"/etc/passwd\")} %{ if true }x%{ endif }"
    members = {"alpha": (tmp_path / "teams" / "alpha", _vars("alpha", budget_usd=hostile)),
               "be-ta": (tmp_path / "teams" / "be-ta", _vars("be-ta"))}
    root, tfvars = batch_root(members, tmp_path / "batches" / "b", tmp_path / "team-module")
    text = json.dumps(root)
    assert "passwd" not in text and "%{" not in text
    assert root["module"]["team_alpha"]["budget_usd"] == '${var.teams["alpha"]["budget_usd"]}'
    assert root["module"]["team_be-ta"]["source"] == "../../team-module"       # one module for every team
    assert root["output"]["team_alpha"]["value"] == "${module.team_alpha}"
    assert tfvars["teams"]["alpha"]["budget_usd"] == hostile          # as data, which Terraform never evaluates
    assert set(root["module"]["team_be-ta"]) == {"source", "providers", *_vars("be-ta")}


def test_teams_in_one_account_share_one_provider_and_each_account_gets_its_own(tmp_path):
    members = {t: (tmp_path / "teams" / t, v) for t, v in {
        "a": _vars("a"), "b": _vars("b"),                                   # the facilitator's account
        "c": _vars("c", account="111111111111"), "d": _vars("d", account="222222222222")}.items()}
    root, _ = batch_root(members, tmp_path / "batches" / "b", tmp_path / "team-module")
    assert {t: root["module"][f"team_{t}"]["providers"] for t in "abcd"} == {
        "a": {"aws": "aws.p0"}, "b": {"aws": "aws.p0"}, "c": {"aws": "aws.p1"}, "d": {"aws": "aws.p2"}}
    providers = {p["alias"]: p for p in root["provider"]["aws"]}
    assert set(providers) == {"p0", "p1", "p2"}
    assert "assume_role" not in providers["p0"]
    assert providers["p2"]["assume_role"]["role_arn"] == "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"
    # Shared by teams, so it names only the cohort: the team's own tags are on each resource.
    assert providers["p0"]["default_tags"] == {"tags": {
        "labctl:cohort": "c1", "labctl:lab": "gpu-baseline", "labctl:expires-at": "2026-12-01T13:00:00Z"}}
    assert providers["p0"]["skip_credentials_validation"] is True and providers["p0"]["max_retries"] == 3


def test_the_batch_provider_sets_what_the_team_roots_provider_sets():
    """provider_config is terraform/root/provider.tf in JSON: a setting added there and not here
    would make a team created in a batch differ from one applied alone."""
    import re

    from labctl import resources

    hcl = (resources.terraform_dir() / "root" / "provider.tf").read_text()
    body = hcl[hcl.index('provider "aws" {'):]
    blocks = {a or b for a, b in re.findall(r'^  (?:dynamic "(\w+)"|(\w+)) \{', body, re.M)}
    set_in_hcl = set(re.findall(r"^  (\w+)\s*=", body, re.M)) | blocks
    assert {"region", "max_retries", "default_tags", "assume_role"} <= set_in_hcl      # the reading works
    config = provider_config(_vars("a", account="111111111111"))
    assert set_in_hcl <= set(config), set_in_hcl - set(config)
    assert {"default_tags", "assume_role"} <= set(config)


def test_events_and_diagnostics_are_routed_to_their_team():
    teams = ["alpha", "alpha-2"]
    assert team_of("module.team_alpha.module.network.aws_vpc.this", teams) == "alpha"
    assert team_of("module.team_alpha-2.data.aws_caller_identity.current", teams) == "alpha-2"
    assert team_of('module.team_alpha.module.node_group["gpu.spot"].aws_eks_node_group.this', teams) == "alpha"
    assert team_of("module.team_gamma.aws_vpc.this", teams) is None
    assert team_of(None, teams) is None and team_of("aws_vpc.x", teams) is None


def test_sensitive_outputs_are_read_from_the_roots_outputs_tf():
    tf = ('output "a" {\n  value = 1\n}\n\noutput "token" {\n  value     = "x"\n  sensitive = true\n}\n'
          'output "b" {\n  value = { sensitive = true }\n}\n')
    assert sensitive_outputs(tf) == {"token"}


def _res(module, type_, name, deps=(), mode="managed", team="alpha"):
    r = {"mode": mode, "type": type_, "name": name,
         "provider": f"module.team_{team}.{PROVIDER}",
         "instances": [{"schema_version": 0, "attributes": {"id": f"{team}-{name}"}, "dependencies": list(deps)}]}
    if module:
        r["module"] = module
    return r


BATCH_STATE = {
    "version": 4, "terraform_version": "1.11.4", "serial": 9, "lineage": "batch-lineage",
    "outputs": {
        "team_alpha": {"value": {"cluster_name": "c1-alpha", "team_role_arn": None, "node_groups": {"system": {"name": "x"}}},
                       "type": ["object", {"cluster_name": "string", "team_role_arn": "dynamic",
                                           "node_groups": ["object", {"system": ["object", {"name": "string"}]}]}]},
        "team_beta": {"value": {"cluster_name": "c1-beta"}, "type": ["object", {"cluster_name": "string"}]},
    },
    "resources": [
        _res("module.team_alpha", "aws_caller_identity", "current", mode="data"),
        _res("module.team_alpha.module.network", "aws_vpc", "this"),
        _res("module.team_alpha.module.network", "aws_subnet", "public", deps=["module.team_alpha.module.network.aws_vpc.this"]),
        _res("module.team_beta.module.network", "aws_vpc", "this", team="beta"),
    ],
    "check_results": None,
}


def test_split_gives_each_team_its_own_addresses_provider_and_outputs():
    parts = split_state(BATCH_STATE, ["alpha", "beta", "gamma"], sensitive={"cluster_name"})
    assert set(parts) == {"alpha", "beta"}                  # gamma created nothing: no state at all
    alpha = parts["alpha"]
    assert alpha["version"] == 4 and alpha["serial"] == 1 and alpha["lineage"] != "batch-lineage"
    assert [(r.get("module"), r["type"]) for r in alpha["resources"]] == [
        (None, "aws_caller_identity"), ("module.network", "aws_vpc"), ("module.network", "aws_subnet")]
    assert {r["provider"] for r in alpha["resources"]} == {PROVIDER}
    assert alpha["resources"][2]["instances"][0]["dependencies"] == ["module.network.aws_vpc.this"]
    assert alpha["outputs"] == {
        "cluster_name": {"value": "c1-alpha", "type": "string", "sensitive": True},
        "node_groups": {"value": {"system": {"name": "x"}},
                        "type": ["object", {"system": ["object", {"name": "string"}]}]},
    }                                                      # the null team_role_arn is left out, as terraform does
    assert [r["instances"][0]["attributes"]["id"] for r in parts["beta"]["resources"]] == ["beta-this"]
    assert BATCH_STATE["resources"][0]["module"] == "module.team_alpha"     # the input is not modified


def test_split_gives_the_batch_providers_resources_the_teams_own_provider():
    # As terraform records them with teams sharing the batch's provider (an alias per account).
    shared = {**BATCH_STATE, "resources": [{**r, "provider": provider_address("p0" if "alpha" in r["module"] else "p1")}
                                           for r in BATCH_STATE["resources"]]}
    parts = split_state(shared, ["alpha", "beta"])
    assert {r["provider"] for p in parts.values() for r in p["resources"]} == {PROVIDER}


def test_split_refuses_a_resource_on_someone_elses_provider():
    bad = {**BATCH_STATE, "resources": [{**_res("module.team_alpha.module.network", "aws_vpc", "this"),
                                          "provider": f"module.team_beta.{PROVIDER}"}]}
    with pytest.raises(ValueError, match="neither the batch's nor the team's own"):
        split_state(bad, ["alpha"])


@pytest.mark.parametrize("n, in_flight, size, sizes", [
    (0, 11, None, []),
    (1, 11, None, [1]),
    (2, 11, None, [2]),
    (3, 3, None, [2, 1]),
    (8, 11, None, [4, 4]),
    (30, 11, None, [5] * 6),
    (10, 11, 4, [4, 3, 3]),
    (5, 11, 1, [1] * 5),
    (30, 56, None, [15, 15]),           # one account: 56 teams fit in memory at once
    (100, 56, None, [20] * 5),          # at most MAX_BATCH teams behind one terraform core
])
def test_plan_batches_sizes(n, in_flight, size, sizes):
    names = [f"t{i:02d}" for i in range(n)]
    groups = ops_batch.plan_batches(names, in_flight, size)
    assert [len(g) for g in groups] == sizes
    assert [t for g in groups for t in g] == names          # every team once, in order


def _batch(tmp_path, teams, state):
    cs = StateDir(tmp_path).cohort("c1")
    bdir = ops_batch.batch_dir(cs, teams)
    bdir.mkdir(parents=True)
    (bdir / "terraform.tfvars.json").write_text(json.dumps({"teams": {t: {} for t in teams}}))
    (bdir / "terraform.tfstate").write_text(json.dumps(state))
    return cs, bdir


def test_recover_splits_a_left_batch_once_and_keeps_a_state_already_written(tmp_path):
    cs, bdir = _batch(tmp_path, ["alpha", "beta"], BATCH_STATE)
    (cs.team_dir("beta")).mkdir(parents=True)
    kept = {"version": 4, "resources": [{"already": "split"}]}
    (cs.team_dir("beta") / "terraform.tfstate").write_text(json.dumps(kept))
    assert ops_batch.recover(cs) == ["alpha"]
    assert cs.has_resources("alpha")
    assert json.loads((cs.team_dir("beta") / "terraform.tfstate").read_text()) == kept
    assert not (bdir / "terraform.tfstate").exists()
    assert ops_batch.recover(cs) == []                        # nothing is split twice
    assert '"command": "recover"' in (cs.root / "audit.log").read_text()


@pytest.mark.parametrize("cut", ["", json.dumps(BATCH_STATE)[:57]])
def test_recover_splits_terraforms_backup_of_a_batch_state_cut_while_it_was_rewritten(tmp_path, cut):
    """A kill while terraform rewrote the batch's state (in place) leaves it empty or cut off;
    terraform's backup is the last state it saved whole: that is split, the cut file kept aside,
    and the teams marked so the next `up` finds what was created since, instead of refusing."""
    cs, bdir = _batch(tmp_path, ["alpha", "beta"], BATCH_STATE)
    (bdir / "terraform.tfstate.backup").write_text(json.dumps(BATCH_STATE))
    (bdir / "terraform.tfstate").write_text(cut)
    assert sorted(ops_batch.recover(cs)) == ["alpha", "beta"]
    assert cs.has_resources("alpha") and cs.has_resources("beta")
    assert all(cs.meta().team(t).applying for t in ("alpha", "beta"))
    assert [p.read_text() for p in bdir.glob("terraform.tfstate.unreadable-*")] == [cut]
    entry = [e for e in cs.audit_entries() if e["command"] == "recover"][0]
    assert entry["result"] == "unreadable" and entry["restored_from"].endswith("terraform.tfstate.backup")


def test_recover_waits_for_a_running_terraform_then_refuses_with_one_line(tmp_path):
    cs, bdir = _batch(tmp_path, ["alpha"], BATCH_STATE)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl,sys,time\n"
        f"f=open({str(bdir / 'terraform.tfstate')!r},'r+'); fcntl.lockf(f, fcntl.LOCK_EX)\n"
        "print('locked', flush=True); time.sleep(30)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        t = time.monotonic()
        with pytest.raises(Exception, match="still applying"):
            ops_batch.recover(cs, wait_s=1.0)
        assert time.monotonic() - t >= 1.0
        assert (bdir / "terraform.tfstate").exists() and not cs.has_resources("alpha")
    finally:
        holder.kill()
        holder.wait()
    assert ops_batch.recover(cs, wait_s=1.0) == ["alpha"]      # the lock went with its process


# --- `down`: the teams' states merged into one batch state, and split back -------------------

FIXTURES = Path(__file__).parent / "fixtures"


def _team_state(team):
    """A real team state (terraform 1.11, lab gpu-baseline on the emulator: data sources, index
    keys, dependencies, check results), named for ``team``."""
    doc = json.loads((FIXTURES / "team-state.json").read_text())
    return json.loads(json.dumps(doc).replace("loop1-a", f"c1-{team}"))


def _identity(state):
    return {k: state[k] for k in ("lineage", "serial", "terraform_version")}


def test_merge_then_split_gives_back_the_states_merged_exactly():
    states = {"alpha": _team_state("alpha"), "be-ta": _team_state("be-ta")}
    for s in states.values():            # every team has the same root: the same outputs are sensitive
        s["outputs"]["cluster_name"]["sensitive"] = True
    before = json.dumps(states, sort_keys=True)
    batch = merge_states(states, {"alpha": "p0", "be-ta": "p0"})
    assert json.dumps(states, sort_keys=True) == before                    # the inputs are not modified
    parts = split_state(batch, list(states), sensitive={"cluster_name"},
                        identities={t: _identity(s) for t, s in states.items()})
    assert parts == states


def test_the_merged_state_puts_every_address_under_its_teams_module():
    batch = merge_states({"alpha": _team_state("alpha"), "beta": _team_state("beta")}, {"alpha": "p0", "beta": "p1"})
    assert batch["version"] == 4 and batch["serial"] == 1 and batch["terraform_version"] == "1.11.4"
    assert batch["lineage"] not in (_team_state("alpha")["lineage"],)
    by_team = {t: [r for r in batch["resources"] if team_of(r["module"] + ".x", ["alpha", "beta"]) == t]
               for t in ("alpha", "beta")}
    assert len(by_team["alpha"]) == len(by_team["beta"]) == len(_team_state("alpha")["resources"])
    data = next(r for r in by_team["alpha"] if r["mode"] == "data")
    assert data["module"] == "module.team_alpha" and data["provider"] == provider_address("p0")
    assert {r["provider"] for r in by_team["beta"]} == {provider_address("p1")}
    deps = [d for r in batch["resources"] for i in r["instances"] for d in i.get("dependencies", [])]
    assert deps and all(d.startswith(("module.team_alpha.", "module.team_beta.")) for d in deps)
    addrs = [o["object_addr"] for c in batch["check_results"] for o in c["objects"] or []]
    assert addrs and all(a.startswith(("module.team_alpha.", "module.team_beta.")) for a in addrs)
    assert batch["outputs"]["team_beta"]["value"]["cluster_name"] == "c1-beta"
    assert batch["outputs"]["team_beta"]["type"][1]["backstop_schedules"] == ["map", "string"]


def test_what_a_failed_batch_destroy_left_goes_back_to_its_own_team_only():
    states = {"alpha": _team_state("alpha"), "beta": _team_state("beta")}
    batch = merge_states(states, {"alpha": "p0", "beta": "p0"})
    # The destroy removed everything of alpha's and all of beta's but its VPC; terraform drops outputs.
    batch["resources"] = [r for r in batch["resources"] if r["module"] == "module.team_beta.module.network"
                          and r["type"] == "aws_vpc"]
    batch["outputs"] = {}
    parts = split_state(batch, ["alpha", "beta"], identities={"beta": {**_identity(states["beta"]), "serial": 99}})
    assert set(parts) == {"beta"}
    assert [(r["module"], r["type"], r["provider"]) for r in parts["beta"]["resources"]] == [
        ("module.network", "aws_vpc", PROVIDER)]
    assert parts["beta"]["lineage"] == states["beta"]["lineage"] and parts["beta"]["serial"] == 99
