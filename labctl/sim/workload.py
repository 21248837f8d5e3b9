"""How fast the training workload runs on each GPU model, how busy it keeps the GPU, and what a
checkpoint costs; where each figure comes from.

One training step of the reference workload (labs/workload: an MLP of width ``hidden`` trained
with Adam on ``batch`` samples per step) on one GPU, as fitted to the H200 measurement
(labs/workload/calibration.json ``model``):

    flops_per_step = 6 x parameters(hidden) x batch
    kernel_time    = flops_per_step / (matmul peak x efficiency(flops_per_step))
    step_time      = kernel_time + host_overhead        (the GPU waits on Python, launches, data)
    busy           = kernel_time / step_time             (NVML utilisation; DCGM engine active)

The per-GPU entry (calibration.json, or the lab's ``simulation.throughput``) gives samples/s and
utilisation at the contract's default width and batch; that fixes the GPU's kernel time and host
time there, and the formula carries them to the width and batch a team's Job sets
(``LABCTL_WORKLOAD_HIDDEN_SIZE`` / ``LABCTL_WORKLOAD_BATCH_SIZE``). Bigger steps use the GPU
better (higher efficiency, host time a smaller share); a faster GPU is more host-bound.

Then, per training pod on ``gpus`` GPUs of one model:

    engine_active = busy x data_loading_efficiency x effective_gpus / gpus
    effective_gpus = 1 + (gpus - 1) x multi_gpu_scaling
    steps/s = total_steps / (run_reference_gpu_hours x 3600)
              x step_time(reference GPU, default width and batch) / step_time(GPU, width, batch)
              x effective_gpus x data_loading_efficiency

so a run's work is fixed in steps (as the trainer counts it): a wider model or bigger batch does
more per step and takes longer per step, on every GPU. The GPU waits for input
(``data_loading_efficiency``) and, beyond the first GPU, for the other GPUs
(``multi_gpu_scaling``): both lower the engine-active figure as much as the throughput.

A checkpoint is the weights and two Adam moments (12 B per parameter); saving one takes
``bytes / checkpoint_upload_mib_per_s`` seconds in which the GPU computes nothing (the trainer
saves synchronously): 416 MB took about 3.5 s to an S3 emulator on the same machine.

The per-GPU figures, in order of preference: the lab's ``simulation.throughput`` overrides;
labs/workload/calibration.json (measured on an H200; estimates for the other GPUs from the same
efficiency and their datasheet peak, each with its source string); for a GPU that only the
catalog's ``gpu_throughput`` rows know, the catalog ratio to a calibrated GPU on one benchmark
(same source for both figures). A GPU with no figure anywhere (L40S today) is reported and makes
no progress: the simulator never invents a throughput.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from labctl.cost.catalog import Catalog
from labctl.spec.models import Simulation
from labctl.workload import load_estimates

CATALOG_BENCHMARK = "resnet50-train-fp16"
MIB = 2**20

# The contract's defaults (labs/workload/env-contract.json); calibration.json's figures are for these.
DEFAULT_HIDDEN = 4096
DEFAULT_BATCH = 1024


def parameters(hidden: int) -> int:
    """The trainer's MLP 256-h-h-h-10: weights and biases."""
    return 256 * hidden + hidden + 2 * (hidden * hidden + hidden) + 10 * hidden + 10


def flops_per_step(hidden: int, batch: int) -> float:
    return 6.0 * parameters(hidden) * batch


