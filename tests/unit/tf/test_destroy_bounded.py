"""A destroy that runs out of its time is not retried: `down` reports the team "timed-out" and
leaves the rest to the sweep (which follows every destroy), instead of a second destroy that hangs
the same way. One stopped by Ctrl-C is reported as interrupted. Scripted terraform, as in
test_destroy_fallback.py; the real bound is the runner's (test_runner_bounds.py)."""

from __future__ import annotations

from dataclasses import replace

from labctl.ops.down import DESTROY_TIMEOUT_S, _destroy_team
from labctl.ops.progress import Board
from tests.unit.tf.test_destroy_fallback import DELETED, REFRESH_ERROR, Ctx, ScriptedTerraform, _cohort_with_state


class TimedTerraform(ScriptedTerraform):
    """Scripted, and records the time bound each run was given; ``flag`` marks the results."""

    def __init__(self, script, flag):  # type: ignore[no-untyped-def]
        super().__init__(script)
        self.flag = flag
        self.bounds: list[float | None] = []

    def run(self, args, on_event=None, timeout_s=None):  # type: ignore[no-untyped-def]
        self.bounds.append(timeout_s)
        return replace(super().run(args, on_event), **{self.flag: True})


def test_a_destroy_out_of_time_falls_through_to_the_sweep_without_a_second_destroy(tmp_path):
    cs = _cohort_with_state(tmp_path)
    tf = TimedTerraform([(1, [DELETED, REFRESH_ERROR])], "timed_out")
    out = _destroy_team(Ctx(tf), cs, "alpha", stale=False, board=Board("down", ["alpha"], quiet=True), timeout_s=300)
    assert len(tf.calls) == 1 and 0 < tf.bounds[0] <= 300
    assert out.destroy == "timed-out" and "within 300 s" in out.error and "sweep" in out.error
    assert out.destroyed == ["module.checkpoints.aws_s3_bucket.this"]      # what it did remove is listed
    assert cs.meta().team("alpha").status == "destroy-failed"


def test_an_interrupted_destroy_is_not_retried(tmp_path):
    cs = _cohort_with_state(tmp_path)
    tf = TimedTerraform([(1, [REFRESH_ERROR])], "cancelled")
    out = _destroy_team(Ctx(tf), cs, "alpha", stale=False, board=Board("down", ["alpha"], quiet=True), timeout_s=300)
    assert len(tf.calls) == 1 and out.destroy == "interrupted"


def test_the_bound_is_documented_per_target():
    assert DESTROY_TIMEOUT_S["embedded"] == DESTROY_TIMEOUT_S["localstack"] == 300
    assert DESTROY_TIMEOUT_S["aws"] >= 1800      # EKS clusters and node groups take 10-20 minutes to delete
