"""Settings from the environment, validated against ``env-contract.json`` (no torch here).

The contract file is the one list of variable names, types and defaults; labctl renders the
Kubernetes Job from the same file. A variable that carries the contract's prefix but is not in
it is an error, so a typo in a rendered Job fails the pod at once instead of being ignored.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

CONTRACT_PATH = Path(__file__).resolve().parent.parent / "env-contract.json"


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    bucket: str
    prefix: str
    endpoint_url: str
    region: str
    total_steps: int
    checkpoint_every: int
    batch_size: int
    hidden_size: int
    metrics_port: int
    seed: int
    log_every: int
    device: str
    torch_threads: int
    max_seconds: int

    @property
    def checkpointing(self) -> bool:
        return self.checkpoint_every > 0


def load_contract(path: Path = CONTRACT_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _parse(name: str, spec: Mapping[str, Any], raw: str) -> tuple[Any, str | None]:
    if spec["type"] == "int":
        try:
            value: Any = int(raw.strip())
        except ValueError:
            return None, f"{name}={raw!r}: not an integer"
        if "min" in spec and value < spec["min"]:
            return None, f"{name}={value}: must be >= {spec['min']}"
        if "max" in spec and value > spec["max"]:
            return None, f"{name}={value}: must be <= {spec['max']}"
    else:
        value = raw
        if "choices" in spec and value not in spec["choices"]:
            return None, f"{name}={raw!r}: must be one of {', '.join(spec['choices'])}"
    return value, None


def from_environ(environ: Mapping[str, str], contract: Mapping[str, Any] | None = None) -> Settings:
    contract = contract if contract is not None else load_contract()
    variables: dict[str, Mapping[str, Any]] = contract["variables"]
    prefix: str = contract["prefix"]
    problems: list[str] = []

    for name in sorted(environ):
        if name.startswith(prefix) and name not in variables:
            close = difflib.get_close_matches(name, list(variables), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{name}: unknown variable{hint}; known: see env-contract.json")

    values: dict[str, Any] = {}
    for name, spec in variables.items():
        raw = environ.get(name)
        if raw is None or raw == "":
            values[spec["key"]] = spec["default"]
            continue
        value, problem = _parse(name, spec, raw)
        if problem:
            problems.append(problem)
        values[spec["key"]] = value

    if not problems and values["checkpoint_every"] > 0 and not values["bucket"]:
        bucket_var = next(n for n, s in variables.items() if s["key"] == "bucket")
        problems.append(f"{bucket_var} is required when checkpointing is on (checkpoint_every > 0)")
    if problems:
        raise ConfigError(problems)
    values["prefix"] = values["prefix"].strip("/")
    return Settings(**values)
