"""Prometheus metrics and NVML sampling, in-process (no torch)."""

from __future__ import annotations

import io
import json
import socket
import urllib.request

import pytest

from trainer.log import JsonLog
from trainer.metrics import GpuMonitor, Metrics


def _events(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_metrics_are_served_on_the_configured_port() -> None:
    pytest.importorskip("prometheus_client", reason="prometheus_client not installed (the 'workload' extra)")
    out = io.StringIO()
    metrics = Metrics(_free_port(), JsonLog(out), host="127.0.0.1")
    try:
        metrics.start(total_steps=100, resumed_from=40)
        metrics.progress(step=50, samples=320, rate=1234.5, loss=0.75,
                         gpus=[{"index": 0, "util_pct": 87.0, "mem_used_bytes": 2.0e9, "mem_total_bytes": 8e10}])
        metrics.checkpoint(True, 0.25)
        text = urllib.request.urlopen(f"http://127.0.0.1:{metrics.port}/metrics", timeout=5).read().decode()
    finally:
        metrics.close()
    for line in ("labctl_workload_step 50.0", "labctl_workload_total_steps 100.0",
                 "labctl_workload_resumed_from_step 40.0", "labctl_workload_samples_total 320.0",
                 "labctl_workload_samples_per_second 1234.5", "labctl_workload_loss 0.75",
                 'labctl_workload_checkpoints_total{result="ok"} 1.0',
                 'labctl_workload_gpu_utilization_ratio{gpu="0"} 0.87',
                 'labctl_workload_gpu_memory_used_bytes{gpu="0"} 2e+09'):
        assert line in text, line
    assert _events(out)[0] == {**_events(out)[0], "event": "metrics", "serving": True}


def test_port_zero_turns_metrics_off_and_says_so() -> None:
    out = io.StringIO()
    metrics = Metrics(0, JsonLog(out))
    metrics.progress(1, 1, 1.0, 1.0, [])       # no-ops
    metrics.checkpoint(False, 1.0)
    event = _events(out)[0]
    assert event["serving"] is False and "port is 0" in event["reason"]


def test_without_a_gpu_gpu_metrics_are_absent_and_the_log_says_why() -> None:
    out = io.StringIO()
    gpus = GpuMonitor(JsonLog(out))
    if gpus.available:
        pytest.skip("this machine has a GPU that NVML sees")
    assert gpus.sample() == []
    event = _events(out)[0]
    assert event["event"] == "gpu_metrics" and event["available"] is False and event["reason"]
