"""``labctl simulate COHORT``: rehearse a provisioned cohort's class on the simulated clusters.

--output and --state-dir come from the root group (labctl.cli.main adds them to every command).
Use cases are imported inside each command, for start-up speed (see labctl.cli.main).
"""

from __future__ import annotations

import click

from labctl.cli.context import AppContext
from labctl.ops.simulate import simulate_class
from labctl.text import plural

pass_app = click.make_pass_decorator(AppContext)


@click.command("simulate")
@click.argument("cohort", metavar="COHORT")
@click.option("--hours", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Simulated hours (default: the cohort's session window).")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed and inputs, same results.")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Speed-up over real time, e.g. 60 (default: as fast as possible).")
@pass_app
def simulate(app: AppContext, cohort: str, hours: float | None, seed: int, speed: float | None) -> None:
    """Simulate the class: nodes, autoscaling, spot interruptions, training progress, telemetry."""
    from labctl.ops.common import resolve_cohort_id

    # COHORT is the cohort file or its id, as for every other command that acts on a provisioned cohort
    report = simulate_class(app.state_dir, resolve_cohort_id(cohort, app.state_dir), hours=hours, seed=seed, speed=speed)
    if app.json:
        app.emit_json(report.as_dict())
        return
    click.echo(f"simulated {report.hours:g} h of cohort {report.cohort} (seed {report.seed}, {report.mode}); "
               f"telemetry: {plural(report.rows['lifecycle'], 'lifecycle row')}, {plural(report.rows['samples'], 'sample')}, "
               f"{plural(report.rows['events'], 'event')}")
    click.echo(f"{'team':<20} {'GPU-h':>8} {'used':>8} {'idle':>8} {'util%':>6} {'jobs':>5} {'intr':>5}")
    for t in report.teams:
        click.echo(f"{t.team:<20} {t.gpu_hours:>8.2f} {t.gpu_hours_used:>8.2f} {t.gpu_hours_idle:>8.2f} "
                   f"{t.gpu_utilization_pct:>6.1f} {t.jobs_completed:>2}/{t.jobs_submitted:<2} {t.interruptions:>5}")
        if t.gpu_hours_serving:
            click.echo(f"  serving (inference replicas): {t.gpu_hours_serving:.2f} GPU-h, not counted as idle")
        for pod, why in t.unschedulable.items():
            click.echo(f"  pending {pod}: {why}")
        for w in t.warnings:
            click.echo(f"  warning: {w}")
