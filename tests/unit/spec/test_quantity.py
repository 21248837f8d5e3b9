"""The one Kubernetes quantity parser (labctl.spec.quantity), as a table of suffixes: binary
(Ki..Ei), decimal SI (n u m k M G T P E), decimals, signs and exponents, and what it refuses."""

from __future__ import annotations

from decimal import Decimal

import pytest

from labctl.spec.quantity import parse_quantity


@pytest.mark.parametrize("text, want", [
    ("4", "4"), ("0", "0"), ("1.5", "1.5"), (".5", "0.5"), ("+2", "2"), ("-1", "-1"),
    ("500m", "0.5"), ("1500m", "1.5"), ("250u", "0.00025"), ("100n", "0.0000001"),
    ("1Ki", "1024"), ("64Mi", str(64 * 2**20)), ("16Gi", str(16 * 2**30)), ("1.5Gi", str(3 * 2**29)),
    ("2Ti", str(2 * 2**40)), ("1Pi", str(2**50)), ("1Ei", str(2**60)),
    ("2k", "2000"), ("3M", "3000000"), ("1G", "1000000000"), ("2T", str(2 * 10**12)),
    ("1P", str(10**15)), ("1E", str(10**18)),
    ("1e3", "1000"), ("1E3", "1000"), ("12e-1", "1.2"), ("2.5e+2", "250"),
    (" 8Gi ", str(8 * 2**30)),
])
def test_each_suffix_scales_exactly(text, want):
    assert parse_quantity(text) == Decimal(want)


@pytest.mark.parametrize("number, want", [(2, "2"), (0.25, "0.25"), (Decimal("1.5"), "1.5")])
def test_numbers_are_taken_as_they_are(number, want):
    assert parse_quantity(number) == Decimal(want)


@pytest.mark.parametrize("bad", ["", "Gi", "1gi", "1KiB", "1.5.2", "1e", "m500", "1 Gi", "abc", True, None])
def test_anything_else_is_refused_with_the_value_named(bad):
    with pytest.raises(ValueError, match="is not a quantity"):
        parse_quantity(bad)


def test_the_telemetry_collector_reads_the_suffixes_its_old_parser_lacked():
    """telemetry.collectors used to parse fewer suffixes (no n/u, Pi/Ei, P/E): metrics-server
    reports CPU in nanocores, which it could not read."""
    from labctl.telemetry.collectors import _quantity

    assert _quantity("250000000n") == 0.25
    assert _quantity("1Pi") == float(2**50)
    assert _quantity(None) == 0.0 and _quantity("") == 0.0
