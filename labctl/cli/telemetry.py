"""Commands for telemetry and the debrief: `collect`, `debrief`, `guardrail`, and the body of
`status --watch` (:func:`watch_status`). Each parses, calls one use case in labctl.ops, prints.

Use cases are imported inside each command, for start-up speed (see labctl.cli.main).
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path

import click

from labctl.cli.context import AppContext
from labctl.text import plural

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


def _kubeconfigs(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, Path]:
    """``--kubeconfig TEAM=PATH`` (repeatable) as team -> path; that TEAM is a team of the cohort
    and PATH exists is checked by the use case, which knows the cohort."""
    out: dict[str, Path] = {}
    for v in values:
        team, sep, path = v.partition("=")
        if not sep or not team or not path:
            raise click.BadParameter(f"{v!r}: expected TEAM=PATH")
        if team in out:
            raise click.BadParameter(f"team {team!r} given twice")
        out[team] = Path(path).expanduser()
    return out


THRESHOLD_HELP = "Percent of its budget past which a team's GPU node groups are scaled to zero."
DRY_RUN_HELP = "Say what would be done; change nothing."


def guardrail_lines(report: dict, dry_run: bool) -> list[str]:
    """The guardrail's actions as text lines (`guardrail`, and `collect` after each pass)."""
    lines = []
    for a in report["actions"]:
        verb = "would " if dry_run and a["kind"] == "scale-to-zero" else ""
        lines.append(f"{a['team']}: {verb}{a['kind']}{' ' + a['nodegroup'] if a['nodegroup'] else ''}: {a['detail']}")
    if not report["actions"]:
        lines.append(f"{report['cohort']}: every team within its budget's course")
    elif dry_run:
        lines.append(f"{report['cohort']}: dry run, nothing changed")
    return lines


@click.command()
@COHORT_REF
@click.option("--every", callback=_seconds, default=None, metavar="DURATION",
              help="Collect every DURATION (e.g. 60s, 5m) until interrupted.")
@click.option("--once", is_flag=True, help="One pass, then exit (the default without --every).")
@click.option("--metrics-url", "metrics_urls", multiple=True, metavar="URL",
              help="DCGM exporter /metrics or Prometheus /api/v1/query?query=... URL (repeatable).")
@click.option("--kubeconfig", "kubeconfigs", multiple=True, callback=_kubeconfigs, metavar="TEAM=PATH",
              help="Read TEAM's cluster through this kubeconfig instead of the one labctl builds (repeatable).")
@click.option("--guardrail/--no-guardrail", "with_guardrail", default=None,
              help="Run the budget guardrail after each pass (default: on with --every, off for one pass).")
@click.option("--threshold", type=click.FloatRange(1, 1000), default=None, metavar="PCT",
              help=THRESHOLD_HELP + " Guardrail only. [default: 90]")
@click.option("--dry-run", is_flag=True, help="Guardrail only: say what it would do; change nothing (collection still writes the store).")
@pass_app
def collect(app: AppContext, cohort_ref: str, every: float | None, once: bool, metrics_urls: tuple[str, ...],
            kubeconfigs: dict[str, Path], with_guardrail: bool | None, threshold: float | None, dry_run: bool) -> None:
    """Record what the cohort's resources are doing now into its telemetry store (incremental, restart-safe)."""
    from labctl.ops.collect import collect_loop, collect_once
    from labctl.ops.guardrail import DEFAULT_THRESHOLD_PCT, GuardrailOptions

    loop = not once and every is not None
    if with_guardrail is None:          # --threshold or --dry-run alone also ask for it
        with_guardrail = loop or threshold is not None or dry_run
    options = GuardrailOptions(Decimal(str(threshold)) if threshold is not None else DEFAULT_THRESHOLD_PCT,
                               dry_run) if with_guardrail else None
    shown: set[str] = set()

    def show(r) -> None:  # type: ignore[no-untyped-def]
        if app.json:                    # one pass: one document; --every: one line per pass (JSON Lines)
            (app.emit_json_line if loop else app.emit_json)(r.as_dict())
            return
        for n in r.notes:               # once per run, not every pass
            if n not in shown:
                shown.add(n)
                click.echo(f"note: {app.with_state_dir(n)}")
        parts = ", ".join(f"{k}: {plural(v['lifecycle'], 'lifecycle row')}, {plural(v['samples'], 'sample')}, "
                          f"{plural(v['events'], 'event')}"
                          for k, v in r.written.items())
        click.echo(f"{r.cohort} at {r.at[:19]}Z: {parts}")
        for u in r.unreadable:
            click.echo(f"  unreadable: {u}", err=True)
        if r.guardrail is not None:
            for line in guardrail_lines(r.guardrail, dry_run):
                click.echo(f"  guardrail: {line}")

    kw = {"metrics_urls": metrics_urls, "kubeconfigs": kubeconfigs, "guardrail_options": options}
    if not loop:
        show(collect_once(app.state_dir, cohort_ref, **kw))
        return
    stop = threading.Event()
    try:
        collect_loop(app.state_dir, cohort_ref, every, stop=stop, on_pass=show, **kw)
    except KeyboardInterrupt:
        stop.set()
        click.echo("collect: stopped", err=True)
        raise                               # exit 130, as the README says of an interrupted command


