"""How fast the training workload runs on each GPU model, and where each figure comes from.

Progress of one training pod, in steps per second:

    steps/s = total_steps / (run_reference_gpu_hours * 3600)
              * relative_throughput(gpu) * effective_gpus * data_loading_efficiency
    relative_throughput(gpu) = samples_per_second(gpu) / samples_per_second(reference_gpu)
    effective_gpus = 1 + (gpus - 1) * multi_gpu_scaling

The per-GPU figures, in order of preference: the lab's ``simulation.throughput`` overrides;
labs/workload/calibration.json (estimates for this very workload, each with its source string:
the reference figures give none for T4, A10G, L4 or L40S); for a GPU that only the catalog's
``gpu_throughput`` rows know, the catalog ratio to a calibrated GPU on one benchmark (same source
for both figures). A GPU with no figure anywhere (L40S today) is reported and makes no progress:
the simulator never invents a throughput.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labctl.cost.catalog import Catalog
from labctl.spec.models import Simulation

CATALOG_BENCHMARK = "resnet50-train-fp16"


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
class WorkModel:
    """The lab's workload parameters, resolved; one per team (knobs may change the Job)."""

    sim: Simulation
    rates: dict[str, GpuRate]

    def steps_per_second(self, gpu_model: str | None, gpus: int, total_steps: int) -> float:
        """0 when the pod has no GPU or its GPU has no throughput figure."""
        if not gpus or gpu_model is None:
            return 0.0
        rate, ref = self.rates.get(gpu_model), self.rates.get(self.sim.reference_gpu)
        if rate is None or ref is None:
            return 0.0
        relative = rate.samples_per_second / ref.samples_per_second
        effective = 1 + (gpus - 1) * self.sim.multi_gpu_scaling
        per_ref_second = total_steps / (self.sim.run_reference_gpu_hours * 3600)
        return per_ref_second * relative * effective * self.sim.data_loading_efficiency

    def utilization_pct(self, gpu_model: str | None) -> float:
        rate = self.rates.get(gpu_model or "")
        return 0.0 if rate is None else rate.gpu_utilization_pct * self.sim.data_loading_efficiency

    def fb_used_mib(self, gpu_model: str | None) -> float:
        rate = self.rates.get(gpu_model or "")
        return 0.0 if rate is None else rate.gpu_memory_used_mib

    def missing(self, gpu_model: str | None) -> str | None:
        if gpu_model is None:
            return None
        if self.sim.reference_gpu not in self.rates:
            return f"no throughput figure for the reference GPU {self.sim.reference_gpu}"
        if gpu_model not in self.rates:
            return (f"no throughput figure for {gpu_model} (neither calibration.json nor the catalog has one): "
                    f"set simulation.throughput.{gpu_model} in the lab; the job makes no progress on it")
        return None
