"""`labctl demo`: the whole story on the embedded default, in one command.

Starts the emulator in-process, writes a cohort of N teams of the bundled lab (strategies
rotate: the wasteful baseline, right-sized GPUs, spot + checkpointing + scale-to-zero),
provisions it with real terraform, shows status, runs the four-hour class on the simulated
clusters (nodes are real EC2 instances in the emulator), meters it, writes the debrief, tears
everything down and prints the teardown proof and where the artifacts are.
"""

from __future__ import annotations

import json
from datetime import timedelta
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from labctl.aws import emulator as emu
from labctl.errors import LeftoversError, TerraformError
from labctl.ops.debrief import write_debrief
from labctl.ops.down import down
from labctl.ops.simulate import simulate_class
from labctl.ops.status import human_duration, status
from labctl.ops.up import up
from labctl.sim.strategies import DEMO_STRATEGIES
from labctl.state import StateDir, now
from labctl.text import plural

# The three strategies the demo teams play (the wasteful baseline; right-sized GPUs; spot +
# checkpointing + scale-to-zero), in the form a real EKS cluster runs them (labctl.sim.strategies
# explains why each value is what it is).
STRATEGIES: list[tuple[str, dict[str, Any]]] = list(DEMO_STRATEGIES.items())


# The demo provisions before its class starts, as a facilitator does: the window opens on the
# whole minute this far ahead, so `up` has finished by then and the debrief (which costs the
# session from its start, on the UTC minute grid) is the same for the same seed, run after run.
CLASS_STARTS_AFTER = timedelta(minutes=15)


def demo_cohort(n_teams: int, seed: int) -> dict[str, Any]:
    start = (now() + CLASS_STARTS_AFTER).replace(second=0, microsecond=0)
    teams = []
    for i in range(n_teams):
        name, knobs = STRATEGIES[i % len(STRATEGIES)]
        team: dict[str, Any] = {"name": f"{name}-{i // len(STRATEGIES) + 1}" if n_teams > 3 else name}
        if knobs:
            team["knobs"] = knobs
        teams.append(team)
    return {"cohort": f"demo-s{seed}", "target": "embedded", "region": "us-east-1",
            "window": {"start": start.isoformat().replace("+00:00", "Z"), "duration": "4h"},
            "lab": "gpu-baseline", "teams": teams}


