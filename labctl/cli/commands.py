"""labctl's commands: each parses, calls one use case in labctl.ops, prints text or JSON.

Use cases are imported inside each command, for start-up speed (see labctl.cli.main).
"""

from __future__ import annotations

from pathlib import Path

import click

from labctl.cli.context import AppContext
from labctl.errors import FileExists
from labctl.text import plural

pass_app = click.make_pass_decorator(AppContext)
# Any path: a directory or an unreadable file is refused by the loader like any bad cohort (exit 3).
COHORT = click.argument("cohort_file", metavar="COHORT", type=click.Path(path_type=Path))
ALLOW_PAST = click.option("--allow-past", is_flag=True,
                          help="Accept a session window that is already over (normally refused).")
# status/down/sweep/log: a cohort file, or the id of a cohort in the state directory
COHORT_REF = click.argument("cohort_ref", metavar="COHORT")


@click.command()
@COHORT
@ALLOW_PAST
@pass_app
def validate(app: AppContext, cohort_file: Path, allow_past: bool) -> None:
    """Check a cohort file and its lab; one line per problem, non-zero exit when invalid."""
    from labctl.ops.validate import validate_cohort
    from labctl.state import now

    cohort = validate_cohort(cohort_file, now=None if allow_past else now())
    if app.json:
        app.emit_json({"valid": True, "cohort": cohort.id, "lab": cohort.lab.name,
                       "teams": [t.name for t in cohort.teams]})
    else:
        click.echo(f"{cohort_file}: valid (cohort {cohort.id}, lab {cohort.lab.name}, {plural(len(cohort.teams), 'team')})")


@click.command()
@COHORT
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path, resolve_path=True),
              help="Directory for the per-team build trees.")
@pass_app
def render(app: AppContext, cohort_file: Path, out: Path) -> None:
    """Write each team's Terraform root (and tfvars JSON) without deploying anything."""
    from labctl.ops.render import render as do_render

    cohort, dirs = do_render(cohort_file, out)
    if app.json:
        app.emit_json({"cohort": cohort.id, "teams": {d.name: str(d) for d in dirs}})
    else:
        for d in dirs:
            click.echo(f"{d.name}: {d}")


@click.command()
@COHORT
@click.option("--teams", "teams", default=None, help="Comma-separated subset of teams.")
@click.option("--dry-run", is_flag=True, help="Plan only: print what would change, change nothing.")
@click.option("--parallelism", type=click.IntRange(1, 64), default=None,
              help="Teams applied at once (default: from memory and cores).")
@click.option("--k8s", "k8s", type=click.Choice(["simulated", "kind"]), default=None,
              help="Where the teams' manifests run on a laptop: the embedded target's simulated cluster "
                   "(default), or one kind cluster per cohort (needs kind and Docker; a namespace per team).")
@click.option("--batch-size", type=click.IntRange(1, 64), default=None,
              help="New teams created per terraform command (default: from memory; 1: one root per team). "
                   "Each team still gets its own state.")
@ALLOW_PAST
@click.option("--reprovision", is_flag=True,
              help="Provision a cohort that was torn down again, on purpose (otherwise refused, exit 9).")
@pass_app
def up(app: AppContext, cohort_file: Path, teams: str | None, dry_run: bool, parallelism: int | None,
       k8s: str | None, batch_size: int | None, allow_past: bool, reprovision: bool) -> None:
    """Provision (or update) every team of a cohort, in parallel."""
    from labctl.errors import TerraformError
    from labctl.ops.up import up as do_up

    report = do_up(cohort_file, app.state_dir, teams=_split(teams), dry_run=dry_run,
                   parallelism=parallelism, quiet=app.json, k8s=k8s, batch_size=batch_size,
                   allow_past=allow_past, reprovision=reprovision)
    if app.json:
        app.emit_json(report.as_dict())
    else:
        for t in report.teams:
            line = f"{t.team}: {t.status}"
            if t.summary and t.status in ("created", "changed"):
                line += f" (+{t.summary.get('add', 0)} ~{t.summary.get('change', 0)} -{t.summary.get('remove', 0)})"
            if t.status == "unchanged":
                line += " (no changes)"
            if t.error:
                line += f": {app.with_state_dir(t.error)}"
            click.echo(line)
            for p in t.planned:
                click.echo(f"  {p}")
            for r in t.reconciled:      # what an interrupted apply had left outside the state
                click.echo(f"  {r}")
        if report.kind is not None:
            k = report.kind
            click.echo(f"kind cluster {k.cluster} ({'created' if k.created else 'reused'}; kubeconfig {k.kubeconfig}): "
                       + ", ".join(f"{n} as {g}" for n, g in sorted(k.nodes.items())))
        click.echo(f"{report.cohort}: {len(report.teams) - len(report.failed)} of {plural(len(report.teams), 'team')} ok "
                   f"in {report.seconds:.0f}s")
    if report.failed:
        raise TerraformError(f"{plural(len(report.failed), 'team')} failed: {', '.join(t.team for t in report.failed)}")


