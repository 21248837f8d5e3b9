"""`down` destroys several teams with one terraform command, and keeps each team's outcome its own:
what the batch's destroy leaves goes back to its own team's state, a team left by a failed batch
is destroyed alone, and a team the batch removed whole is destroyed whatever happened to the
others. terraform is a scripted stand-in (as in test_destroy_fallback.py) that writes the state a
real destroy would leave; the real batch destroy runs in tests/integration/test_interrupt_and_teardown.py."""

from __future__ import annotations

import json
from pathlib import Path

from labctl.ops import batch as batches
from labctl.ops.down import _destroy_in_batch
from labctl.ops.progress import Board
from labctl.state import StateDir
from labctl.tf.batch import PROVIDER
from labctl.tf.events import Progress
from labctl.tf.runner import Result
from tests.unit.tf.test_destroy_fallback import ScriptedTerraform as Scripted

TEAMS = ["alpha", "beta"]


def _state(team, *types):
    return {"version": 4, "terraform_version": "1.11.4", "serial": 7, "lineage": f"lineage-{team}",
            "outputs": {"cluster_name": {"value": f"c1-{team}", "type": "string"}},
            "resources": [{"module": "module.network", "mode": "managed", "type": t, "name": "this", "provider": PROVIDER,
                           "instances": [{"schema_version": 0, "attributes": {"id": f"{team}-{t}"}}]} for t in types],
            "check_results": None}


def _deleted(address):
    return json.dumps({"type": "apply_complete", "@level": "info", "@message": f"{address}: Destruction complete",
                       "hook": {"resource": {"addr": address}, "action": "delete"}})


def _error(summary, address=None):
    return json.dumps({"type": "diagnostic", "@level": "error", "@message": f"Error: {summary}",
                       "diagnostic": {"severity": "error", "summary": summary, **({"address": address} if address else {})}})


class ScriptedTerraform(Scripted):
    """Scripted (test_destroy_fallback.py), and leaves the state a real destroy would: only the
    resources ``keep`` names (``<module>.<type>``), per run; records the state each run found."""

    def __init__(self, workdir: Path, script: list[tuple[int, list[str], set[str]]]) -> None:
        super().__init__([(rc, lines) for rc, lines, _ in script])
        self.workdir, self.keep = workdir, [keep for _, _, keep in script]
        self.seen: list[dict] = []

    def init(self):
        return Result(0, Progress(), "", "")

    def run(self, args, on_event=None, timeout_s=None):  # type: ignore[no-untyped-def]
        state = json.loads((self.workdir / "terraform.tfstate").read_text())
        self.seen.append(json.loads(json.dumps(state)))
        res = super().run(args, on_event)
        keep = self.keep.pop(0)
        state["resources"] = [r for r in state["resources"] if f'{r.get("module", "")}.{r["type"]}' in keep]
        state["outputs"], state["serial"] = {}, state["serial"] + 1
        (self.workdir / "terraform.tfstate").write_text(json.dumps(state))
        return res


class Ctx:
    def __init__(self, cs, batch_script, alone_scripts):
        self.cs, self.batch_script, self.alone_scripts = cs, batch_script, alone_scripts
        self.batch_tf: ScriptedTerraform | None = None
        self.alone: dict[str, ScriptedTerraform] = {}

    def tf_at(self, workdir, data_dir=None):
        self.batch_tf = ScriptedTerraform(workdir, self.batch_script)
        return self.batch_tf

    def tf(self, team):
        return self.alone.setdefault(team, ScriptedTerraform(self.cs.team_dir(team), self.alone_scripts[team]))

    def ensure_init(self, team):
        pass


def _cohort(tmp_path):
    cs = StateDir(tmp_path).cohort("c1")
    for team in TEAMS:
        d = cs.team_dir(team)
        d.mkdir(parents=True)
        (d / "terraform.tfvars.json").write_text(json.dumps({
            "cohort": "c1", "team": team, "lab": "gpu-baseline", "expires_at": "2026-12-01T13:00:00Z", "region": "us-east-1",
            "provider_settings": {"emulator": True, "max_retries": 3}}))
        (d / "terraform.tfstate").write_text(json.dumps(_state(team, "aws_vpc", "aws_subnet")))
    return cs


def _team_state(cs, team):
    return json.loads((cs.team_dir(team) / "terraform.tfstate").read_text())


