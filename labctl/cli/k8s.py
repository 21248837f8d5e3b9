"""`labctl kubeconfig COHORT TEAM`: the team's kubeconfig handout (registered in cli.main).

Use cases are imported inside each command, for start-up speed (see labctl.cli.main).
"""

from __future__ import annotations

from pathlib import Path

import click

from labctl.cli.context import AppContext

pass_app = click.make_pass_decorator(AppContext)


@click.command("kubeconfig")
@click.argument("cohort_ref", metavar="COHORT")
@click.argument("team")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path, resolve_path=True), default=None,
              help="Where to write it (default: ./<cohort>-<team>.kubeconfig), mode 0600.")
@pass_app
def kubeconfig(app: AppContext, cohort_ref: str, team: str, out: Path | None) -> None:
    """Write TEAM's kubeconfig (EKS or kind targets); COHORT is a cohort file or id."""
    from labctl.ops.handouts import write_team_kubeconfig

    result = write_team_kubeconfig(cohort_ref, app.state_dir, team, out)
    if app.json:
        app.emit_json(result.as_dict())
    else:
        click.echo(result.message)
