"""The training loop: resume, train, checkpoint on schedule and on SIGTERM, report.

Exit codes are listed in env-contract.json: 0 done, 2 configuration rejected, 143 stopped by
SIGTERM (after checkpointing when on), 1 anything else.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import sys
import time
import warnings
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any

from trainer.config import ConfigError, Settings, from_environ
from trainer.log import JsonLog

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
EXIT_SIGNAL = {"SIGTERM": 143, "SIGINT": 130}
WARMUP_STEPS = 5  # left out of the summary's throughput: first steps pay for allocation and kernel selection


# Fault injection for the workload tests (tests/workload): "STEP:SIGNAL" (e.g. "50:SIGTERM") makes
# the trainer send itself SIGNAL once it has completed step STEP, as a spot interruption's SIGTERM
# or a kill arriving at that step would. Sent from outside, the signal raced the trainer: on a
# quiet machine a short run could finish before the test's reader saw the step and signalled.
SIGNAL_AT_ENV = "LABCTL_TEST_SIGNAL_AT_STEP"


def _signal_at(environ: Mapping[str, str]) -> tuple[int, signal.Signals] | None:
    step, _, name = environ.get(SIGNAL_AT_ENV, "").partition(":")
    if not step.isdigit() or name not in ("SIGTERM", "SIGINT", "SIGKILL"):
        return None
    return int(step), signal.Signals[name]


class StopFlag:
    """Set by SIGTERM/SIGINT; the loop looks at it between steps."""

    def __init__(self, inject: tuple[int, signal.Signals] | None = None) -> None:
        self.signal: str | None = None
        self.inject = inject           # SIGNAL_AT_ENV, for the tests

    def after_step(self, step: int) -> None:
        if self.inject is not None and step == self.inject[0]:
            os.kill(os.getpid(), self.inject[1])

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handler)

    def _handler(self, signum: int, _frame: Any) -> None:
        if self.signal is None:
            self.signal = signal.Signals(signum).name


def main() -> int:
    log = JsonLog()
    try:
        settings = from_environ(os.environ)
    except ConfigError as exc:
        log.event("config_error", problems=exc.problems)
        for problem in exc.problems:
            print(f"trainer: configuration error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    stop = StopFlag(_signal_at(os.environ))
    stop.install()
    try:
        return Trainer(settings, log, stop).run()
    except Exception as exc:  # noqa: BLE001 - the pod's last word; the Job retries
        log.event("fatal", error=f"{type(exc).__name__}: {exc}")
        raise


def _s3_client(settings: Settings) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", region_name=settings.region, endpoint_url=settings.endpoint_url or None,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=60),
    )


@dataclass
class _Loop:
    """The training loop's running state: where it is, what it has measured, why it stopped."""

    step: int
    start_step: int
    last_saved: int
    t_start: float
    window_t: float                     # the current throughput window: its start time and step
    window_step: int
    measured_from: int
    measured_t: float | None = None     # when the warm-up steps were over
    util_samples: list[float] = field(default_factory=list)
    mem_max: float = 0.0
    loss_value: float = float("nan")
    first_loss: float | None = None
    stopped: str = "finished"


def _pick_device(torch: Any, s: Settings) -> tuple[Any, str]:
    if s.device == "cuda" or (s.device == "auto" and torch.cuda.is_available()):
        device = torch.device("cuda")
        torch.set_float32_matmul_precision("high")  # TF32 on tensor cores, as a tuned job would
        return device, torch.cuda.get_device_name(0)
    return torch.device("cpu"), f"cpu ({torch.get_num_threads()} threads)"


