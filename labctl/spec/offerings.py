"""Which instance types a region offers, and their specs, from the EC2 records moto ships.

moto bundles snapshots of DescribeInstanceTypes and DescribeInstanceTypeOfferings taken from
AWS; they let `validate` reject an instance type a region does not offer without any network.
`labctl preflight` checks the live API for real accounts.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path


@dataclass(frozen=True)
class TypeInfo:
    name: str
    vcpu: int
    memory_mib: int
    gpus: int
    gpu_model: str | None
    gpu_memory_mib: int | None


@lru_cache(maxsize=1)
def _resources() -> Path:
    # Found without importing moto.ec2: importing it builds moto's whole EC2 backend (~1.8 s),
    # which every `validate`, `render` and `team plan` would pay for two data files.
    spec = find_spec("moto")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("moto is not installed; it ships the EC2 offerings labctl validates against")
    return Path(next(iter(spec.submodule_search_locations))) / "ec2" / "resources"


def _load(rel: str) -> object:
    with gzip.open(_resources().joinpath(*rel.split("/"))) as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def _types() -> dict[str, dict]:
    return _load("instance_types.json.gz")  # type: ignore[return-value]


@lru_cache(maxsize=64)
def offered_types(region: str) -> frozenset[str]:
    try:
        rows = _load(f"instance_type_offerings/region/{region}.json.gz")
    except FileNotFoundError:
        return frozenset()
    return frozenset(r["InstanceType"] for r in rows)  # type: ignore[union-attr]


def known_region(region: str) -> bool:
    return bool(offered_types(region))


def type_info(name: str) -> TypeInfo | None:
    rec = _types().get(name)
    if rec is None:
        return None
    gpus = rec.get("GpuInfo", {}).get("Gpus", [])
    count = sum(g.get("Count", 0) for g in gpus)
    return TypeInfo(
        name=name,
        vcpu=rec["VCpuInfo"]["DefaultVCpus"],
        memory_mib=rec["MemoryInfo"]["SizeInMiB"],
        gpus=count,
        gpu_model=gpus[0]["Name"] if gpus else None,
        gpu_memory_mib=gpus[0]["MemoryInfo"]["SizeInMiB"] if gpus else None,
    )
