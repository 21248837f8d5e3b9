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
from typing import Any

from trainer.config import ConfigError, Settings, from_environ
from trainer.log import JsonLog

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
EXIT_SIGNAL = {"SIGTERM": 143, "SIGINT": 130}
WARMUP_STEPS = 5  # left out of the summary's throughput: first steps pay for allocation and kernel selection


class StopFlag:
    """Set by SIGTERM/SIGINT; the loop looks at it between steps."""

    def __init__(self) -> None:
        self.signal: str | None = None

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
    stop = StopFlag()
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


class Trainer:
    def __init__(self, settings: Settings, log: JsonLog, stop: StopFlag) -> None:
        self.s = settings
        self.log = log
        self.stop = stop

    def run(self) -> int:
        s, log = self.s, self.log
        log.event("start", pid=os.getpid(), settings=vars(s))

        warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
        import torch

        from trainer.checkpoint import CheckpointStore
        from trainer.metrics import GpuMonitor, Metrics
        from trainer.model import SyntheticData, build_model, flops_per_sample, parameter_count

        if s.torch_threads:
            torch.set_num_threads(s.torch_threads)
        if s.device == "cuda" or (s.device == "auto" and torch.cuda.is_available()):
            device = torch.device("cuda")
            torch.set_float32_matmul_precision("high")  # TF32 on tensor cores, as a tuned job would
            device_name = torch.cuda.get_device_name(0)
        else:
            device = torch.device("cpu")
            device_name = f"cpu ({torch.get_num_threads()} threads)"

        torch.manual_seed(s.seed)
        model = build_model(s.hidden_size).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        data = SyntheticData(s.seed, s.batch_size, device)
        log.event("model", device=device_name, parameters=parameter_count(model),
                  flops_per_sample=flops_per_sample(model))

        def encode(step: int) -> bytes:
            buf = io.BytesIO()
            torch.save({"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "hidden_size": s.hidden_size, "seed": s.seed}, buf)
            return buf.getvalue()

        def decode(body: bytes) -> dict[str, Any]:
            """Parses and checks a checkpoint without touching the model (a rejected one leaves no trace)."""
            state = torch.load(io.BytesIO(body), map_location=device, weights_only=True)
            if state.get("hidden_size") != s.hidden_size:
                raise ValueError(f"checkpoint is for hidden_size={state.get('hidden_size')}, "
                                 f"this run has {s.hidden_size}")
            ours = model.state_dict()
            theirs = state["model"]
            if set(theirs) != set(ours) or any(theirs[k].shape != ours[k].shape for k in ours):
                raise ValueError("checkpoint's tensors do not match this model")
            if not isinstance(state["step"], int) or not {"state", "param_groups"} <= set(state["optimizer"]):
                raise ValueError("checkpoint lacks the step or the optimizer state")
            return state

        store = None
        step = 0
        if s.checkpointing:
            store = CheckpointStore(_s3_client(s), s.bucket, s.prefix, log)
            found = store.load_latest(decode)
            if found is not None:
                state, entry = found
                model.load_state_dict(state["model"])
                optimizer.load_state_dict(state["optimizer"])
                step = state["step"]
                log.event("resumed", step=step, key=entry.key, sha256=entry.sha256)
        else:
            log.event("checkpointing_disabled",
                      note="checkpoint_every is 0: nothing is saved and an interruption loses all work")
        last_saved = step
        start_step = step

        if step >= s.total_steps:
            log.event("already_complete", step=step, total_steps=s.total_steps)
            return EXIT_OK

        metrics = Metrics(s.metrics_port, log)
        gpus = GpuMonitor(log)
        metrics.start(s.total_steps, start_step)

        def checkpoint(at: int, reason: str) -> bool:
            assert store is not None
            t0 = time.monotonic()
            try:
                body = encode(at)
                entry = store.save(at, body)
            except Exception as exc:  # noqa: BLE001 - keep training; the next interval tries again
                metrics.checkpoint(False, time.monotonic() - t0)
                log.event("checkpoint_failed", step=at, reason=reason, error=f"{type(exc).__name__}: {exc}")
                return False
            seconds = time.monotonic() - t0
            metrics.checkpoint(True, seconds)
            log.event("checkpoint_saved", step=at, reason=reason, key=entry.key, bytes=entry.size,
                      sha256=entry.sha256, seconds=round(seconds, 3))
            return True

        def sync() -> None:
            if device.type == "cuda":
                torch.cuda.synchronize()

        t_start = time.monotonic()
        window_t, window_step = t_start, step
        measured_t: float | None = None
        measured_from = step
        util_samples: list[float] = []
        mem_max = 0.0
        loss_value = float("nan")
        first_loss: float | None = None
        stopped = "finished"

        model.train()
        while step < s.total_steps:
            if self.stop.signal:
                stopped = self.stop.signal
                break
            x, y = data.batch(step + 1)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1

            if step - start_step == WARMUP_STEPS:
                sync()
                measured_t, measured_from = time.monotonic(), step
            if step % s.log_every == 0 or step == s.total_steps:
                loss_value = float(loss.item())  # also waits for the GPU
                if first_loss is None:
                    first_loss = loss_value
                now = time.monotonic()
                rate = (step - window_step) * s.batch_size / max(now - window_t, 1e-9)
                sample = gpus.sample()
                for g in sample:
                    util_samples.append(g["util_pct"])
                    mem_max = max(mem_max, g["mem_used_bytes"])
                log.event("progress", step=step, total_steps=s.total_steps, loss=round(loss_value, 5),
                          samples_per_s=round(rate, 1), elapsed_s=round(now - t_start, 3), gpus=sample)
                metrics.progress(step, (step - window_step) * s.batch_size, rate, loss_value, sample)
                window_t, window_step = now, step
            if store is not None and step % s.checkpoint_every == 0:
                if checkpoint(step, "interval"):
                    last_saved = step
            if s.max_seconds and time.monotonic() - t_start >= s.max_seconds:
                stopped = "time_limit"
                break

        sync()
        t_end = time.monotonic()
        if store is not None and last_saved != step and step > 0:
            if checkpoint(step, "sigterm" if stopped.startswith("SIG") else stopped):
                last_saved = step

        if measured_t is not None and step > measured_from:
            throughput = (step - measured_from) * s.batch_size / max(t_end - measured_t, 1e-9)
        else:
            throughput = (step - start_step) * s.batch_size / max(t_end - t_start, 1e-9)
        final = encode(step)
        log.event("summary", device=device_name, start_step=start_step, end_step=step,
                  steps_run=step - start_step, samples_per_s=round(throughput, 1),
                  steps_per_s=round(throughput / s.batch_size, 3), seconds=round(t_end - t_start, 3),
                  first_loss=first_loss, loss=loss_value, batch_size=s.batch_size,
                  hidden_size=s.hidden_size, parameters=parameter_count(model),
                  flops_per_sample=flops_per_sample(model), checkpoint_bytes=len(final),
                  params_sha256=_state_digest(model.state_dict()),
                  gpu_util_mean_pct=round(sum(util_samples) / len(util_samples), 1) if util_samples else None,
                  gpu_mem_max_bytes=mem_max or None, gpu_metrics=gpus.available)

        if stopped.startswith("SIG"):
            lost = step - last_saved if store is not None else step
            log.event("interrupted", signal=stopped, step=step,
                      checkpointed_step=last_saved if store is not None else None, steps_lost=lost)
            return EXIT_SIGNAL[stopped]
        log.event("finished" if stopped == "finished" else "stopped", reason=stopped, step=step,
                  total_steps=s.total_steps)
        return EXIT_OK


def _state_digest(state: dict[str, Any]) -> str:
    """SHA-256 of the serialized weights: equal only for bit-identical weights."""
    import torch

    buf = io.BytesIO()
    torch.save({k: v.detach().to("cpu") for k, v in state.items()}, buf)
    return hashlib.sha256(buf.getvalue()).hexdigest()
