"""The trainer as a child process against the emulator's S3: finish, interruption, resume.

Four runs start at once (two cores; each spends most of its start-up importing torch), then
five restarts; each test below checks one claim on those runs' JSON log lines.
"""

from __future__ import annotations

import hashlib
import signal
from dataclasses import dataclass

import pytest

from tests.workload.conftest import S3, TrainerRun, require_torch, trainer_env

require_torch()

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

TOTAL = 240
EVERY = 40


@dataclass
class Runs:
    bucket: str
    baseline: TrainerRun
    term: tuple[TrainerRun, TrainerRun]
    kill: tuple[TrainerRun, TrainerRun]
    nockpt: tuple[TrainerRun, TrainerRun]
    corrupted: TrainerRun
    corrupted_key: str
    restarted_when_done: TrainerRun


@pytest.fixture(scope="module")
def runs(s3: S3) -> Runs:
    bucket = s3.new_bucket()

    def env(prefix: str, every: int = EVERY) -> dict[str, str]:
        return trainer_env(s3, s3_bucket=bucket, s3_prefix=prefix, total_steps=TOTAL, checkpoint_every=every)

    started: list[TrainerRun] = []

    def start(e: dict[str, str], signal_at: tuple[int, signal.Signals] | None = None) -> TrainerRun:
        started.append(TrainerRun(e, signal_at))
        return started[-1]

    try:
        baseline = start(env("baseline"))
        term1 = start(env("term"), (50, signal.SIGTERM))
        kill1 = start(env("kill"), (50, signal.SIGKILL))    # between two checkpoints: no chance to save
        nockpt1 = start(env("nockpt", every=0), (50, signal.SIGTERM))
        for run in (baseline, term1, kill1, nockpt1):
            run.wait()
        for run in (term1, kill1, nockpt1):
            assert run.signalled_at is not None and not run.of("finished"), (
                "the run finished before the signal reached it (machine very busy?)")

        # A damaged newest checkpoint: same size, other bytes (bit rot, a bad copy).
        s3.clone_prefix(bucket, "baseline", "corrupted")
        newest = s3.pointer(bucket, "corrupted")["checkpoints"][0]["key"]
        body = bytearray(s3.get(bucket, newest))
        body[len(body) // 2: len(body) // 2 + 64] = b"\xff" * 64
        s3.put(bucket, newest, bytes(body))

        term2 = start(env("term"))
        kill2 = start(env("kill"))
        nockpt2 = start(env("nockpt", every=0))
        corrupted = start(env("corrupted"))
        done = start(env("baseline"))
        for run in (term2, kill2, nockpt2, corrupted, done):
            run.wait()
    finally:
        for run in started:
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait()
    return Runs(bucket, baseline, (term1, term2), (kill1, kill2), (nockpt1, nockpt2), corrupted, newest, done)


def test_short_run_finishes_and_leaves_a_verified_checkpoint(runs: Runs, s3: S3) -> None:
    run = runs.baseline
    assert run.proc.returncode == 0, run.stderr
    assert run.one("finished")["step"] == TOTAL
    pointer = s3.pointer(runs.bucket, "baseline")
    newest = pointer["checkpoints"][0]
    assert newest["step"] == TOTAL
    assert hashlib.sha256(s3.get(runs.bucket, newest["key"])).hexdigest() == newest["sha256"]
    # Three bodies kept as fallbacks, older ones deleted.
    assert [e["step"] for e in pointer["checkpoints"]] == [TOTAL, TOTAL - EVERY, TOTAL - 2 * EVERY]
    assert len(s3.keys(runs.bucket, "baseline/objects/")) == 3
    saved = [e["step"] for e in run.of("checkpoint_saved")]
    assert saved == list(range(EVERY, TOTAL + 1, EVERY))


def test_the_model_really_learns(runs: Runs) -> None:
    losses = [e["loss"] for e in runs.baseline.of("progress")]
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:3]) / 3, losses


def test_sigterm_checkpoints_at_once_and_the_restart_resumes_there(runs: Runs) -> None:
    first, second = runs.term
    assert first.proc.returncode == 143, first.stderr
    stopped = first.one("interrupted")
    assert stopped["signal"] == "SIGTERM" and stopped["steps_lost"] == 0
    assert stopped["step"] >= 50 and stopped["step"] < TOTAL
    last_saved = first.of("checkpoint_saved")[-1]
    assert last_saved["step"] == stopped["step"]
    assert last_saved["reason"] in {"sigterm", "interval"}

    assert second.proc.returncode == 0, second.stderr
    resumed = second.one("resumed")
    assert resumed["step"] == stopped["step"]          # nothing redone
    summary = second.one("summary")
    assert summary["start_step"] == stopped["step"] and summary["end_step"] == TOTAL
    assert stopped["step"] + summary["steps_run"] == TOTAL


def test_resumed_training_is_bit_identical_to_an_uninterrupted_run(runs: Runs) -> None:
    reference = runs.baseline.one("summary")["params_sha256"]
    assert runs.term[1].one("summary")["params_sha256"] == reference
    assert runs.kill[1].one("summary")["params_sha256"] == reference


def test_sigkill_redoes_at_most_one_checkpoint_interval(runs: Runs) -> None:
    first, second = runs.kill
    assert first.proc.returncode == -signal.SIGKILL
    assert not first.of("interrupted")                 # no chance to say goodbye
    reached = first.max_step()                         # at least this much work was done
    resumed_at = second.one("resumed")["step"]
    assert resumed_at >= max(e["step"] for e in first.of("checkpoint_saved"))
    redone = reached - resumed_at
    assert 0 <= redone <= EVERY, (reached, resumed_at)
    summary = second.one("summary")
    assert summary["end_step"] == TOTAL and resumed_at + summary["steps_run"] == TOTAL


def test_without_checkpointing_an_interruption_loses_everything(runs: Runs, s3: S3) -> None:
    first, second = runs.nockpt
    assert first.one("checkpointing_disabled")
    stopped = first.one("interrupted")
    assert first.proc.returncode == 143
    assert stopped["step"] >= 50 and stopped["steps_lost"] == stopped["step"]
    assert s3.keys(runs.bucket, "nockpt") == []        # nothing was ever written
    assert not second.of("resumed")
    summary = second.one("summary")
    assert summary["start_step"] == 0 and summary["steps_run"] == TOTAL


def test_a_corrupted_checkpoint_is_never_loaded(runs: Runs) -> None:
    run = runs.corrupted
    assert run.proc.returncode == 0, run.stderr
    rejected = run.one("checkpoint_rejected")
    assert rejected["key"] == runs.corrupted_key and "sha256" in rejected["reason"]
    assert run.one("resumed")["step"] == TOTAL - EVERY          # the previous good one
    assert run.one("summary")["params_sha256"] == runs.baseline.one("summary")["params_sha256"]


def test_a_finished_run_restarted_does_nothing(runs: Runs) -> None:
    again = runs.restarted_when_done
    assert again.proc.returncode == 0, again.stderr
    assert again.one("already_complete")["step"] == TOTAL
    assert not again.of("progress") and not again.of("checkpoint_saved")