@click.command()
@COHORT_REF
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path, resolve_path=True),
              help="Directory for debrief.html, debrief.json and focus.csv.")
@click.option("--billed", is_flag=True,
              help="Also read Cost Explorer (the cohort's target; a real account for target aws) and show each "
                   "team's billed cost beside the metered one. Billing lags hours to a day.")
@pass_app
def debrief(app: AppContext, cohort_ref: str, out: Path, billed: bool) -> None:
    """Write the debrief: a self-contained HTML page with charts, its JSON, and the FOCUS CSV."""
    from labctl.ops.debrief import write_debrief
    from labctl.ops.common import resolve_cohort_id

    result = write_debrief(app.state_dir, resolve_cohort_id(cohort_ref, app.state_dir), out, billed=billed)
    if app.json:
        app.emit_json(result)
        return
    s = result["summary"]
    click.echo(f"{s['cohort']}: {plural(s['teams'], 'team')}, ${s['total_cost_usd']} ({s['basis']}), "
               f"{s['completed_runs']} completed runs, leader {s['leader'] or 'none (no team completed a run)'}")
    b = s["billed"]
    if b["included"]:
        click.echo(f"  billed: ${b['total_usd']} (Cost Explorer{', estimated' if b['estimated'] else ''})")
    elif billed:
        click.echo(f"  {b['reason']}", err=True)
    for key in ("html", "json", "focus_csv", "focus_parquet"):
        click.echo(f"  {result[key]}")


@click.command()
@COHORT_REF
@click.option("--threshold", type=click.FloatRange(1, 1000), default=90.0, show_default=True, metavar="PCT",
              help=THRESHOLD_HELP)
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
@pass_app
def guardrail(app: AppContext, cohort_ref: str, threshold: float, dry_run: bool) -> None:
    """Warn teams heading over budget; past the threshold, scale their GPU node groups to zero."""
    from labctl.ops.guardrail import guardrail as run

    report = run(app.state_dir, cohort_ref, threshold_pct=Decimal(str(threshold)), dry_run=dry_run)
    if app.json:
        app.emit_json(report.as_dict())
        return
    for line in guardrail_lines(report.as_dict(), dry_run):
        click.echo(line)


def watch_status(app: AppContext, cohort_ref: str, interval: float, *, iterations: int | None = None) -> None:
    """The body of `labctl status --watch`: refresh the live view every ``interval`` seconds.

    On a terminal: the view redrawn in place, laid out for its width (two lines per team below 100
    columns), at-risk teams marked ``!`` and over-budget ones ``!!``, with a legend. Piped: one
    plain snapshot per interval. ``--output json``: one JSON object per interval, one per line
    (JSON Lines). ``iterations`` bounds the loop (``--count``); otherwise it runs until Ctrl-C,
    which exits 130 like any interrupted command.
    """
    import sys

    from labctl.ops.live import live_status

    def snapshot() -> tuple[dict, str | None]:
        st = live_status(app.state_dir, cohort_ref)
        hint = None if st.has_telemetry else (
            f"no telemetry yet: run `{app.follow_up(f'simulate {cohort_ref}')}` (a simulated class on the "
            f"embedded target) or `{app.follow_up(f'collect {cohort_ref} --every 60s')}` (real clusters)")
        return {"live": st, "hint": hint}, hint

    n = 0
    tty = sys.stdout.isatty() and not app.json
    if tty:
        _watch_tty(app, snapshot, interval, iterations)
        return
    while iterations is None or n < iterations:
        data, hint = snapshot()
        st = data["live"]
        if app.json:
            app.emit_json_line({**st.as_dict(), "next_step": hint})
        else:
            from labctl.ops.live import render_text

            if n:
                click.echo()
            click.echo(render_text(st, width=80))
            if hint:
                click.echo(hint)
        sys.stdout.flush()
        n += 1
        if iterations is None or n < iterations:
            time.sleep(interval)


def _watch_tty(app: AppContext, snapshot, interval: float, iterations: int | None) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console, Group
    from rich.live import Live
    from rich.text import Text

    from labctl.ops.live import render_lines

    console = Console()

    def view():  # type: ignore[no-untyped-def]
        data, hint = snapshot()
        lines = [Text(line, style=style or "") for line, style in render_lines(data["live"], width=console.width)]
        if hint:
            lines.append(Text(hint, style="bold"))
        return Group(*lines)

    with Live(view(), console=console, refresh_per_second=1, auto_refresh=False) as live:
        n = 1
        while iterations is None or n < iterations:
            time.sleep(interval)
            live.update(view(), refresh=True)
            n += 1


COMMANDS: list[click.Command] = [collect, debrief, guardrail]
