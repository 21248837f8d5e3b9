"""The one object every click command receives: global options and output helpers."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click


@dataclass
class AppContext:
    state_dir: Path
    output: str = "text"          # "text" | "json"
    debug: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def json(self) -> bool:
        return self.output == "json"

    def emit_json(self, payload: Any) -> None:
        click.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))

    def info(self, message: str) -> None:
        """Human progress text: to stderr when the result goes to stdout as JSON."""
        click.echo(message, err=self.json)


def err(message: str) -> None:
    click.echo(message, err=True)
    sys.stderr.flush()