@dataclass(frozen=True)
class StepModel:
    """The constants fitted to the measurement (calibration.json ``model``)."""

    efficiency_points: tuple[tuple[float, float], ...]
    host_overhead_s: float
    efficiency_floor: float
    checkpoint_bytes_per_parameter: int
    checkpoint_upload_mib_per_s: float
    source: str

    @classmethod
    def from_estimates(cls, estimates: dict[str, Any]) -> StepModel:
        m = estimates["model"]
        return cls(tuple((float(f), float(e)) for f, e in m["flops_efficiency"]),
                   float(m["host_overhead_ms"]) / 1e3, float(m["efficiency_floor"]),
                   int(m["checkpoint_bytes_per_parameter"]), float(m["checkpoint_upload_mib_per_s"]),
                   f"labs/workload/calibration.json model: {m.get('source', 'no source given')}")

    def efficiency(self, flops: float) -> float:
        """Fraction of the matmul peak while kernels run: log-linear in the work per step between
        the measured points, extrapolated below them (never under the floor), held above."""
        pts = sorted(self.efficiency_points)
        if flops >= pts[-1][0] or len(pts) == 1:
            return max(self.efficiency_floor, pts[-1][1])
        (f0, e0), (f1, e1) = next((a, b) for a, b in zip(pts, pts[1:], strict=False) if flops < b[0])
        e = e0 + (e1 - e0) * math.log2(max(flops, 1.0) / f0) / math.log2(f1 / f0)
        return max(self.efficiency_floor, e)

    def checkpoint_bytes(self, hidden: int) -> int:
        return self.checkpoint_bytes_per_parameter * parameters(hidden)

    def save_seconds(self, hidden: int) -> float:
        """Time one checkpoint save takes (upload-bound; the GPU is idle meanwhile)."""
        return self.checkpoint_bytes(hidden) / (self.checkpoint_upload_mib_per_s * MIB)


@lru_cache(maxsize=1)
def default_step_model() -> StepModel:
    """The model of the bundled calibration.json (it describes the workload, not a lab)."""
    return StepModel.from_estimates(load_estimates())


@dataclass(frozen=True)
class GpuRate:
    gpu_model: str
    samples_per_second: float
    gpu_utilization_pct: float
    gpu_memory_used_mib: float
    source: str


def resolve_rates(sim: Simulation, estimates: dict[str, Any], catalog: Catalog | None = None) -> dict[str, GpuRate]:
    """Every GPU model with a figure, keyed by EC2's GPU name (T4, A10G, L4, V100, A100, H100...)."""
    out: dict[str, GpuRate] = {}
    for model, e in sorted((estimates.get("gpus") or {}).items()):
        out[model] = GpuRate(model, float(e["samples_per_second"]), float(e.get("gpu_utilization_pct") or 0),
                             float(e.get("gpu_memory_used_mib") or 0),
                             f"labs/workload/calibration.json: {e.get('source', 'no source given')}")
    if catalog is not None:
        for model in catalog.gpu_models():
            tp = catalog.throughput(model)
            ec2 = tp.ec2_gpu_model if tp else None
            if not ec2 or ec2 in out:
                continue
            for anchor in sorted(out):
                ratio = catalog.relative_throughput(ec2, anchor, CATALOG_BENCHMARK)
                if ratio is not None:
                    base = out[anchor]
                    out[ec2] = GpuRate(ec2, base.samples_per_second * float(ratio), base.gpu_utilization_pct,
                                       base.gpu_memory_used_mib,
                                       f"catalog gpu_throughput {CATALOG_BENCHMARK} ratio {ec2}/{anchor} x {base.source}")
                    break
    for model, o in sorted(sim.throughput.items()):
        out[model] = GpuRate(model, o.samples_per_second, o.gpu_utilization_pct, o.gpu_memory_used_mib,
                             f"lab simulation.throughput: {o.source}")
    return out


@dataclass(frozen=True)
class JobShape:
    """What of a training Job the model reads: its width and batch (from the Job's env)."""

    hidden: int = DEFAULT_HIDDEN
    batch: int = DEFAULT_BATCH


DEFAULT_SHAPE = JobShape()


