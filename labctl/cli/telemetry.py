"""Commands for telemetry and the debrief: `collect`, `debrief`, `guardrail`, and the body of
`status --watch` (:func:`watch_status`). Each parses, calls one use case in labctl.ops, prints."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path

import click

from labctl.cli.context import AppContext

pass_app = click.make_pass_decorator(AppContext)
COHORT_REF = click.argument("cohort_ref", metavar="COHORT")


def _seconds(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    from labctl.spec.models import parse_duration

    try:
        secs = float(value) if value.replace(".", "", 1).isdigit() else parse_duration(value).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if secs < 1:
        raise click.BadParameter("must be at least 1s")
    return secs


@click.command()
@COHORT_REF
@click.option("--every", callback=_seconds, default=None, metavar="DURATION",
              help="Collect every DURATION (e.g. 60s, 5m) until interrupted.")
@click.option("--once", is_flag=True, help="One pass, then exit (the default without --every).")
@click.option("--metrics-url", "metrics_urls", multiple=True, metavar="URL",
              help="DCGM exporter /metrics or Prometheus /api/v1/query?query=... URL (repeatable).")
@pass_app
def collect(app: AppContext, cohort_ref: str, every: float | None, once: bool, metrics_urls: tuple[str, ...]) -> None:
    """Record what the cohort's resources are doing now into its telemetry store (incremental, restart-safe)."""
    from labctl.ops.collect import collect_loop, collect_once

    def show(r) -> None:  # type: ignore[no-untyped-def]
        if app.json:
            app.emit_json(r.as_dict())
            return
        parts = ", ".join(f"{k}: {v['lifecycle']} lifecycle, {v['samples']} samples, {v['events']} events"
                          for k, v in r.written.items())
        click.echo(f"{r.cohort} at {r.at[:19]}Z: {parts}")
        for u in r.unreadable:
            click.echo(f"  unreadable: {u}", err=True)

    if once or every is None:
        show(collect_once(app.state_dir, cohort_ref, metrics_urls=metrics_urls))
        return
    stop = threading.Event()
    try:
        collect_loop(app.state_dir, cohort_ref, every, stop=stop, on_pass=show, metrics_urls=metrics_urls)
    except KeyboardInterrupt:
        stop.set()
        click.echo("collect: stopped", err=True)


@click.command()
@COHORT_REF
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for debrief.html, debrief.json and focus.csv.")
@pass_app
def debrief(app: AppContext, cohort_ref: str, out: Path) -> None:
    """Write the debrief: a self-contained HTML page with charts, its JSON, and the FOCUS CSV."""
    from labctl.ops.debrief import write_debrief
    from labctl.ops.down import resolve_cohort_id

    result = write_debrief(app.state_dir, resolve_cohort_id(cohort_ref, app.state_dir), out)
    if app.json:
        app.emit_json(result)
        return
    s = result["summary"]
    click.echo(f"{s['cohort']}: {s['teams']} teams, ${s['total_cost_usd']} ({s['basis']}), "
               f"{s['completed_runs']} completed runs, leader {s['leader']}")
    for key in ("html", "json", "focus_csv"):
        click.echo(f"  {result[key]}")


@click.command()
@COHORT_REF
@click.option("--threshold", type=click.FloatRange(1, 1000), default=90.0, show_default=True, metavar="PCT",
              help="Percent of its budget past which a team's GPU node groups are scaled to zero.")
@click.option("--dry-run", is_flag=True, help="Say what would be done; change nothing.")
@pass_app
def guardrail(app: AppContext, cohort_ref: str, threshold: float, dry_run: bool) -> None:
    """Warn teams heading over budget; past the threshold, scale their GPU node groups to zero."""
    from labctl.ops.guardrail import guardrail as run

    report = run(app.state_dir, cohort_ref, threshold_pct=Decimal(str(threshold)), dry_run=dry_run)
    if app.json:
        app.emit_json(report.as_dict())
        return
    for a in report.actions:
        verb = "would" if dry_run and a.kind == "scale-to-zero" else ""
        click.echo(f"{a.team}: {verb + ' ' if verb else ''}{a.kind}{' ' + a.nodegroup if a.nodegroup else ''}: {a.detail}")
    if not report.actions:
        click.echo(f"{report.cohort}: every team within its budget's course")
    elif dry_run:
        click.echo(f"{report.cohort}: dry run, nothing changed")


def watch_status(app: AppContext, cohort_ref: str, interval: float, *, iterations: int | None = None) -> None:
    """The body of `labctl status --watch`: refresh the live view every ``interval`` seconds.

    Text: a table redrawn in place (rich), teams at risk marked ``!`` (over budget ``!!``).
    ``--output json``: one JSON object per refresh, one per line. ``iterations`` bounds the loop
    (tests); otherwise it runs until interrupted.
    """
    from labctl.ops.live import live_status, render_table

    n = 0
    try:
        if app.json:
            while iterations is None or n < iterations:
                app.emit_json(live_status(app.state_dir, cohort_ref).as_dict())
                n += 1
                if iterations is None or n < iterations:
                    time.sleep(interval)
            return
        from rich.console import Console
        from rich.live import Live

        console = Console()
        with Live(render_table(live_status(app.state_dir, cohort_ref)), console=console,
                  refresh_per_second=1, auto_refresh=False) as live:
            n = 1
            while iterations is None or n < iterations:
                time.sleep(interval)
                live.update(render_table(live_status(app.state_dir, cohort_ref)), refresh=True)
                n += 1
    except KeyboardInterrupt:
        return


COMMANDS: list[click.Command] = [collect, debrief, guardrail]
