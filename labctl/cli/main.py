"""labctl's click entry point: global options, error handling, command registration.

Commands live in sibling modules; each parses its arguments, calls one use case in
``labctl.ops`` and prints the result (text or ``--output json``).
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

import click

from labctl import __version__
from labctl.cli.context import AppContext
from labctl.errors import ExitCode, LabctlError


class LabctlGroup(click.Group):
    """Turns LabctlError into one clear line and its exit code; tracebacks only with --debug."""

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except LabctlError as exc:
            debug = bool(ctx.obj and ctx.obj.debug) or "--debug" in sys.argv
            if debug:
                traceback.print_exc()
            for line in str(exc).splitlines() or [type(exc).__name__]:
                click.echo(f"error: {line}", err=True)
            ctx.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(int(ExitCode.CANCELLED))
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # noqa: BLE001 - last-resort boundary of the CLI
            debug = bool(ctx.obj and ctx.obj.debug) or "--debug" in sys.argv
            if debug:
                traceback.print_exc()
            else:
                click.echo(f"error: internal error: {type(exc).__name__}: {exc} (rerun with --debug for a traceback)", err=True)
            ctx.exit(int(ExitCode.INTERNAL))


@click.group(cls=LabctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="State directory (default: ./.labctl or $LABCTL_STATE_DIR).")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", help="Output format.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="labctl")
@click.pass_context
def cli(ctx: click.Context, state_dir: Path | None, output: str, debug: bool) -> None:  # noqa: D401
    """Provision, meter and tear down hands-on GPU FinOps labs."""
    default_state = Path(os.environ.get("LABCTL_STATE_DIR", ".labctl"))
    ctx.obj = AppContext(state_dir=state_dir or default_state, output=output, debug=debug)


def _set_state_dir(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.find_object(AppContext).state_dir = value  # type: ignore[union-attr]


def _set_output(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.find_object(AppContext).output = value  # type: ignore[union-attr]


def _with_common_options(command: click.Command) -> None:
    """Every command accepts --state-dir and --output after its name, too."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_common_options(sub)
        return
    names = {opt for p in command.params for opt in getattr(p, "opts", [])}
    if "--state-dir" not in names:
        command.params.append(click.Option(
            ["--state-dir"], type=click.Path(file_okay=False, path_type=Path), default=None, expose_value=False,
            is_eager=True, callback=_set_state_dir, help="State directory (default: ./.labctl)."))
    if "--output" not in names:
        command.params.append(click.Option(
            ["--output", "-o"], type=click.Choice(["text", "json"]), default=None, expose_value=False,
            is_eager=True, callback=_set_output, help="Output format: text or json."))


def _register() -> None:
    from labctl.cli import commands

    for command in commands.ALL:
        _with_common_options(command)
        cli.add_command(command)


def main() -> None:
    _register()
    cli(prog_name="labctl")
