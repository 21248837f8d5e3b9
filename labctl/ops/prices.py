"""`labctl prices refresh`: the price catalog rewritten from the live AWS price APIs (Price List
GetProducts, DescribeSpotPriceHistory, DescribeInstanceTypes through labctl.aws.pricing), or, as a
dry run, the requests it would make. The CLI only prints what these return.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labctl.aws import pricing as live
from labctl.cost.catalog import default_catalog_dir, load_catalog, write_catalog
from labctl.errors import AwsError, EnvironmentProblem


def _scope(catalog_dir: Path | None, instance_types: tuple[str, ...] | list[str]) -> tuple[Path, Any, list[str]]:
    """The catalog folder, the catalog in it, and the types to refresh (every type it has by default)."""
    folder = catalog_dir or default_catalog_dir()
    catalog = load_catalog(folder)
    return folder, catalog, sorted(set(instance_types) or set(catalog.instance_types()))


def refresh_plan(region: str, instance_types: tuple[str, ...] | list[str] = (), catalog_dir: Path | None = None,
                 now: datetime | None = None) -> dict[str, Any]:
    """The API requests a refresh would make, and the folder it would rewrite; calls nothing."""
    folder, _, types = _scope(catalog_dir, instance_types)
    now = now or datetime.now(timezone.utc)
    return {
        "dry_run": True, "catalog": str(folder), "region": region,
        "requests": [{"api": "pricing:GetProducts", "params": live.get_products_params(region, t)} for t in types]
        + [{"api": "ec2:DescribeSpotPriceHistory", "params": live.spot_history_params(types, now)},
           {"api": "ec2:DescribeInstanceTypes", "params": live.instance_types_params(types)}],
    }


def refresh_prices(region: str, instance_types: tuple[str, ...] | list[str] = (), catalog_dir: Path | None = None,
                   endpoint_url: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Query the live APIs and rewrite the catalog's files that changed. Returns the folder, the
    files changed, rows per table, the types with no live price (their rows kept) and the spot
    prices rejected with why. A refused call is EnvironmentProblem (exit 8), the catalog untouched."""
    folder, catalog, types = _scope(catalog_dir, instance_types)
    pricing_client, ec2_client = live.make_clients(region, endpoint_url=endpoint_url)
    try:
        result = live.refresh_catalog(catalog, region, types, pricing_client=pricing_client,
                                      ec2_client=ec2_client, now=now or datetime.now(timezone.utc))
    except AwsError as exc:
        raise EnvironmentProblem(f"price refresh for {region} failed: {exc}") from exc
    changed = write_catalog(result.catalog, folder)
    return {
        "catalog": str(folder), "region": region, "changed_files": changed,
        "rows": {k: len(v) for k, v in result.rows.items()}, "missing": list(result.missing),
        "rejected_spot": [r.__dict__ for r in result.rejected_spot],
    }
