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


def common_options(func):  # type: ignore[no-untyped-def]
    """--state-dir and --output on every command (also accepted before the command name)."""
    func = click.option(
        "--output", "-o", "output", type=click.Choice(["text", "json"]), default=None,
        help="Output format (default: text).",
    )(func)
    func = click.option(
        "--state-dir", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="State directory (default: ./.labctl or $LABCTL_STATE_DIR).",
    )(func)
    return func


def resolve(ctx: click.Context, state_dir: Path | None, output: str | None) -> AppContext:
    app: AppContext = ctx.ensure_object(AppContext)  # type: ignore[arg-type]
    if state_dir is not None:
        app.state_dir = state_dir
    if output is not None:
        app.output = output
    return app


def err(message: str) -> None:
    click.echo(message, err=True)
    sys.stderr.flush()
