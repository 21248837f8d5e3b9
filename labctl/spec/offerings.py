"""Which instance types a region offers, and their specs, from EC2 records shipped with labctl.

labctl/data/ec2 holds snapshots of DescribeInstanceTypes and DescribeInstanceTypeOfferings taken
from AWS (the copy moto ships, labctl/data/ec2/README.md); they let `validate` reject an instance
type a region does not offer without any network. `labctl preflight` checks the live API for
real accounts. A pure model: it reads its own package data, not the emulator's.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from labctl.resources import package_data_dir


@dataclass(frozen=True)
class TypeInfo:
    name: str
    vcpu: int
    memory_mib: int
    gpus: int
    gpu_model: str | None
    gpu_memory_mib: int | None


def data_dir() -> Path:
    return package_data_dir() / "ec2"


def _load(rel: str) -> object:
    with gzip.open(data_dir().joinpath(*rel.split("/"))) as fh:
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