def demo(state_dir: Path, n_teams: int = 3, seed: int = 0, parallelism: int | None = None,
         log: Callable[[str], None] = print, quiet: bool = False) -> dict[str, Any]:
    spec = demo_cohort(n_teams, seed)
    cohort_id = spec["cohort"]
    sd = StateDir(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    if emu.running(state_dir) is not None:
        log("demo: a background emulator is running in this state directory; the demo uses its own")
    previous = sd.cohort(cohort_id)
    if previous.root.exists():
        # The demo's own cohort: its resources lived in the previous run's in-process emulator, so
        # only its files are left; a torn-down one would otherwise refuse to come up again.
        log(f"demo: clearing the previous {cohort_id} run")
        sd.forget_cohort(cohort_id)
    spec_path = state_dir / f"{cohort_id}.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))

    with emu.Emulator() as e:
        # Register the in-process emulator so every command of this run finds it.
        saved = (state_dir / emu.STATE_FILE).read_text() if (state_dir / emu.STATE_FILE).exists() else None
        (state_dir / emu.STATE_FILE).write_text(json.dumps({"url": e.url, "boot_id": e.boot_id, "pid": None}))
        try:
            log(f"demo: emulator at {e.url} (in-process, memory only); cohort {cohort_id} with "
                f"{plural(n_teams, 'team')} -> {spec_path}")
            report = up(spec_path, state_dir, parallelism=parallelism, quiet=quiet,
                        emulator_url=e.url, emulator_boot_id=e.boot_id)
            for t in report.teams:
                log(f"  up {t.team}: {t.status}" + (f" - {t.error}" if t.error else ""))
            if report.failed:
                # Stop here: a class on a half-provisioned cohort, and a debrief of it, would only
                # bury the one line that says what went wrong.
                first = report.failed[0]
                raise TerraformError(
                    f"demo: up failed for {plural(len(report.failed), 'team')} "
                    f"(first: {first.team}: {_first_line(first.error)}); the emulator ran in-process, so "
                    f"nothing is left running; details in {sd.cohort(cohort_id).team_dir(first.team)}/events.jsonl")
            log(f"demo: up took {report.seconds:.0f}s ({report.parallelism} at a time)")
            st = status(cohort_id, state_dir)
            log(f"demo: status (window ends in {human_duration(st.seconds_left)})")
            for t in st.teams:
                pools = "; ".join(f"{ng.pool} {ng.capacity_type} {'/'.join(ng.instance_types)} "
                                  f"{ng.min}-{ng.desired}-{ng.max}" for ng in t.node_groups)
                log(f"  {t.team}: {t.resources} resources; {pools}")
            sim = simulate_class(state_dir, cohort_id, seed=seed)
            debrief = write_debrief(state_dir, cohort_id, sd.cohort(cohort_id).reports_dir / "debrief")
            costs = _team_costs(Path(debrief["json"]))
            log(f"demo: simulated a {sim.hours:g} h class (seed {seed}, {sim.mode} mode)")
            log(f"  {'team':<14} {'cost':>9} {'GPU-h used':>10} {'GPU-h idle':>10} {'GPU util':>8} {'jobs':>6}")
            for t in sim.teams:
                log(f"  {t.team:<14} {'$' + costs.get(t.team, '?'):>9} {t.gpu_hours_used:>10.1f} "
                    f"{t.gpu_hours_idle:>10.1f} {t.gpu_utilization_pct:>7.0f}% "
                    f"{t.jobs_completed:>3}/{t.jobs_submitted}")
                for pod, why in sorted(t.unschedulable.items()):
                    log(f"    {pod}: never scheduled: {why}")
            log(f"demo: debrief written to {debrief['html']}")
            torn = down(cohort_id, state_dir, parallelism=parallelism, quiet=quiet, reason="demo")
            for t in torn.teams:
                log(f"  down {t.team}: destroyed {len(t.destroyed)}, swept {len(t.swept)}, left {len(t.left)}")
            log("demo: teardown proof: " + ("zero resources left" if torn.clean else f"LEFT: {torn.left}"))
            log(f"demo: artifacts in {sd.cohort(cohort_id).root} (reports/, teams/, audit.log)")
        finally:
            if saved is not None:
                (state_dir / emu.STATE_FILE).write_text(saved)
            else:
                (state_dir / emu.STATE_FILE).unlink(missing_ok=True)
    summary = {"cohort": cohort_id, "state_dir": str(state_dir), "up": report.as_dict(),
               "status": st.as_dict(), "simulation": {"seed": sim.seed, "hours": sim.hours, "mode": sim.mode,
                                                      "teams": {t.team: {
                                                          "cost_usd": costs.get(t.team),
                                                          "gpu_hours_used": t.gpu_hours_used,
                                                          "gpu_hours_idle": t.gpu_hours_idle,
                                                          "gpu_utilization_pct": t.gpu_utilization_pct,
                                                          "jobs_completed": t.jobs_completed,
                                                          "jobs_submitted": t.jobs_submitted,
                                                          "interruptions": t.interruptions} for t in sim.teams}},
               "debrief": {k: debrief[k] for k in ("html", "json", "focus_csv", "focus_parquet")},
               "teardown": torn.as_dict(),
               "artifacts": str(sd.cohort(cohort_id).root)}
    if not torn.clean:
        raise LeftoversError(f"demo: teardown left {plural(len(torn.left), 'resource')}")
    return summary



def _first_line(text: str | None) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[0] if lines else "no error message"


def _team_costs(debrief_json: Path) -> dict[str, str]:
    """Each team's metered cost as the debrief computed it from the ledger (one computation)."""
    teams = json.loads(debrief_json.read_text())["teams"]
    return {name: str(Decimal(t["cost_usd"]["value"]).quantize(Decimal("0.01"))) for name, t in teams.items()}
