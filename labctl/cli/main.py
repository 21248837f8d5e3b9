"""labctl's click entry point: global options, error handling, command registration.

Commands live in sibling modules; each parses its arguments, calls one use case in
``labctl.ops`` and prints the result (text or ``--output json``).

A command imports its use case inside its own function, not at the top of its module, for
start-up speed only: importing every use case (with pydantic, the Kubernetes client, the AWS SDK) adds
about 0.6 s to `labctl --help` and to each command. No import loop needs them: the layer tests
count function-level imports too (tests/unit/test_layers.py).
"""

from __future__ import annotations

import errno
import json
import os
import sys
import traceback
from pathlib import Path

import click

from labctl import __version__
from labctl.cli import progress
from labctl.cli.context import AppContext
from labctl.errors import ExitCode, LabctlError, SpecError
from labctl.state import LOCK_WAIT


class LabctlGroup(click.Group):
    """Turns LabctlError into one clear line and its exit code; tracebacks only with --debug.

    With ``--output json`` a failure is also one JSON object on stdout, ``{"error": ...,
    "exit_code": N}`` (a bad cohort file adds ``problems``), unless the command already wrote its
    result there: stdout then keeps that one document (which names what failed) and the exit code
    says it failed.
    """

    def make_context(self, info_name, args, parent=None, **extra):  # type: ignore[no-untyped-def]
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.ClickException as exc:   # a usage error before any command ran
            if _argv_asks_json():
                click.echo(json.dumps({"error": exc.format_message(), "exit_code": exc.exit_code}, indent=2, sort_keys=True))
            raise

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except LabctlError as exc:
            debug = bool(ctx.obj and ctx.obj.debug) or "--debug" in sys.argv
            if debug:
                traceback.print_exc()
            message = str(exc) or type(exc).__name__
            if isinstance(ctx.obj, AppContext):   # a next step it names acts on the same state dir
                message = ctx.obj.with_state_dir(message)
            for line in message.splitlines():
                click.echo(f"error: {line}", err=True)
            _json_error(ctx, message, int(exc.exit_code), exc)
            ctx.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            _json_error(ctx, "interrupted", int(ExitCode.CANCELLED))
            ctx.exit(int(ExitCode.CANCELLED))
        except click.ClickException as exc:
            # Usage errors: click prints them (usage line and message, exit 2); JSON readers
            # get the same as one object.
            _json_error(ctx, exc.format_message(), exc.exit_code)
            raise
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - last-resort boundary of the CLI
            debug = bool(ctx.obj and ctx.obj.debug) or "--debug" in sys.argv
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                # A full disk is the machine's condition, not a bug: say what could not be written
                # and that the same command is safe to rerun once there is room.
                if debug:
                    traceback.print_exc()
                where = f" writing {exc.filename}" if exc.filename else ""
                message = (f"no space left on the device{where}; free some space and rerun the same command "
                           "(labctl writes its own files whole or not at all)")
                click.echo(f"error: {message}", err=True)
                _json_error(ctx, message, int(ExitCode.ENVIRONMENT), exc)
                ctx.exit(int(ExitCode.ENVIRONMENT))
            message = f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for a traceback)"
            if debug:
                traceback.print_exc()
            else:
                click.echo(f"error: {message}", err=True)
            _json_error(ctx, message, int(ExitCode.INTERNAL))
            ctx.exit(int(ExitCode.INTERNAL))


def _json_error(ctx: click.Context, message: str, code: int, exc: Exception | None = None) -> None:
    app = ctx.obj if isinstance(ctx.obj, AppContext) else None
    wants_json = (app is not None and app.json) or _argv_asks_json()
    if not wants_json or (app is not None and app.extra.get("emitted")):
        return
    payload: dict = {"error": message, "exit_code": code}
    if exc is not None:
        payload["kind"] = type(exc).__name__
    if isinstance(exc, SpecError):
        payload["problems"] = [{"file": p.file, "line": p.line, "field": p.field, "message": p.message}
                               for p in exc.problems]
    click.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))


def _argv_asks_json() -> bool:
    # A usage error can stop parsing before the eager --output callback ran.
    args = sys.argv[1:]
    for i, a in enumerate(args):
        if a in ("-o", "--output") and i + 1 < len(args) and args[i + 1] == "json":
            return True
        if a in ("-ojson", "--output=json"):
            return True
    return False


@click.group(cls=LabctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path, resolve_path=True), default=None,
              help="State directory (default: ./.labctl or $LABCTL_STATE_DIR).")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", help="Output format.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--no-wait", is_flag=True,
              help="Refuse at once (exit 9) when another command holds the cohort's lock, instead of waiting.")
@click.version_option(__version__, prog_name="labctl")
@click.pass_context
def cli(ctx: click.Context, state_dir: Path | None, output: str, debug: bool, no_wait: bool) -> None:  # noqa: D401
    """Provision, meter and tear down hands-on GPU FinOps labs."""
    LOCK_WAIT.set(not no_wait)
    progress.install()          # the use cases report progress; only the CLI draws it
    default_state = Path(os.environ.get("LABCTL_STATE_DIR") or ".labctl")
    # Resolved once, here: terraform runs in each team's directory, where a relative path to
    # its CLI config (and so to the provider mirror) would name nothing.
    ctx.obj = AppContext(state_dir=(state_dir or default_state).absolute(), output=output, debug=debug,
                         state_dir_given=state_dir is not None or bool(os.environ.get("LABCTL_STATE_DIR")))


def _set_state_dir(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        app = ctx.find_object(AppContext)
        app.state_dir = value.absolute()  # type: ignore[union-attr]
        app.state_dir_given = True  # type: ignore[union-attr]


def _set_no_wait(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        LOCK_WAIT.set(False)


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
            ["--state-dir"], type=click.Path(file_okay=False, path_type=Path, resolve_path=True), default=None, expose_value=False,
            is_eager=True, callback=_set_state_dir, help="State directory (default: ./.labctl)."))
    if "--no-wait" not in names:
        command.params.append(click.Option(
            ["--no-wait"], is_flag=True, default=False, expose_value=False, is_eager=True, callback=_set_no_wait,
            help="Refuse at once (exit 9) when another command holds the cohort's lock."))
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
