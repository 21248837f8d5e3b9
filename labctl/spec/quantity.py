"""Kubernetes resource quantities ("500m", "16Gi", "1e3") as exact Decimals: the one parser.

Pure, and in spec, the layer every other imports: used by the spec's own fit checks (a job's
requests against its pool's nodes), the manifest checks (render.consistency), the simulated
cluster, the real cluster adapter's usage figures and telemetry's cluster collector. Suffixes as in
k8s.io/apimachinery's resource.Quantity: binary Ki..Ei, decimal n u m k M G T P E, or a decimal
exponent (e/E).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
           "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1,
           "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$")


def parse_quantity(value: Any) -> Decimal:
    """'500m' -> 0.5, '16Gi' -> 17179869184; raises ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a quantity")
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    m = _QUANTITY.match(str(value).strip())
    if not m:
        raise ValueError(f"{value!r} is not a quantity")
    number = Decimal(m.group(1))
    if m.group(2):
        return number * Decimal(10) ** int(m.group(2))
    return number * Decimal(_SUFFIX[m.group(3) or ""])
