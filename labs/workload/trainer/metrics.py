"""Prometheus metrics and NVML GPU sampling (no torch here).

Both are optional at run time: with ``metrics_port`` 0, or without prometheus_client, nothing is
served; without nvidia-ml-py, without a driver or without a GPU, GPU figures are simply not
exported. Each absence is said once in the log, so a missing panel has a visible reason.
"""

from __future__ import annotations

from typing import Any

from trainer.log import JsonLog

NAMESPACE = "labctl_workload"


class GpuMonitor:
    """Utilisation and memory of the GPUs this container sees, through NVML."""

    def __init__(self, log: JsonLog) -> None:
        self._nvml: Any = None
        self._handles: list[Any] = []
        try:
            import pynvml  # nvidia-ml-py

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            if count == 0:
                raise RuntimeError("NVML sees no GPU")
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self._nvml = pynvml
            names = [_text(pynvml.nvmlDeviceGetName(h)) for h in self._handles]
            log.event("gpu_metrics", available=True, gpus=names)
        except Exception as exc:  # noqa: BLE001 - ImportError, NVMLError_LibraryNotFound, ...
            log.event("gpu_metrics", available=False,
                      reason=f"{type(exc).__name__}: {exc}".strip(": "),
                      note="GPU utilisation and memory are not exported")

    @property
    def available(self) -> bool:
        return self._nvml is not None

    def sample(self) -> list[dict[str, float]]:
        if self._nvml is None:
            return []
        out = []
        for index, handle in enumerate(self._handles):
            try:
                util = self._nvml.nvmlDeviceGetUtilizationRates(handle)
                mem = self._nvml.nvmlDeviceGetMemoryInfo(handle)
            except Exception:  # noqa: BLE001 - a GPU that stops answering: skip this sample
                continue
            out.append({"index": index, "util_pct": float(util.gpu),
                        "mem_used_bytes": float(mem.used), "mem_total_bytes": float(mem.total)})
        return out


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Metrics:
    """The Prometheus endpoint; every method is a no-op when it is off."""

    def __init__(self, port: int, log: JsonLog, host: str = "0.0.0.0") -> None:
        self._on = False
        self._server: Any = None
        self.port = 0
        if port == 0:
            log.event("metrics", serving=False, reason="metrics port is 0")
            return
        try:
            from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
        except ImportError as exc:
            log.event("metrics", serving=False, reason=f"prometheus_client not installed: {exc}")
            return
        reg = CollectorRegistry()
        ns = NAMESPACE
        self.registry = reg
        self._step = Gauge("step", "Last completed optimizer step.", namespace=ns, registry=reg)
        self._total = Gauge("total_steps", "Configured work size in steps.", namespace=ns, registry=reg)
        self._samples = Counter("samples", "Samples trained by this process.", namespace=ns, registry=reg)
        self._rate = Gauge("samples_per_second", "Training throughput over the last log interval.",
                           namespace=ns, registry=reg)
        self._loss = Gauge("loss", "Training loss at the last log interval.", namespace=ns, registry=reg)
        self._resumed = Gauge("resumed_from_step", "Step of the checkpoint this process resumed from (0: none).",
                              namespace=ns, registry=reg)
        self._ckpt = Counter("checkpoints", "Checkpoint writes by result.", ["result"],
                             namespace=ns, registry=reg)
        self._ckpt_seconds = Gauge("checkpoint_seconds", "Duration of the last checkpoint write.",
                                   namespace=ns, registry=reg)
        self._gpu_util = Gauge("gpu_utilization_ratio", "GPU utilisation (NVML), 0..1.", ["gpu"],
                               namespace=ns, registry=reg)
        self._gpu_mem = Gauge("gpu_memory_used_bytes", "GPU memory in use (NVML).", ["gpu"],
                              namespace=ns, registry=reg)
        started = start_http_server(port, addr=host, registry=reg)
        # prometheus_client >= 0.17 returns (server, thread).
        self._server = started[0] if isinstance(started, tuple) else None
        self.port = self._server.server_port if self._server is not None else port
        self._on = True
        log.event("metrics", serving=True, port=self.port, path="/metrics")

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._on = False

    def start(self, total_steps: int, resumed_from: int) -> None:
        if self._on:
            self._total.set(total_steps)
            self._resumed.set(resumed_from)
            self._step.set(resumed_from)

    def progress(self, step: int, samples: int, rate: float, loss: float,
                 gpus: list[dict[str, float]]) -> None:
        if not self._on:
            return
        self._step.set(step)
        self._samples.inc(samples)
        self._rate.set(rate)
        self._loss.set(loss)
        for g in gpus:
            self._gpu_util.labels(gpu=str(g["index"])).set(g["util_pct"] / 100.0)
            self._gpu_mem.labels(gpu=str(g["index"])).set(g["mem_used_bytes"])

    def checkpoint(self, ok: bool, seconds: float) -> None:
        if self._on:
            self._ckpt.labels(result="ok" if ok else "failed").inc()
            if ok:
                self._ckpt_seconds.set(seconds)
