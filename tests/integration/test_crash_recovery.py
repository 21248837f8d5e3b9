"""A hard crash mid-apply converges on rerun, without duplicates (issue: a laptop that dies, an OOM
kill). The whole process tree, labctl, terraform and its providers, is killed with SIGKILL at
several points of an apply (the runner's fault hook, LABCTL_TEST_KILL_AFTER_APPLIES: the N-th
resource terraform completes kills them all), so the saved state lacks what was created in the
last seconds. Rerunning `up` exits 0 with exactly one VPC, cluster and budget per team, saying per
resource what it imported or deleted; `down` then proves zero. Real terraform, real processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter

import pytest
import yaml

from labctl.aws import emulator
from labctl.aws.inventory import inventory
from labctl.aws.session import AwsTarget
from labctl.tf import state as tfstate
from labctl.tf.runner import KILL_AFTER_ENV
from tests.integration.conftest import mirror_or_skip, terraform_or_skip

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]

ONE_PER_TEAM = ("ec2:vpc", "eks:cluster", "budgets:budget", "s3:bucket", "ec2:internet-gateway", "sns:topic")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    terraform_or_skip()
    mirror_or_skip()
    base = tmp_path_factory.mktemp("crash")
    state = base / "state"
    info, _ = emulator.start_background(state)
    yield {"base": base, "state": state, "target": AwsTarget(kind="embedded", region="us-east-1", endpoint_url=info.url)}
    emulator.stop_background(state)


def _labctl(state, *args):
    return [sys.executable, "-m", "labctl", "--state-dir", str(state), *args]


def _spec(base, cohort, teams):
    spec = base / f"{cohort}.yaml"
    spec.write_text(yaml.safe_dump({
        "cohort": cohort, "target": "embedded", "region": "us-east-1", "lab": "gpu-baseline",
        "window": {"start": "2030-01-01T09:00:00Z", "duration": "4h"}, "teams": [{"name": t} for t in teams]}))
    return spec


@pytest.mark.parametrize("cohort,teams,kill_after", [
    # A batch killed among the first network and IAM resources (after 6 creates) converged the
    # same way when it was measured; as a third real-terraform case it cost the suite 2 minutes.
    ("kb-late", ["a", "b"], 30),        # a batch, killed with clusters and node groups on the way
    ("ks-mid", ["solo"], 14),           # one team's own root
])
def test_up_killed_with_its_whole_process_tree_converges_on_rerun(world, cohort, teams, kill_after):
    state, target = world["state"], world["target"]
    spec = _spec(world["base"], cohort, teams)
    env = {**os.environ, KILL_AFTER_ENV: str(kill_after)}
    killed = subprocess.run(_labctl(state, "up", str(spec)), env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    meta = json.loads((state / "cohorts" / cohort / "meta.json").read_text())
    assert all(meta["teams"][t].get("applying") for t in teams), meta["teams"]   # the crash is on record
    if cohort == "ks-mid":
        _a_dry_run_says_what_it_would_import_and_delete(state, spec, target, cohort)

    rerun = subprocess.run(_labctl(state, "--output", "json", "up", str(spec)), capture_output=True, text=True,
                           timeout=900)
    assert rerun.returncode == 0, _failures(rerun)
    report = json.loads(rerun.stdout)
    found = inventory(target, cohort).resources
    for team in teams:
        mine = Counter(r.type for r in found if r.team == team)
        for kind in ONE_PER_TEAM:
            assert mine[kind] == 1, (team, kind, mine)
        assert mine["eks:nodegroup"] == 2 and mine["ec2:subnet"] == 2, (team, mine)
    meta = json.loads((state / "cohorts" / cohort / "meta.json").read_text())
    assert not any(meta["teams"][t].get("applying") for t in teams)
    # What the killed apply had created after its last state save was imported or deleted, and
    # said so per resource, in the output and the audit log.
    reconciled = [line for t in report["teams"] for line in t["reconciled"]]
    audit = [json.loads(line) for line in (state / "cohorts" / cohort / "audit.log").read_text().splitlines()]
    entries = [e for e in audit if e["command"] == "reconcile"]
    assert {e["team"] for e in entries} == set(teams)
    assert len(reconciled) == sum(len(e["imported"]) + len(e["deleted"]) for e in entries)
    world.setdefault("reconciled", []).extend(reconciled)
    if cohort == "ks-mid":
        world["reconciled"].append(_a_state_that_lost_the_budget_imports_it(state, spec, target, cohort, teams[0]))
        world["reconciled"] += _a_team_apply_killed_midway_is_reconciled_by_the_next(state, target, cohort, teams[0])

    journal = _a_down_killed_mid_batch(state, cohort) if cohort == "kb-late" else None
    down = subprocess.run(_labctl(state, "--output", "json", "down", cohort), capture_output=True, text=True, timeout=900)
    assert down.returncode == 0, (down.stdout[-3000:], down.stderr[-3000:])
    assert json.loads(down.stdout)["clean"] is True
    assert inventory(target, cohort).resources == ()
    if journal is not None:
        _the_proofs_list_what_the_killed_down_had_destroyed(state, cohort, teams, journal)


def _a_down_killed_mid_batch(state, cohort):
    """`down` destroys both teams with one terraform command; the 6th resource it removes kills it
    and labctl at once (SIGKILL). Their resources are then in the batch's state only (the teams'
    own were emptied); what it destroyed is in its journal, written as it went."""
    env = {**os.environ, KILL_AFTER_ENV: "6"}
    killed = subprocess.run(_labctl(state, "down", cohort), env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    cohort_dir = state / "cohorts" / cohort
    assert (cohort_dir / "batches" / "down-a" / "terraform.tfstate").exists()
    journal = [json.loads(line) for line in (cohort_dir / "teardown-journal.jsonl").read_text().splitlines()]
    # Each team's node groups (their ASG tags with them) and cluster went through the EKS API just
    # before the destroy (labctl.ops.down_eks), journaled as they went; then terraform destroyed
    # 5 more, and the 6th killed it.
    eks = [e for e in journal if e["how"] == "destroyed" and re.search(r"aws_eks_|aws_autoscaling_group_tag", e["item"])]
    assert {e["team"] for e in eks if e["item"] == "module.cluster.aws_eks_cluster.this"} == {"a", "b"}, journal
    assert len([e for e in journal if e["how"] == "destroyed" and e not in eks]) == 5, journal
    return journal


def _the_proofs_list_what_the_killed_down_had_destroyed(state, cohort, teams, journal):
    """The next `down` split the batch's state back, finished, and its proofs list what the killed
    one had destroyed too (issue: a proof lists everything removed by any means)."""
    cohort_dir = state / "cohorts" / cohort
    assert not (cohort_dir / "batches" / "down-a" / "terraform.tfstate").exists()
    assert not (cohort_dir / "teardown-journal.jsonl").exists()
    for team in teams:
        proof = json.loads((cohort_dir / "reports" / f"teardown-{team}.json").read_text())
        mine = [e for e in journal if e["team"] == team]
        assert proof["clean"] and proof["earlier_runs"] == sorted({e["run"] for e in mine}), proof
        assert {e["item"] for e in mine if e["how"] == "destroyed"} <= set(proof["destroyed"]), (team, proof)


def _failures(proc) -> str:  # type: ignore[no-untyped-def]
    try:
        return "; ".join(f"{t['team']}: {t['error']}" for t in json.loads(proc.stdout)["teams"] if t["error"])
    except (ValueError, KeyError):
        return proc.stderr[-3000:]


def _a_dry_run_says_what_it_would_import_and_delete(state, spec, target, cohort):
    before = sorted((r.type, r.id) for r in inventory(target, cohort).resources)
    dry = subprocess.run(_labctl(state, "--output", "json", "up", str(spec), "--dry-run"), capture_output=True,
                         text=True, timeout=600)
    lines = [line for t in json.loads(dry.stdout)["teams"] for line in t["reconciled"]]
    assert lines and all(line.startswith(("would import ", "would delete ")) for line in lines), lines
    assert sorted((r.type, r.id) for r in inventory(target, cohort).resources) == before     # nothing changed


def _a_state_that_lost_the_budget_imports_it(state, spec, target, cohort, team):
    """The budget is the issue's own example (`DuplicateRecordException: the budget already
    exists`): a state saved just before terraform created it, then the crash."""
    path = state / "cohorts" / cohort / "teams" / team / "terraform.tfstate"
    doc = json.loads(path.read_text())
    doc["resources"] = [r for r in doc["resources"] if r["type"] != "aws_budgets_budget"]
    doc["serial"] += 1
    path.write_text(json.dumps(doc))
    meta_path = state / "cohorts" / cohort / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["teams"][team]["applying"] = "2030-01-01T09:00:00+00:00"
    meta_path.write_text(json.dumps(meta))
    rerun = subprocess.run(_labctl(state, "up", str(spec)), capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, (rerun.stdout[-3000:], rerun.stderr[-3000:])
    line = f"imported budgets:budget {cohort}-{team}-budget into module.budget.aws_budgets_budget.this"
    assert f"  {line}" in rerun.stdout
    assert [r.type for r in inventory(target, cohort).resources].count("budgets:budget") == 1
    return line


def _a_team_apply_killed_midway_is_reconciled_by_the_next(state, target, cohort, team):
    """`team apply` records the same marker as `up`, and honours it: a team apply killed right
    after EKS created the spot node group (before terraform saved its state) is followed by one
    that imports the node group into the state instead of failing on its name (the node-group
    import of labctl.ops.reconcile, with real terraform)."""
    tdir = state / "cohorts" / cohort / "teams" / team
    # One on-demand GPU node fewer (an update in place) makes room in the GPU quota for the spot
    # pool (a create); the kill comes once both are done.
    (tdir / "knobs.yaml").write_text(yaml.safe_dump({"node_groups": {
        "gpu_on_demand": {"min_size": 1, "desired_size": 1, "max_size": 1}, "gpu_spot": {"max_size": 1}}}))
    env = {**os.environ, KILL_AFTER_ENV: "2"}
    argv = _labctl(state, "--output", "json", "team", "apply", team, "--cohort", cohort)
    killed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    meta = json.loads((state / "cohorts" / cohort / "meta.json").read_text())
    assert meta["teams"][team].get("applying"), meta["teams"][team]
    spot = f"{cohort}-{team}-gpu_spot"
    assert [r.id for r in inventory(target, cohort).resources if r.type == "eks:nodegroup"].count(spot) == 1
    # Whether terraform saved its state after the node group's create (it saves every 20 s, and
    # creating a node group can take that long) is a race: the state is made to lack it, as a save
    # just before the create would have left it. A kill during that save leaves the file cut off
    # (terraform rewrites it in place): labctl then puts terraform's backup in its place.
    state_doc = tfstate.read_or_none(tdir / "terraform.tfstate")
    if state_doc is not None:
        state_doc["resources"] = [r for r in state_doc["resources"]
                                  if not (r["type"] == "aws_eks_node_group" and '"gpu_spot"' in r.get("module", ""))]
        state_doc["serial"] += 1
        (tdir / "terraform.tfstate").write_text(json.dumps(state_doc))

    rerun = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, (rerun.stdout[-3000:], rerun.stderr[-3000:])
    out = json.loads(rerun.stdout)
    assert (f'imported eks:nodegroup {spot} into module.node_group["gpu_spot"].aws_eks_node_group.this[0]'
            in out["reconciled"]), out["reconciled"]
    return out["reconciled"]
    assert [r.id for r in inventory(target, cohort).resources if r.type == "eks:nodegroup"].count(spot) == 1
    meta = json.loads((state / "cohorts" / cohort / "meta.json").read_text())
    assert not meta["teams"][team].get("applying")
    assert not (tdir / "labctl-imports.tf.json").exists()
    plan = subprocess.run(_labctl(state, "--output", "json", "team", "plan", team, "--cohort", cohort),
                          capture_output=True, text=True, timeout=600)
    assert json.loads(plan.stdout)["changes"] == [], plan.stdout[-2000:]     # the state is whole again


def test_the_crashes_left_resources_outside_the_state_and_both_remedies_were_used(world):
    """Without this the test above could pass by never leaving anything behind. (Which resources a
    kill leaves outside the state depends on when terraform last saved it: the imports may come
    from the two crafted cases, a state saved before the budget, and before the node group.)"""
    lines = world.get("reconciled", [])
    assert any(line.startswith("imported ") for line in lines), lines
    assert any(line.startswith("deleted ") for line in lines), lines
