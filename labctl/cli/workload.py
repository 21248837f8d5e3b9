"""``labctl workload``: the reference training workload's contract and calibration.

--output and --state-dir come from the root group (labctl.cli.main adds them to every command).
"""

from __future__ import annotations

import click

from labctl import workload as wl
from labctl.cli.context import AppContext
from labctl.ops.calibrate import calibrate

pass_app = click.make_pass_decorator(AppContext)

workload = click.Group("workload", help="The reference training workload (labs/workload).")


@workload.command("env")
@pass_app
def env_cmd(app: AppContext) -> None:
    """List the workload's environment variables (env-contract.json)."""
    contract = wl.load_contract()
    if app.json:
        app.emit_json({"prefix": contract.prefix,
                       "variables": {n: vars(s) for n, s in contract.variables.items()},
                       "exit_codes": {str(k): v for k, v in contract.exit_codes.items()}})
        return
    for name, spec in contract.variables.items():
        default = repr(spec.default) if spec.default != "" else "''"
        click.echo(f"{name:<34} {spec.type:<4} default {default:<12} {spec.description}")


@workload.command("calibrate")
@click.option("--seconds", type=click.IntRange(1, 3600), default=60, show_default=True,
              help="How long to train.")
@click.option("--hidden-size", type=click.IntRange(8), default=None,
              help="Model width (default: the contract's).")
@click.option("--batch-size", type=click.IntRange(1), default=None,
              help="Samples per step (default: the contract's).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--threads", type=click.IntRange(0), default=0, help="CPU threads for torch (0: torch's default).")
@click.option("--python", "python", default=None,
              help="Python of an environment with torch (default: this one).")
@pass_app
def calibrate_cmd(app: AppContext, seconds: int, hidden_size: int | None, batch_size: int | None,
                  device: str, threads: int, python: str | None) -> None:
    """Run the workload here for a fixed time; print samples/s and GPU use for the simulator."""
    app.info(f"calibrating: training the reference workload for {seconds} s on device={device} ...")
    result = calibrate(seconds, hidden_size=hidden_size, batch_size=batch_size, device=device,
                          torch_threads=threads, python=python)
    if app.json:
        app.emit_json(result.to_json())
        return

    def fmt(value: float | None, unit: str) -> str:
        return "n/a (no GPU metrics)" if value is None else f"{value:,.1f} {unit}"

    click.echo(f"device            {result.gpu_model}")
    click.echo(f"samples/s         {result.samples_per_second:,.1f}")
    click.echo(f"steps/s           {result.steps_per_second:,.2f}")
    click.echo(f"GPU utilisation   {fmt(result.gpu_utilization_pct, '%')}")
    click.echo(f"GPU memory        {fmt(result.gpu_memory_used_mib, 'MiB')}")
    click.echo(f"checkpoint size   {result.checkpoint_mib:,.2f} MiB")
    click.echo(f"model             hidden={result.hidden_size} batch={result.batch_size} "
               f"params={result.parameters:,}")
    click.echo(f"source            {result.source}")