def test_one_destroy_for_the_batch_and_a_team_it_left_is_destroyed_alone(tmp_path):
    cs = _cohort(tmp_path)
    batch = [(1, [_deleted("module.team_alpha.module.network.aws_subnet.this"),
                  _deleted("module.team_alpha.module.network.aws_vpc.this"),
                  _deleted("module.team_beta.module.network.aws_subnet.this"),
                  _error("DependencyViolation: vpc beta-aws_vpc", "module.team_beta.module.network.aws_vpc.this")],
              {"module.team_beta.module.network.aws_vpc"})]
    ctx = Ctx(cs, batch, {"beta": [(0, [_deleted("module.network.aws_vpc.this")], set())]})
    recorded = []
    out = _destroy_in_batch(ctx, cs, TEAMS, Board("down", TEAMS, quiet=True), 300,
                            lambda team, address: recorded.append((team, address)))

    # The batch's terraform saw both teams' resources under their modules, on the one provider of
    # their (shared) account.
    merged = ctx.batch_tf.seen[0]
    assert {(r["module"], r["provider"]) for r in merged["resources"]} == {
        (f"module.team_{t}.module.network", f"{PROVIDER}.p0") for t in TEAMS}
    # While it ran, each resource was in the batch's state only: the teams' own were emptied.
    # Then beta, which the batch left with its VPC, got that back in its own state, and was destroyed alone.
    assert [r["type"] for r in ctx.alone["beta"].seen[0]["resources"]] == ["aws_vpc"]
    assert ctx.alone["beta"].seen[0]["lineage"] == "lineage-beta" and ctx.alone["beta"].seen[0]["serial"] > 7
    assert "alpha" not in ctx.alone                                   # alpha's outcome is its own
    by_team = {t.team: t for t in out}
    assert by_team["alpha"].destroy == "destroyed" and by_team["alpha"].destroyed == [
        "module.network.aws_subnet.this", "module.network.aws_vpc.this"]
    assert by_team["beta"].destroy == "destroyed"
    assert by_team["beta"].destroyed == ["module.network.aws_subnet.this", "module.network.aws_vpc.this"]
    assert [(t, a) for t, a in recorded] == [("alpha", "module.network.aws_subnet.this"),
                                              ("alpha", "module.network.aws_vpc.this"),
                                              ("beta", "module.network.aws_subnet.this"),
                                              ("beta", "module.network.aws_vpc.this")]
    assert not (batches.down_batch_dir(cs, TEAMS) / "terraform.tfstate").exists()
    assert _team_state(cs, "alpha")["resources"] == [] and _team_state(cs, "alpha")["lineage"] == "lineage-alpha"
    assert cs.meta().team("alpha").status == "destroyed"


def test_a_batch_out_of_time_leaves_each_team_what_it_still_has_for_the_sweep(tmp_path):
    cs = _cohort(tmp_path)
    batch = [(1, [_deleted("module.team_alpha.module.network.aws_subnet.this"),
                  _deleted("module.team_alpha.module.network.aws_vpc.this")],
              {"module.team_beta.module.network.aws_vpc", "module.team_beta.module.network.aws_subnet"})]

    class TimedOut(Ctx):
        def tf_at(self, workdir, data_dir=None):
            tf = super().tf_at(workdir)
            run = tf.run

            def timed(args, on_event=None, timeout_s=None):  # type: ignore[no-untyped-def]
                from dataclasses import replace
                return replace(run(args, on_event), timed_out=True)
            tf.run = timed  # type: ignore[method-assign]
            return tf

    ctx = TimedOut(cs, batch, {})
    out = {t.team: t for t in _destroy_in_batch(ctx, cs, TEAMS, Board("down", TEAMS, quiet=True), 300, lambda *a: None)}
    assert out["alpha"].destroy == "destroyed"
    assert out["beta"].destroy == "timed-out" and "within 300 s" in out["beta"].error and not ctx.alone
    assert [r["type"] for r in _team_state(cs, "beta")["resources"]] == ["aws_vpc", "aws_subnet"]
    assert cs.meta().team("beta").status == "destroy-failed"


def test_a_down_batch_left_by_a_kill_is_split_back_without_marking_an_apply(tmp_path):
    cs = _cohort(tmp_path)
    states = {t: _team_state(cs, t) for t in TEAMS}
    bdir = batches.down_batch_dir(cs, TEAMS)
    bdir.mkdir(parents=True)
    (bdir / "terraform.tfvars.json").write_text(json.dumps({"teams": {t: {} for t in TEAMS}}))
    batches.move_into_batch(cs, bdir, states, {t: "p0" for t in TEAMS})
    assert not cs.has_resources("alpha") and not cs.has_resources("beta")    # in the batch's state only
    assert batches.recover(cs) == TEAMS
    assert [r["type"] for r in _team_state(cs, "beta")["resources"]] == ["aws_vpc", "aws_subnet"]
    assert not any(cs.meta().team(t).applying for t in TEAMS)           # a destroy created nothing to reconcile