class Trainer:
    # Set by run(), in this order: torch, the device and the model; the checkpoint store; the metrics.
    torch: Any
    device: Any
    device_name: str
    model: Any
    optimizer: Any
    data: Any
    store: Any
    metrics: Any
    gpus: Any

    def __init__(self, settings: Settings, log: JsonLog, stop: StopFlag) -> None:
        self.s = settings
        self.log = log
        self.stop = stop

    def run(self) -> int:
        s, log = self.s, self.log
        log.event("start", pid=os.getpid(), settings=vars(s))

        warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
        import torch

        from trainer.metrics import GpuMonitor, Metrics

        self.torch = torch
        self._build_model()
        step = self._resume()
        if step >= s.total_steps:
            log.event("already_complete", step=step, total_steps=s.total_steps)
            return EXIT_OK

        self.metrics = Metrics(s.metrics_port, log)
        self.gpus = GpuMonitor(log)
        self.metrics.start(s.total_steps, step)
        loop = self._train(step)
        self._sync()
        t_end = time.monotonic()
        if self.store is not None and loop.last_saved != loop.step and loop.step > 0:
            if self._checkpoint(loop.step, "sigterm" if loop.stopped.startswith("SIG") else loop.stopped):
                loop.last_saved = loop.step
        self._summary(loop, t_end)
        return self._exit(loop)

    def _build_model(self) -> None:
        """The device, the seeded model, its optimizer and the synthetic data; logs what was built."""
        from trainer.model import SyntheticData, build_model, flops_per_sample, parameter_count

        s, torch = self.s, self.torch
        if s.torch_threads:
            torch.set_num_threads(s.torch_threads)
        self.device, self.device_name = _pick_device(torch, s)
        torch.manual_seed(s.seed)
        self.model = build_model(s.hidden_size).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.data = SyntheticData(s.seed, s.batch_size, self.device)
        self.log.event("model", device=self.device_name, parameters=parameter_count(self.model),
                       flops_per_sample=flops_per_sample(self.model))

    def _encode(self, step: int) -> bytes:
        buf = io.BytesIO()
        self.torch.save({"step": step, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                         "hidden_size": self.s.hidden_size, "seed": self.s.seed}, buf)
        return buf.getvalue()

    def _decode(self, body: bytes) -> dict[str, Any]:
        """Parses and checks a checkpoint without touching the model (a rejected one leaves no trace)."""
        s = self.s
        state = self.torch.load(io.BytesIO(body), map_location=self.device, weights_only=True)
        if state.get("hidden_size") != s.hidden_size:
            raise ValueError(f"checkpoint is for hidden_size={state.get('hidden_size')}, "
                             f"this run has {s.hidden_size}")
        ours = self.model.state_dict()
        theirs = state["model"]
        if set(theirs) != set(ours) or any(theirs[k].shape != ours[k].shape for k in ours):
            raise ValueError("checkpoint's tensors do not match this model")
        if not isinstance(state["step"], int) or not {"state", "param_groups"} <= set(state["optimizer"]):
            raise ValueError("checkpoint lacks the step or the optimizer state")
        return state

    def _resume(self) -> int:
        """Opens the checkpoint store (when checkpointing is on) and loads its newest good
        checkpoint into the model; returns the step to start from."""
        from trainer.checkpoint import CheckpointStore

        s = self.s
        self.store = None
        if not s.checkpointing:
            self.log.event("checkpointing_disabled",
                           note="checkpoint_every is 0: nothing is saved and an interruption loses all work")
            return 0
        self.store = CheckpointStore(_s3_client(s), s.bucket, s.prefix, self.log)
        found = self.store.load_latest(self._decode)
        if found is None:
            return 0
        state, entry = found
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.log.event("resumed", step=state["step"], key=entry.key, sha256=entry.sha256)
        return state["step"]

    def _checkpoint(self, at: int, reason: str) -> bool:
        assert self.store is not None
        t0 = time.monotonic()
        try:
            body = self._encode(at)
            entry = self.store.save(at, body)
        except Exception as exc:  # noqa: BLE001 - keep training; the next interval tries again
            self.metrics.checkpoint(False, time.monotonic() - t0)
            self.log.event("checkpoint_failed", step=at, reason=reason, error=f"{type(exc).__name__}: {exc}")
            return False
        seconds = time.monotonic() - t0
        self.metrics.checkpoint(True, seconds)
        self.log.event("checkpoint_saved", step=at, reason=reason, key=entry.key, bytes=entry.size,
                       sha256=entry.sha256, seconds=round(seconds, 3))
        return True

    def _sync(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()

    def _train(self, step: int) -> _Loop:
        """Steps until done, a signal or the time limit; progress and checkpoints on schedule."""
        s = self.s
        t_start = time.monotonic()
        loop = _Loop(step=step, start_step=step, last_saved=step, t_start=t_start, window_t=t_start,
                     window_step=step, measured_from=step)
        self.model.train()
        while loop.step < s.total_steps:
            if self.stop.signal:
                loop.stopped = self.stop.signal
                break
            loss = self._step(loop.step + 1)
            loop.step += 1
            self.stop.after_step(loop.step)

            if loop.step - loop.start_step == WARMUP_STEPS:
                self._sync()
                loop.measured_t, loop.measured_from = time.monotonic(), loop.step
            if loop.step % s.log_every == 0 or loop.step == s.total_steps:
                self._progress(loop, loss)
            if self.store is not None and loop.step % s.checkpoint_every == 0:
                if self._checkpoint(loop.step, "interval"):
                    loop.last_saved = loop.step
            if s.max_seconds and time.monotonic() - loop.t_start >= s.max_seconds:
                loop.stopped = "time_limit"
                break
        return loop

    def _step(self, batch: int) -> Any:
        x, y = self.data.batch(batch)
        loss = self.torch.nn.functional.cross_entropy(self.model(x), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss

    def _progress(self, loop: _Loop, loss: Any) -> None:
        """The progress line and metrics: loss, throughput since the last one, the GPUs' sample."""
        s = self.s
        loop.loss_value = float(loss.item())  # also waits for the GPU
        if loop.first_loss is None:
            loop.first_loss = loop.loss_value
        now = time.monotonic()
        rate = (loop.step - loop.window_step) * s.batch_size / max(now - loop.window_t, 1e-9)
        sample = self.gpus.sample()
        for g in sample:
            loop.util_samples.append(g["util_pct"])
            loop.mem_max = max(loop.mem_max, g["mem_used_bytes"])
        self.log.event("progress", step=loop.step, total_steps=s.total_steps, loss=round(loop.loss_value, 5),
                       samples_per_s=round(rate, 1), elapsed_s=round(now - loop.t_start, 3), gpus=sample)
        self.metrics.progress(loop.step, (loop.step - loop.window_step) * s.batch_size, rate, loop.loss_value, sample)
        loop.window_t, loop.window_step = now, loop.step

    def _summary(self, loop: _Loop, t_end: float) -> None:
        """The summary line: throughput after the warm-up steps, losses, the weights' digest, GPU use."""
        from trainer.model import flops_per_sample, parameter_count

        s, step = self.s, loop.step
        if loop.measured_t is not None and step > loop.measured_from:
            throughput = (step - loop.measured_from) * s.batch_size / max(t_end - loop.measured_t, 1e-9)
        else:
            throughput = (step - loop.start_step) * s.batch_size / max(t_end - loop.t_start, 1e-9)
        final = self._encode(step)
        util = loop.util_samples
        self.log.event("summary", device=self.device_name, start_step=loop.start_step, end_step=step,
                       steps_run=step - loop.start_step, samples_per_s=round(throughput, 1),
                       steps_per_s=round(throughput / s.batch_size, 3), seconds=round(t_end - loop.t_start, 3),
                       first_loss=loop.first_loss, loss=loop.loss_value, batch_size=s.batch_size,
                       hidden_size=s.hidden_size, parameters=parameter_count(self.model),
                       flops_per_sample=flops_per_sample(self.model), checkpoint_bytes=len(final),
                       params_sha256=_state_digest(self.model.state_dict()),
                       gpu_util_mean_pct=round(sum(util) / len(util), 1) if util else None,
                       gpu_mem_max_bytes=loop.mem_max or None, gpu_metrics=self.gpus.available)

    def _exit(self, loop: _Loop) -> int:
        """The last line (interrupted, finished or stopped) and the exit code it means."""
        stopped, step = loop.stopped, loop.step
        if stopped.startswith("SIG"):
            lost = step - loop.last_saved if self.store is not None else step
            self.log.event("interrupted", signal=stopped, step=step,
                           checkpointed_step=loop.last_saved if self.store is not None else None, steps_lost=lost)
            return EXIT_SIGNAL[stopped]
        self.log.event("finished" if stopped == "finished" else "stopped", reason=stopped, step=step,
                       total_steps=self.s.total_steps)
        return EXIT_OK


def _state_digest(state: dict[str, Any]) -> str:
    """SHA-256 of the serialized weights: equal only for bit-identical weights."""
    import torch

    buf = io.BytesIO()
    torch.save({k: v.detach().to("cpu") for k, v in state.items()}, buf)
    return hashlib.sha256(buf.getvalue()).hexdigest()
