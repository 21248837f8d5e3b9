"""`down` falls back to `terraform destroy -refresh=false` when the refreshing destroy fails (a
resource whose read errors must not keep a team's GPUs running), and reports a team whose destroy
fails both ways as failed, leaving it to the sweep.

The terraform runner is replaced by a scripted stand-in (ScriptedTerraform, named as such): what is
under test is the order of the calls `down` makes and what it records, not terraform itself; the
real destroy is exercised in tests/integration/test_lifecycle.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from labctl.ops.down import _destroy_team
from labctl.ops.progress import Board
from labctl.state import StateDir
from labctl.tf.events import Progress, parse_line
from labctl.tf.runner import Result

REFRESH_ERROR = json.dumps({"@level": "error", "@message": "Error: reading EKS Node Group",
                            "type": "diagnostic", "diagnostic": {"severity": "error",
                                                                 "summary": "reading EKS Node Group: throttled"}})
DELETED = json.dumps({"@level": "info", "@message": "aws_s3_bucket.b: Destruction complete", "type": "apply_complete",
                      "hook": {"resource": {"addr": "module.checkpoints.aws_s3_bucket.this"}, "action": "delete"}})


@dataclass
class ScriptedTerraform:
    """Answers each `run` with the next scripted (returncode, stdout lines)."""
    script: list[tuple[int, list[str]]]
    calls: list[list[str]] = field(default_factory=list)

    def run(self, args, on_event=None):  # type: ignore[no-untyped-def]
        self.calls.append(list(args))
        rc, lines = self.script.pop(0)
        progress = Progress()
        for line in lines:
            ev = parse_line(line)
            if ev is not None:
                progress.feed(ev)
                if on_event is not None:
                    on_event(ev)
        return Result(rc, progress, "", "\n".join(lines))


class Ctx:
    def __init__(self, tf: ScriptedTerraform) -> None:
        self._tf = tf

    def tf(self, team: str) -> ScriptedTerraform:
        return self._tf

    def ensure_init(self, team: str) -> None:
        pass


def _cohort_with_state(tmp_path):
    cs = StateDir(tmp_path).cohort("c1")
    d = cs.team_dir("alpha")
    d.mkdir(parents=True)
    (d / "terraform.tfstate").write_text(json.dumps({"resources": [{"mode": "managed", "type": "aws_s3_bucket"}]}))
    return cs


def test_a_failed_refresh_is_retried_without_refresh_and_the_team_counts_as_destroyed(tmp_path):
    cs = _cohort_with_state(tmp_path)
    tf = ScriptedTerraform([(1, [REFRESH_ERROR]), (0, [DELETED])])
    out = _destroy_team(Ctx(tf), cs, "alpha", stale=False, board=Board("down", ["alpha"], quiet=True))
    assert [("-refresh=false" in c) for c in tf.calls] == [False, True]
    assert all("-destroy" in c for c in tf.calls)
    assert out.destroy == "destroyed" and out.error is None
    assert out.destroyed == ["module.checkpoints.aws_s3_bucket.this"]
    assert cs.meta().team("alpha").status == "destroyed"


def test_a_destroy_failing_both_ways_is_reported_with_terraforms_error_for_the_sweep(tmp_path):
    cs = _cohort_with_state(tmp_path)
    tf = ScriptedTerraform([(1, [REFRESH_ERROR]), (1, [REFRESH_ERROR])])
    out = _destroy_team(Ctx(tf), cs, "alpha", stale=False, board=Board("down", ["alpha"], quiet=True))
    assert len(tf.calls) == 2
    assert out.destroy == "failed"
    assert "reading EKS Node Group: throttled" in out.error
    assert cs.meta().team("alpha").status == "destroy-failed"


def test_a_clean_destroy_runs_terraform_once(tmp_path):
    cs = _cohort_with_state(tmp_path)
    tf = ScriptedTerraform([(0, [DELETED])])
    out = _destroy_team(Ctx(tf), cs, "alpha", stale=False, board=Board("down", ["alpha"], quiet=True))
    assert len(tf.calls) == 1 and "-refresh=false" not in tf.calls[0]
    assert out.destroy == "destroyed"


def test_a_stale_state_is_set_aside_not_destroyed(tmp_path):
    """The emulator restarted: what the state describes went with it; terraform is not run and the
    state is kept beside, out of terraform's way, for inspection."""
    cs = _cohort_with_state(tmp_path)
    tf = ScriptedTerraform([])
    out = _destroy_team(Ctx(tf), cs, "alpha", stale=True, board=Board("down", ["alpha"], quiet=True))
    assert out.destroy == "skipped-stale-state" and tf.calls == []
    d = cs.team_dir("alpha")
    assert not (d / "terraform.tfstate").exists() and len(list(d.glob("terraform.tfstate.stale-*"))) == 1
