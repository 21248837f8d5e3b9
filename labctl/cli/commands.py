"""The list of labctl's commands, in the order ``labctl --help`` shows them."""

from __future__ import annotations

import click

ALL: list[click.Command] = []