@click.command("plan")
@COHORT
@click.option("--teams", "teams", default=None, help="Comma-separated subset of teams.")
@click.option("--parallelism", type=click.IntRange(1, 64), default=None, help="Teams planned at once.")
@pass_app
def plan_cmd(app: AppContext, cohort_file: Path, teams: str | None, parallelism: int | None) -> None:
    """Show what `up` would change per team and what it would cost over the session."""
    from labctl.errors import TerraformError
    from labctl.ops.plan import plan as do_plan

    report = do_plan(cohort_file, app.state_dir, teams=_split(teams), parallelism=parallelism, quiet=app.json)
    data = report.as_dict()
    if app.json:
        app.emit_json(data)
    else:
        click.echo(report.text())
    failed = [t["team"] for t in data["teams"] if t["status"] == "failed"]
    if failed:
        raise TerraformError(f"plan failed for: {', '.join(failed)}")


@click.command("log")
@COHORT_REF
@click.option("--limit", type=click.IntRange(1, 100000), default=None, help="Only the last N entries.")
@pass_app
def log_cmd(app: AppContext, cohort_ref: str, limit: int | None) -> None:
    """The cohort's audit log: every state-changing command, who ran it, when, and its result."""
    import json as _json

    from labctl.ops.common import resolve_cohort_id
    from labctl.state import StateDir

    cs = StateDir(app.state_dir).existing_cohort(resolve_cohort_id(cohort_ref, app.state_dir))
    entries = cs.audit_entries(limit)
    if app.json:
        app.emit_json(entries)
        return
    for e in entries:
        extra = {k: v for k, v in e.items() if k not in ("at", "who", "command", "result")}
        details = " ".join(f"{k}={_json.dumps(v, sort_keys=True)}" for k, v in sorted(extra.items()))
        click.echo(f"{e.get('at', '?')}  {e.get('who', '?'):<10} {e.get('command', '?'):<10} "
                   f"{e.get('result', '?'):<10} {details}")


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@click.group()
def emulator() -> None:
    """The embedded AWS emulator (moto server on 127.0.0.1; state in memory only)."""


@emulator.command("start")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port (default: any free port).")
@pass_app
def emulator_start(app: AppContext, port: int) -> None:
    """Start the emulator in the background (its state is lost when it stops)."""
    from labctl.aws import emulator as emu

    info, started = emu.start_background(app.state_dir, port=port)
    if app.json:
        app.emit_json({"url": info.url, "pid": info.pid, "boot_id": info.boot_id, "started": started})
    else:
        verb = "started" if started else "already running"
        click.echo(f"emulator {verb} at {info.url} (pid {info.pid}); its state is in memory only")


@emulator.command("stop")
@pass_app
def emulator_stop(app: AppContext) -> None:
    """Stop the background emulator (everything in it is lost)."""
    from labctl.aws import emulator as emu

    stopped = emu.stop_background(app.state_dir)
    if app.json:
        app.emit_json({"stopped": stopped})
    else:
        click.echo("emulator stopped" if stopped else "emulator was not running")


@emulator.command("status")
@pass_app
def emulator_status(app: AppContext) -> None:
    """Say whether the background emulator is running, and where."""
    from labctl.aws import emulator as emu

    info = emu.running(app.state_dir)
    if app.json:
        app.emit_json({"running": info is not None, **({"url": info.url, "pid": info.pid, "boot_id": info.boot_id} if info else {})})
    else:
        click.echo(f"running at {info.url} (pid {info.pid}, boot {info.boot_id[:8]})" if info else "not running")


