"""The reference training workload as labctl sees it: its environment contract and calibration.

``labs/workload/env-contract.json`` is the one list of the workload's environment variables
(names, types, defaults, meaning). The trainer reads it at run time; this module reads the same
file so that the Kubernetes Job renderer sets exactly those variables (:func:`job_env`), and
reads what a calibration run measured (:func:`parse_calibration`). Pure: running the trainer
(``python -m trainer`` in ``labs/workload``, a child process) is labctl.ops.calibrate's.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from labctl.errors import LabctlError, WorkloadSettingError
from labctl.resources import labs_dir

CONTRACT_FILE = "env-contract.json"
ESTIMATES_FILE = "calibration.json"




@dataclass(frozen=True)
class EnvVarSpec:
    name: str
    key: str                      # the short name job_env() takes, e.g. "total_steps"
    type: str                     # "str" | "int"
    default: str | int
    description: str
    min: int | None = None
    max: int | None = None
    choices: tuple[str, ...] | None = None
    required_when: str | None = None


@dataclass(frozen=True)
class EnvContract:
    prefix: str
    variables: Mapping[str, EnvVarSpec]   # by variable name, in the file's order
    exit_codes: Mapping[int, str]

    def by_key(self) -> dict[str, EnvVarSpec]:
        return {spec.key: spec for spec in self.variables.values()}


def workload_dir() -> Path:
    """The Docker build context: Dockerfile, trainer/, env-contract.json."""
    return labs_dir() / "workload"


def load_contract(path: Path | None = None) -> EnvContract:
    path = path or workload_dir() / CONTRACT_FILE
    doc = json.loads(path.read_text(encoding="utf-8"))
    variables = {}
    for name, raw in doc["variables"].items():
        variables[name] = EnvVarSpec(
            name=name, key=raw["key"], type=raw["type"], default=raw["default"],
            description=raw["description"], min=raw.get("min"), max=raw.get("max"),
            choices=tuple(raw["choices"]) if "choices" in raw else None,
            required_when=raw.get("required_when"),
        )
    return EnvContract(prefix=doc["prefix"], variables=variables,
                       exit_codes={int(k): v for k, v in doc.get("exit_codes", {}).items()})


def load_env_contract(path: Path | None = None) -> dict[str, EnvVarSpec]:
    """The workload's environment variables by name, in the contract's order."""
    return dict(load_contract(path).variables)


def _check(spec: EnvVarSpec, value: Any) -> str:
    if spec.type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise WorkloadSettingError(f"workload setting {spec.key}: expected an integer, got {value!r}")
        if spec.min is not None and value < spec.min:
            raise WorkloadSettingError(f"workload setting {spec.key}={value}: must be >= {spec.min}")
        if spec.max is not None and value > spec.max:
            raise WorkloadSettingError(f"workload setting {spec.key}={value}: must be <= {spec.max}")
        return str(value)
    if not isinstance(value, str):
        raise WorkloadSettingError(f"workload setting {spec.key}: expected a string, got {value!r}")
    if spec.choices and value not in spec.choices:
        raise WorkloadSettingError(
            f"workload setting {spec.key}={value!r}: must be one of {', '.join(spec.choices)}")
    return value


def job_env(
    *,
    bucket: str,
    prefix: str,
    total_steps: int,
    checkpoint_every: int,
    endpoint_url: str = "",
    region: str | None = None,
    contract: EnvContract | None = None,
    **settings: str | int,
) -> list[dict[str, str]]:
    """The container ``env`` list of the training Job: every contract variable, defaults filled.

    Keyword names are the contract's short keys (``batch_size``, ``metrics_port``, ``seed``,
    ``hidden_size``, ``log_every``, ``device``, ``torch_threads``, ``max_seconds``); an unknown
    key or a value the contract rejects raises :class:`WorkloadSettingError`. Credentials are not
    part of it (IRSA / Pod Identity on AWS; the renderer adds AWS_* for the emulator).
    """
    contract = contract or load_contract()
    keys = contract.by_key()
    given: dict[str, Any] = {"bucket": bucket, "prefix": prefix, "total_steps": total_steps,
                             "checkpoint_every": checkpoint_every, "endpoint_url": endpoint_url}
    if region is not None:
        given["region"] = region
    for key, value in settings.items():
        if key in given:
            raise WorkloadSettingError(f"workload setting {key} given twice")
        given[key] = value
    unknown = sorted(set(given) - set(keys))
    if unknown:
        raise WorkloadSettingError(
            f"unknown workload setting(s) {', '.join(unknown)}; known: {', '.join(keys)}")
    if int(given["checkpoint_every"]) > 0 and not given["bucket"]:
        raise WorkloadSettingError("workload setting bucket is required when checkpoint_every > 0")
    env = []
    for name, spec in contract.variables.items():
        value = given.get(spec.key, spec.default)
        env.append({"name": name, "value": _check(spec, value)})
    return env


def metrics_port(contract: EnvContract | None = None, **settings: int) -> int:
    """The port the Job's container exposes for Prometheus (for containerPort / scrape config)."""
    spec = (contract or load_contract()).by_key()["metrics_port"]
    return int(settings.get("metrics_port", spec.default))


# -- calibration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """Measured workload parameters for one device, in the shape of calibration.json's entries."""

    gpu_model: str
    samples_per_second: float
    steps_per_second: float
    gpu_utilization_pct: float | None
    gpu_memory_used_mib: float | None
    checkpoint_mib: float
    hidden_size: int
    batch_size: int
    parameters: int
    flops_per_sample: int
    duration_s: float
    steps: int
    source: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def calibration_env(seconds: int, *, hidden_size: int | None = None, batch_size: int | None = None,
                    device: str = "auto", torch_threads: int = 0) -> dict[str, str]:
    """Environment of a calibration run: time-boxed, no S3, no metrics server."""
    extra: dict[str, Any] = {"max_seconds": seconds, "metrics_port": 0, "device": device,
                             "torch_threads": torch_threads, "log_every": 50}
    if hidden_size is not None:
        extra["hidden_size"] = hidden_size
    if batch_size is not None:
        extra["batch_size"] = batch_size
    env = job_env(bucket="", prefix="calibration", total_steps=10**12, checkpoint_every=0, **extra)
    return {item["name"]: item["value"] for item in env}


def parse_calibration(stdout: str, today: _dt.date | None = None) -> Calibration:
    """Builds the result from the trainer's ``summary`` log line."""
    summary = None
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "summary":
            summary = event
    if summary is None:
        raise LabctlError("calibration run ended without a summary line")
    day = (today or _dt.date.today()).isoformat()
    mem = summary.get("gpu_mem_max_bytes")
    return Calibration(
        gpu_model=summary["device"],
        samples_per_second=float(summary["samples_per_s"]),
        steps_per_second=float(summary["steps_per_s"]),
        gpu_utilization_pct=summary.get("gpu_util_mean_pct"),
        gpu_memory_used_mib=round(mem / 2**20, 1) if mem else None,
        checkpoint_mib=round(summary["checkpoint_bytes"] / 2**20, 2),
        hidden_size=int(summary["hidden_size"]), batch_size=int(summary["batch_size"]),
        parameters=int(summary["parameters"]), flops_per_sample=int(summary["flops_per_sample"]),
        duration_s=float(summary["seconds"]), steps=int(summary["steps_run"]),
        source=f"measured on {summary['device']}, {day}",
    )


def load_estimates() -> dict[str, Any]:
    """labs/workload/calibration.json: per-GPU workload parameters, each with its source."""
    return json.loads((workload_dir() / ESTIMATES_FILE).read_text(encoding="utf-8"))
