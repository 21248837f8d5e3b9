"""Node pool labels and taints: one source for the Terraform node groups, the scale-from-zero
tags and (in the Kubernetes layer) the nodeSelectors and tolerations that must match them."""

from __future__ import annotations

from dataclasses import dataclass

POOL_LABEL = "labctl.io/pool"
GPU_TAINT_KEY = "nvidia.com/gpu"
SPOT_TAINT_KEY = "labctl.io/spot"


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str  # Kubernetes spelling: NoSchedule | NoExecute | PreferNoSchedule


POOL_NAMES = {"system": "system", "gpu_on_demand": "gpu-on-demand", "gpu_spot": "gpu-spot"}


def labels(group: str) -> dict[str, str]:
    out = {POOL_LABEL: POOL_NAMES[group]}
    if group != "system":
        out["nvidia.com/gpu.present"] = "true"
    return out


def taints(group: str) -> list[Taint]:
    if group == "system":
        return []
    out = [Taint(GPU_TAINT_KEY, "true", "NoSchedule")]
    if group == "gpu_spot":
        out.append(Taint(SPOT_TAINT_KEY, "true", "NoSchedule"))
    return out