@click.command()
@COHORT_REF
@click.option("--watch", is_flag=True, help="Live view: cost so far, burn rate, budget, GPUs, progress; refreshes.")
@click.option("--interval", type=click.FloatRange(1, 3600), default=10.0, show_default=True,
              help="Seconds between refreshes with --watch.")
@click.option("--count", type=click.IntRange(1), default=None,
              help="With --watch: stop after N refreshes (default: until Ctrl-C).")
@pass_app
def status(app: AppContext, cohort_ref: str, watch: bool, interval: float, count: int | None) -> None:
    """Per team: what exists, node groups (capacity type, types, sizes), time to expiry.

    COHORT is the cohort file or the id of a cohort in the state directory. With --watch: per
    team cost so far and burn rate, budget used, nodes by capacity type, GPU utilisation, job
    progress and time left, teams about to exceed their budget marked.
    """
    from labctl.ops.status import human_duration
    from labctl.ops.status import status as do_status

    if watch:
        from labctl.cli.telemetry import watch_status

        watch_status(app, cohort_ref, interval, iterations=count)
        return

    st = do_status(cohort_ref, app.state_dir)
    if app.json:
        app.emit_json(st.as_dict())
        return
    click.echo(f"cohort {st.cohort} ({st.target}, {st.status}); window ends {st.window_end} "
               f"({human_duration(st.seconds_left)} left)")
    for t in st.teams:
        click.echo(f"  {t.team}: {t.status}, {plural(t.resources, 'resource')}, cluster {t.cluster or '-'}"
                   + (f" [{app.with_state_dir(t.error)}]" if t.error else ""))
        for ng in t.node_groups:
            click.echo(f"    {ng.pool:<14} {ng.capacity_type:<9} {','.join(ng.instance_types):<28} "
                       f"min {ng.min} desired {ng.desired} max {ng.max} ({ng.status})")
    for note in st.notes:
        click.echo(f"note: {note}")


@click.command()
@COHORT_REF
@click.option("--teams", "teams", default=None, help="Comma-separated subset of teams.")
@click.option("--dry-run", is_flag=True, help="Say what would be destroyed and swept; change nothing.")
@click.option("--parallelism", type=click.IntRange(1, 64), default=None, help="Teams destroyed at once.")
@pass_app
def down(app: AppContext, cohort_ref: str, teams: str | None, dry_run: bool, parallelism: int | None) -> None:
    """Destroy every team, sweep leftovers by tag, and prove nothing is left."""
    from labctl.errors import LeftoversError
    from labctl.ops.down import down as do_down

    report = do_down(cohort_ref, app.state_dir, teams=_split(teams), dry_run=dry_run,
                     parallelism=parallelism, quiet=app.json)
    if app.json:
        app.emit_json(report.as_dict())
    else:
        for t in report.teams:
            before = f" ({len(t.swept_before)} in no state, before destroying)" if t.swept_before else ""
            elsewhere = f", removed meanwhile by another command {len(t.removed_elsewhere)}" if t.removed_elsewhere else ""
            click.echo(f"{t.team}: " + (f"drained {len(t.drained)} cluster objects, " if t.drained else "")
                       + f"destroy {t.destroy} ({plural(len(t.destroyed), 'resource')}), "
                       f"swept {len(t.swept)}{before}{elsewhere}, left {len(t.left)}" + (f" - {t.error}" if t.error else ""))
            for item in t.swept if dry_run else t.left:
                click.echo(f"  {item}")
            if t.report:
                click.echo(f"  report: {t.report}")
        for n in report.notes:
            click.echo(f"note: {app.with_state_dir(n)}")
        if dry_run:
            click.echo(f"{report.cohort}: dry run, nothing changed")
        else:
            click.echo(f"{report.cohort}: " + ("clean: zero resources left" if report.clean
                                               else f"{plural(len(report.left), 'resource')} left"))
    if not dry_run and not report.clean:
        raise LeftoversError(f"cohort {report.cohort}: {plural(len(report.left), 'resource')} left, "
                             f"unreadable services: {', '.join(report.unreadable) or 'none'}")


