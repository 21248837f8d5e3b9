"""``labctl prices``: show the price catalog with provenance, refresh it from the live AWS APIs.

Use cases are imported inside each command, for start-up speed (see labctl.cli.main).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from labctl.cli.context import AppContext
from labctl.cost.catalog import Catalog, InstanceType, Price, load_catalog

prices = click.Group("prices", help="Show or refresh the price catalog (every figure with its source and date).")


def _price_json(p: Price | None) -> dict[str, Any] | None:
    if p is None:
        return None
    out: dict[str, Any] = {"usd_per_hour": str(p.usd_per_hour), "source": p.source, "observed_at": p.observed_at.isoformat()}
    if p.is_range:
        out.update(usd_per_hour_low=str(p.low), usd_per_hour_high=str(p.high), basis="midpoint of the per-AZ range")
    return out


def _instances(catalog: Catalog, region: str | None) -> list[InstanceType]:
    regions = [region] if region else catalog.regions()
    out = []
    for r in regions:
        for t in catalog.instance_types():
            info = catalog.instance(r, t)
            if info is not None and (info.on_demand or info.spot or info.advisor or info.offered is False):
                out.append(info)
    return out


def catalog_view(catalog: Catalog, region: str | None = None) -> dict[str, Any]:
    """The JSON form of ``prices show``: typed, with provenance on every figure."""
    return {
        "catalog": catalog.origin,
        "instances": [
            {
                "region": i.region, "instance_type": i.instance_type, "offered": i.offered,
                "vcpu": i.vcpu, "memory_gib": None if i.memory_gib is None else str(i.memory_gib),
                "gpus": i.gpus, "gpu_model": i.gpu_model, "gpu_memory_mib": i.gpu_memory_mib,
                "spec_source": i.spec.source if i.spec else None,
                "spec_observed_at": i.spec.observed_at.isoformat() if i.spec else None,
                "on_demand": _price_json(i.on_demand), "spot": _price_json(i.spot),
                "spot_savings_pct": None if i.spot_savings_pct is None else str(i.spot_savings_pct),
                "interruption_band": i.interruption_band,
                "advisor_source": i.advisor.source if i.advisor else None,
                "advisor_observed_at": i.advisor.observed_at.isoformat() if i.advisor else None,
            }
            for i in _instances(catalog, region)
        ],
        "services": [
            {"service": s.service, "region": s.region, "unit": s.unit, "usd_per_unit": str(s.usd_per_unit),
             "source": s.source, "observed_at": s.observed_at.isoformat(), "note": s.note}
            for s in catalog.services() if region is None or s.region == region
        ],
        "gpu_throughput": [
            {"gpu_model": m, "ec2_gpu_model": tp.ec2_gpu_model,
             "figures": [{"benchmark": f.benchmark, "value": str(f.value), "unit": f.unit, "source": f.source,
                          "observed_at": f.observed_at.isoformat()} for f in tp.figures]}
            for m in catalog.gpu_models() if (tp := catalog.throughput(m)) is not None
        ],
    }


def _cell(p: Price | None) -> str:
    if p is None:
        return "-"
    if p.is_range:
        return f"{p.low}-{p.high}"
    return str(p.usd_per_hour)


def render_catalog(catalog: Catalog, region: str | None = None) -> str:
    lines = [f"catalog: {catalog.origin}", "",
             f"{'region':<13} {'type':<14} {'vCPU':>4} {'GiB':>5} {'GPU':<9} {'on-demand $/h':>13} "
             f"{'spot $/h (AZs)':>15} {'save':>4} {'interrupt':>9}  observed"]
    for i in _instances(catalog, region):
        gpu = f"{i.gpus}x{i.gpu_model}" if i.gpus else "-"
        od = "not offered" if i.offered is False else _cell(i.on_demand)
        save = f"{i.spot_savings_pct}%" if i.spot_savings_pct is not None else "-"
        dates = sorted({p.observed_at.isoformat() for p in (i.on_demand, i.spot) if p})
        lines.append(f"{i.region:<13} {i.instance_type:<14} {i.vcpu if i.vcpu is not None else '-':>4} "
                     f"{str(i.memory_gib) if i.memory_gib is not None else '-':>5} {gpu:<9} {od:>13} "
                     f"{_cell(i.spot):>15} {save:>4} {i.interruption_band or '-':>9}  {', '.join(dates) or '-'}")
    lines += ["", f"{'region':<13} {'service':<30} {'$':>8} per unit   observed    source"]
    for s in catalog.services():
        if region is None or s.region == region:
            lines.append(f"{s.region:<13} {s.service:<30} {s.usd_per_unit!s:>8} {s.unit:<10} "
                         f"{s.observed_at.isoformat()}  {s.source}")
    sources = sorted({i.on_demand.source for i in _instances(catalog, region) if i.on_demand}
                     | {i.spot.source for i in _instances(catalog, region) if i.spot}
                     | {i.advisor.source for i in _instances(catalog, region) if i.advisor})
    lines += ["", "instance price sources:"] + [f"  {s}" for s in sources]
    return "\n".join(lines)


@prices.command("show")
@click.option("--region", default=None, help="Only this region (default: all in the catalog).")
@click.option("--catalog-dir", type=click.Path(file_okay=False, path_type=Path, resolve_path=True), default=None,
              help="Catalog folder (default: the one shipped with labctl).")
@click.pass_context
def show(ctx: click.Context, region: str | None, catalog_dir: Path | None) -> None:
    """Print the price catalog with the source and date of every figure."""
    app: AppContext = ctx.find_object(AppContext)  # type: ignore[assignment]
    catalog = load_catalog(catalog_dir)
    if app.json:
        app.emit_json(catalog_view(catalog, region))
    else:
        click.echo(render_catalog(catalog, region))


@prices.command("refresh")
@click.option("--region", required=True, help="Region whose prices to refresh, e.g. us-east-1.")
@click.option("--instance-type", "instance_types", multiple=True,
              help="Instance type to refresh (repeatable; default: every type in the catalog).")
@click.option("--catalog-dir", type=click.Path(file_okay=False, path_type=Path, resolve_path=True), default=None,
              help="Catalog folder to rewrite (default: the one shipped with labctl, so a refresh shows as a diff).")
@click.option("--endpoint-url", default=None, hidden=True, help="AWS endpoint override (tests, LocalStack).")
@click.option("--dry-run", is_flag=True, help="Show the API requests it would make; call and write nothing.")
@click.pass_context
def refresh(ctx: click.Context, region: str, instance_types: tuple[str, ...], catalog_dir: Path | None,
            endpoint_url: str | None, dry_run: bool) -> None:
    """Query Price List GetProducts, DescribeSpotPriceHistory and DescribeInstanceTypes; rewrite the catalog."""
    from labctl.ops.prices import refresh_plan, refresh_prices

    app: AppContext = ctx.find_object(AppContext)  # type: ignore[assignment]
    if dry_run:
        plan = refresh_plan(region, instance_types, catalog_dir)
        if app.json:
            app.emit_json(plan)
        else:
            types = sum(req["api"] == "pricing:GetProducts" for req in plan["requests"])     # one per type
            click.echo(f"would query {types} instance types in {region} and rewrite {plan['catalog']}:")
            for req in plan["requests"]:
                click.echo(f"  {req['api']} {req['params'].get('Filters', req['params'].get('InstanceTypes'))}")
        return
    summary = refresh_prices(region, instance_types, catalog_dir, endpoint_url)
    if app.json:
        app.emit_json(summary)
        return
    click.echo(f"refreshed {region}: {', '.join(summary['changed_files']) or 'no changes'} in {summary['catalog']}")
    for m in summary["missing"]:
        click.echo(f"  no live price: {m} (catalog row kept)")
    for r in summary["rejected_spot"]:
        click.echo(f"  rejected spot price {r['price']} for {r['instance_type']} in {r['availability_zone']}: {r['reason']}")
