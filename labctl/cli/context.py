"""The one object every click command receives: global options and output helpers."""

from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click


# `labctl <command>` in a message: the commands that read the state directory.
_SUGGESTED = re.compile(r"\blabctl (init|validate|render|plan|up|status|preflight|handouts|team|simulate|collect|"
                        r"guardrail|debrief|down|sweep|reaper|log|kubeconfig|emulator|demo)\b")


@dataclass
class AppContext:
    state_dir: Path
    output: str = "text"          # "text" | "json"
    debug: bool = False
    state_dir_given: bool = False  # --state-dir or $LABCTL_STATE_DIR: follow-up commands repeat it
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def json(self) -> bool:
        return self.output == "json"

    def emit_json(self, payload: Any) -> None:
        """The command's one JSON document on stdout (amounts of money are decimal strings)."""
        self.extra["emitted"] = True
        click.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))

    def emit_json_line(self, payload: Any) -> None:
        """One compact JSON object per line (JSON Lines: `status --watch -o json`)."""
        self.extra["emitted"] = True
        click.echo(json.dumps(payload, sort_keys=True, default=str, separators=(",", ":")))

    def follow_up(self, command: str) -> str:
        """A labctl command line to print as the next step, with --state-dir when it is not the
        default, so a copied line acts on the same cohort."""
        return self.with_state_dir(f"labctl {command}")

    def with_state_dir(self, text: str) -> str:
        """Every `labctl <command>` that ``text`` suggests (an error's or a report's next step),
        with --state-dir when the state directory in use is not the default."""
        if not self.state_dir_given:
            return text
        flag = f"--state-dir {shlex.quote(str(self.state_dir))}"
        return _SUGGESTED.sub(lambda m: f"labctl {flag} {m.group(1)}", text)

    def info(self, message: str) -> None:
        """Human progress text: to stderr when the result goes to stdout as JSON."""
        click.echo(message, err=self.json)


def err(message: str) -> None:
    click.echo(message, err=True)
    sys.stderr.flush()
