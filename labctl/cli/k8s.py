"""`labctl kubeconfig COHORT TEAM`: the team's kubeconfig handout (registered in cli.main)."""

from __future__ import annotations

from pathlib import Path

import click

from labctl.cli.context import AppContext
from labctl.errors import NotFoundError

pass_app = click.make_pass_decorator(AppContext)

SIMULATED = ("cohort {cohort} runs on the embedded target: its cluster is simulated inside labctl, "
             "so there is no Kubernetes API and no kubeconfig to hand out")


@click.command("kubeconfig")
@click.argument("cohort_ref", metavar="COHORT")
@click.argument("team")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path, resolve_path=True), default=None,
              help="Where to write it (default: ./<cohort>-<team>.kubeconfig), mode 0600.")
@pass_app
def kubeconfig(app: AppContext, cohort_ref: str, team: str, out: Path | None) -> None:
    """Write TEAM's kubeconfig (EKS or kind targets); COHORT is a cohort file or id."""
    from labctl.k8s.kubeconfig import team_eks_kubeconfig, write_kubeconfig
    from labctl.tf import state as tfstate
    from labctl.ops.common import resolve_cohort_id
    from labctl.state import StateDir

    cohort_id = resolve_cohort_id(cohort_ref, app.state_dir)
    cs = StateDir(app.state_dir).existing_cohort(cohort_id)
    meta = cs.meta()
    if team not in set(meta.all_teams) | set(cs.teams_with_state()):
        raise NotFoundError(f"cohort {cohort_id} has no team {team!r}")
    if meta.k8s != "kind" and meta.target == "embedded":
        msg = SIMULATED.format(cohort=cohort_id)
        if app.json:
            app.emit_json({"cohort": cohort_id, "team": team, "simulated": True, "kubeconfig": None, "message": msg})
        else:
            click.echo(msg)
        return
    dest = out or Path(f"{cohort_id}-{team}.kubeconfig")
    if meta.k8s == "kind":
        from labctl.k8s import kind

        kind.ensure_cluster(cohort_id, dest, create=False)
    else:
        config = team_eks_kubeconfig(tfstate.team_outputs(cs.team_dir(team)), f"{cohort_id}-{team}", meta.region,
                                     meta.aws_profile, meta.localstack_endpoint)
        if config is None:
            raise NotFoundError(f"team {team} of cohort {cohort_id} has no cluster yet (run `labctl up` first)")
        write_kubeconfig(dest, config)
    if app.json:
        app.emit_json({"cohort": cohort_id, "team": team, "simulated": False, "kubeconfig": str(dest)})
    else:
        click.echo(f"{team}: wrote {dest} (mode 0600); use it with KUBECONFIG={dest}")