@dataclass(frozen=True)
class WorkModel:
    """The lab's workload parameters, resolved; one per team (knobs may change the Job)."""

    sim: Simulation
    rates: dict[str, GpuRate]
    step: StepModel = field(default_factory=lambda: default_step_model())

    def step_time(self, gpu_model: str, shape: JobShape = DEFAULT_SHAPE) -> tuple[float, float] | None:
        """(kernel seconds, host seconds) of one step on one GPU, or None without a figure."""
        rate = self.rates.get(gpu_model)
        if rate is None or rate.samples_per_second <= 0:
            return None
        step0 = DEFAULT_BATCH / rate.samples_per_second
        # an entry without a utilisation figure (0) is taken as compute-bound: no host time to carry over
        busy0 = min(max(rate.gpu_utilization_pct, 0.0), 100.0) / 100 or 1.0
        kernel0, host = step0 * busy0, step0 * (1 - busy0)
        f0, f = flops_per_step(DEFAULT_HIDDEN, DEFAULT_BATCH), flops_per_step(shape.hidden, shape.batch)
        kernel = kernel0 * (f / f0) * (self.step.efficiency(f0) / self.step.efficiency(f))
        return kernel, host

    def steps_per_second(self, gpu_model: str | None, gpus: int, total_steps: int,
                         shape: JobShape = DEFAULT_SHAPE) -> float:
        """0 when the pod has no GPU or its GPU has no throughput figure."""
        if not gpus or gpu_model is None:
            return 0.0
        mine, ref = self.step_time(gpu_model, shape), self.step_time(self.sim.reference_gpu)
        if mine is None or ref is None:
            return 0.0
        relative = sum(ref) / sum(mine)
        per_ref_second = total_steps / (self.sim.run_reference_gpu_hours * 3600)
        return per_ref_second * relative * self.effective_gpus(gpus) * self.sim.data_loading_efficiency

    def effective_gpus(self, gpus: int) -> float:
        return 1 + (gpus - 1) * self.sim.multi_gpu_scaling

    def busy(self, gpu_model: str | None, shape: JobShape = DEFAULT_SHAPE) -> float:
        """Fraction of a step the GPU runs kernels (0..1), before data loading and other GPUs."""
        st = self.step_time(gpu_model or "", shape)
        return 0.0 if st is None else st[0] / (st[0] + st[1])

    def engine_active(self, gpu_model: str | None, gpus: int, shape: JobShape = DEFAULT_SHAPE) -> float:
        """DCGM_FI_PROF_GR_ENGINE_ACTIVE of each of a computing pod's GPUs (0..1)."""
        if not gpus:
            return 0.0
        return self.busy(gpu_model, shape) * self.sim.data_loading_efficiency * self.effective_gpus(gpus) / gpus

    def utilization_pct(self, gpu_model: str | None, shape: JobShape = DEFAULT_SHAPE, gpus: int = 1) -> float:
        """DCGM_FI_DEV_GPU_UTIL (NVML) of each GPU of a computing pod."""
        return 100 * self.engine_active(gpu_model, gpus, shape)

    def fb_used_mib(self, gpu_model: str | None, shape: JobShape = DEFAULT_SHAPE) -> float:
        """Memory the job holds: the entry's figure, scaled with the parameters (weights, gradients,
        Adam moments dominate at the default batch)."""
        rate = self.rates.get(gpu_model or "")
        if rate is None:
            return 0.0
        return rate.gpu_memory_used_mib * parameters(shape.hidden) / parameters(DEFAULT_HIDDEN)

    def save_seconds(self, shape: JobShape = DEFAULT_SHAPE) -> float:
        return self.step.save_seconds(shape.hidden)

    def missing(self, gpu_model: str | None) -> str | None:
        if gpu_model is None:
            return None
        if self.sim.reference_gpu not in self.rates:
            return f"no throughput figure for the reference GPU {self.sim.reference_gpu}"
        if gpu_model not in self.rates:
            return (f"no throughput figure for {gpu_model} (neither calibration.json nor the catalog has one): "
                    f"set simulation.throughput.{gpu_model} in the lab; the job makes no progress on it")
        return None