@click.command()
@COHORT_REF
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@pass_app
def sweep(app: AppContext, cohort_ref: str, dry_run: bool) -> None:
    """Find every resource tagged with the cohort (per service) and delete it."""
    from labctl.errors import LeftoversError
    from labctl.ops.sweep import sweep as do_sweep

    report = do_sweep(cohort_ref, app.state_dir, dry_run=dry_run)
    if app.json:
        app.emit_json(report.as_dict())
    else:
        for o in report.result.outcomes:
            click.echo(f"{o.status}: {o.action.describe()}" + (f" ({o.reason})" if o.reason else ""))
        click.echo(f"{report.cohort}: {'would delete' if dry_run else 'deleted'} {plural(report.count, 'resource')}"
                   + ("" if dry_run else f", {len(report.left)} left"))
    if report.left:
        raise LeftoversError(f"cohort {report.cohort}: {plural(len(report.left), 'resource')} left after the sweep")


@click.command()
@click.option("--interval", type=click.FloatRange(1, 3600), default=60.0, help="Seconds between passes.")
@click.option("--once", is_flag=True, help="One pass, then exit.")
@click.option("--dry-run", is_flag=True, help="Say which cohorts would be torn down, and what of each; change nothing.")
@pass_app
def reaper(app: AppContext, interval: float, once: bool, dry_run: bool) -> None:
    """Tear down every cohort whose session window has ended (foreground loop for a service manager)."""
    from labctl.ops import reaper as r

    log = (lambda m: click.echo(m, err=True)) if app.json else click.echo
    if once or dry_run:
        results = r.reap_once(app.state_dir, dry_run=dry_run, log=log)
        if app.json:
            app.emit_json({k: (v if isinstance(v, str) else v.as_dict()) for k, v in results.items()})
        return
    r.run(app.state_dir, interval_s=interval, log=log)




@click.command("init")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lab", default="gpu-baseline", show_default=True, help="Lab the cohort uses (see labs/).")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@pass_app
def init_cmd(app: AppContext, file: Path, lab: str, force: bool) -> None:
    """Write a commented example cohort file for a lab."""
    from labctl.ops.scaffold import example_cohort

    if file.exists() and not force:
        raise FileExists(f"{file}: already exists; nothing written (use --force to overwrite it)")
    text = example_cohort(lab, file_hint=str(file))
    file.write_text(text)
    if app.json:
        app.emit_json({"written": str(file), "lab": lab})
    else:
        click.echo(f"wrote {file}; edit it, then: {app.follow_up(f'validate {file}')}")


@click.command()
@click.option("--teams", "n_teams", type=click.IntRange(1, 30), default=3, show_default=True,
              help="Number of teams (strategies rotate: baseline, right-sized, spot).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for reproducible runs.")
@click.option("--parallelism", type=click.IntRange(1, 64), default=None, help="Teams applied at once.")
@pass_app
def demo(app: AppContext, n_teams: int, seed: int, parallelism: int | None) -> None:
    """The whole story on the embedded default: emulator, up, status, down, teardown proof."""
    from labctl.ops.demo import demo as do_demo

    summary = do_demo(app.state_dir, n_teams=n_teams, seed=seed, parallelism=parallelism,
                      log=(lambda m: click.echo(m, err=True)) if app.json else click.echo, quiet=app.json)
    if app.json:
        app.emit_json(summary)


def _all() -> list[click.Command]:
    from labctl.cli.k8s import kubeconfig
    from labctl.cli.prices import prices
    from labctl.cli.sim import simulate
    from labctl.cli.team import ALL as TEAM_COMMANDS
    from labctl.cli.telemetry import COMMANDS as TELEMETRY_COMMANDS
    from labctl.cli.workload import workload

    return [init_cmd, validate, render, plan_cmd, up, status, simulate, *TELEMETRY_COMMANDS, down, sweep, reaper, log_cmd,
            emulator, kubeconfig, demo, prices, workload, *TEAM_COMMANDS]


ALL: list[click.Command] = _all()
