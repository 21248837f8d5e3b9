"""`labctl team knobs|plan|apply TEAM --cohort C`, `labctl preflight COHORT`, `labctl handouts COHORT`.

Each command parses, calls one use case (labctl.ops.team / preflight / handouts) and prints text
or ``--output json``. Registered in labctl.cli.commands. Use cases are imported inside each command, for start-up speed (see labctl.cli.main).
"""

from __future__ import annotations

from pathlib import Path

import click

from labctl.cli.context import AppContext
from labctl.errors import PreflightFailed, TerraformError
from labctl.text import plural

pass_app = click.make_pass_decorator(AppContext)
COHORT_OPT = click.option("--cohort", "cohort_ref", required=True, metavar="COHORT",
                          help="The cohort file, or the id of a provisioned cohort in the state directory.")




@click.group("team")
def team() -> None:
    """A team's own workflow: its knobs file, then plan and apply only that team."""


@team.command("knobs")
@click.argument("team_name", metavar="TEAM")
@COHORT_OPT
@click.option("--reset", is_flag=True, help="Overwrite the knobs file with the team's current values.")
@click.option("--from", "source", type=click.Path(dir_okay=False, exists=True, path_type=Path, resolve_path=True), default=None,
              help="Take in a team's edited copy (validated first; refused copies change nothing).")
@click.option("--print", "print_", is_flag=True, help="Print the file's content, not only its path.")
@pass_app
def knobs(app: AppContext, team_name: str, cohort_ref: str, reset: bool, source: Path | None, print_: bool) -> None:
    """Write TEAM's knobs file (pre-filled, commented with the lab's allowed values); print its path."""
    from labctl.ops.team import team_knobs

    res = team_knobs(cohort_ref, app.state_dir, team_name, reset=reset, source=source)
    if app.json:
        app.emit_json({**res.as_dict(), "content": res.text})
        return
    if print_:
        click.echo(res.text, nl=False)
        return
    click.echo(f"{team_name}: {'wrote' if res.created else 'kept'} {res.path}")
    click.echo(f"edit it, then: {app.follow_up(f'team plan {team_name} --cohort {cohort_ref}')}")


@team.command("plan")
@click.argument("team_name", metavar="TEAM")
@COHORT_OPT
@click.option("--diff/--no-diff", "show_diff", default=False, help="Also print the manifests' unified diff.")
@pass_app
def plan(app: AppContext, team_name: str, cohort_ref: str, show_diff: bool) -> None:
    """Show TEAM's Terraform and manifest changes and their cost over the rest of the session."""
    from labctl.ops.team import team_plan

    res = team_plan(cohort_ref, app.state_dir, team_name)
    if app.json:
        app.emit_json(res.as_dict())
    else:
        click.echo(res.text())
        if show_diff and res.manifest_diff:
            click.echo(res.manifest_diff)
    if res.status == "failed":
        raise TerraformError(f"team {team_name}: plan failed: {res.error}")


@team.command("apply")
@click.argument("team_name", metavar="TEAM")
@COHORT_OPT
@pass_app
def apply(app: AppContext, team_name: str, cohort_ref: str) -> None:
    """Apply TEAM's knobs (only that team): the saved plan from `team plan` when still current."""
    from labctl.ops.team import team_apply

    res = team_apply(cohort_ref, app.state_dir, team_name)
    if app.json:
        app.emit_json(res.as_dict())
    else:
        click.echo(res.text())
    if res.status == "failed":
        raise TerraformError(f"team {team_name}: apply failed: {res.error}{_lock_hint(app, cohort_ref, team_name, res.error)}")


def _lock_hint(app: AppContext, cohort_ref: str, team_name: str, error: str | None) -> str:
    """For a run that met the team's S3 state lock: who holds it and how to release it."""
    if "state lock" not in (error or ""):
        return ""
    from labctl.ops.state_lock import holder_message

    try:
        message = holder_message(cohort_ref, app.state_dir, team_name)
    except Exception:  # noqa: BLE001 - the hint must not hide the failure it explains
        return ""
    return f"\n{message}" if message else ""


@team.command("unlock")
@click.argument("team_name", metavar="TEAM")
@COHORT_OPT
@click.option("--lock-id", default=None, help="Release only this lock (the id `team apply` or terraform reported).")
@pass_app
def unlock(app: AppContext, team_name: str, cohort_ref: str, lock_id: str | None) -> None:
    """Release TEAM's S3 state lock left by a killed run (state: {backend: s3}); says who held it."""
    from labctl.ops.state_lock import unlock as unlock_team

    message = unlock_team(cohort_ref, app.state_dir, team_name, lock_id)
    if app.json:
        app.emit_json({"team": team_name, "result": message})
    else:
        click.echo(message)


@team.command("run")
@click.option("--root", "root", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="The team's rendered Terraform root (`labctl render` or a cohort's teams/<team>).")
@click.option("--action", type=click.Choice(["plan", "apply", "destroy"]), required=True)
@click.option("--workspace", default=None, help="The team (remote state); default: the root folder's name.")
@pass_app
def run(app: AppContext, root: Path, action: str, workspace: str | None) -> None:
    """Run one team's plan, apply or destroy from its root and the environment's AWS credentials only."""
    from labctl.ops.team_run import run_team

    res = run_team(root, action, workspace)  # type: ignore[arg-type]
    if app.json:
        app.emit_json(res.as_dict())
    else:
        summary = res.summary or {}
        click.echo(f"{res.root} ({res.workspace or 'local state'}): {action} {res.status} "
                   f"+{summary.get('add', 0)} ~{summary.get('change', 0)} -{summary.get('remove', 0)} ({res.seconds}s)")
        for e in res.errors:
            click.echo(f"  {e}")
    if not res.ok:
        raise TerraformError(f"{res.root}: {action} failed")


@click.command("preflight")
@click.argument("cohort_file", metavar="COHORT", type=click.Path(path_type=Path))
@pass_app
def preflight(app: AppContext, cohort_file: Path) -> None:
    """Before class: instance types offered, EC2 GPU quotas, budgets vs the cap, the window."""
    from labctl.ops.preflight import preflight as run_preflight

    report = run_preflight(cohort_file, app.state_dir)
    if app.json:
        app.emit_json(report.as_dict())
    else:
        click.echo(app.with_state_dir(report.text()))
    if report.failed:
        raise PreflightFailed(f"preflight: {plural(len(report.failed), 'check')} failed: "
                              f"{', '.join(c.name for c in report.failed)}")


@click.command("handouts")
@click.argument("cohort_ref", metavar="COHORT")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path, resolve_path=True),
              help="Directory for the per-team folders (created mode 0700; files 0600).")
@pass_app
def handouts(app: AppContext, cohort_ref: str, out: Path) -> None:
    """Write one folder per team: role ARN, kubeconfig (or a note), knobs file, the lab's handout."""
    from labctl.ops.handouts import write_handouts

    report = write_handouts(cohort_ref, app.state_dir, out)
    if app.json:
        app.emit_json(report.as_dict())
        return
    for t in report.teams:
        click.echo(f"{t.team}: {t.folder} ({', '.join(sorted(t.files))})")
        for note in t.notes:
            click.echo(f"  note: {app.with_state_dir(note)}")


ALL: list[click.Command] = [team, preflight, handouts]
