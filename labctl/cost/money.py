"""Money arithmetic shared by the cost engine: integer micro-dollars on a fixed UTC time grid.

Why integer micro-dollars and a grid: the ledger splits every period into minutes, the FOCUS
export groups minutes into hours, and the debrief sums per team and cohort. If each piece were
rounded on its own, the pieces would not add up to the whole. Instead the cost of [a, b) at a
constant rate r is ``F(b) - F(a)`` with ``F(t) = floor(r * (t - EPOCH))`` in micro-dollars, so any
partition of a period telescopes to the same total, exactly, and no cost is ever negative.
A reader recomputing ``price x hours`` by hand gets the same figure to within one micro-dollar.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROS_PER_USD = 1_000_000
_US_PER_HOUR = 3_600_000_000   # microseconds in an hour
_MICRO = Decimal("0.000001")


def to_us(t: datetime) -> int:
    """Microseconds since the epoch, exactly (no float on the way)."""
    delta = t - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class Rate:
    """A constant cost rate in $/h, kept as an exact fraction."""

    __slots__ = ("usd_per_hour", "_num", "_den")

    def __init__(self, usd_per_hour: Fraction | Decimal | int) -> None:
        value = Fraction(usd_per_hour)
        if value < 0:
            raise ValueError("a cost rate cannot be negative")
        self.usd_per_hour = value
        # F(t) = floor(num * t_us / den) in micro-dollars
        self._num = value.numerator * MICROS_PER_USD
        self._den = value.denominator * _US_PER_HOUR

    def grid(self, t_us: int) -> int:
        return (self._num * t_us) // self._den

    def cost_micros(self, start: datetime, end: datetime, origin_us: int = 0) -> int:
        """F(end) - F(start); ``origin_us`` moves the grid's origin from the epoch (see Ledger.origin_us)."""
        return self.grid(to_us(end) - origin_us) - self.grid(to_us(start) - origin_us)

    def as_decimal(self, places: int = 10) -> Decimal:
        return (Decimal(self.usd_per_hour.numerator) / Decimal(self.usd_per_hour.denominator)).quantize(
            Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)

    def __repr__(self) -> str:
        return f"Rate({self.as_decimal()} $/h)"


def usd(micros: int) -> Decimal:
    """Micro-dollars as an exact Decimal amount of dollars."""
    return Decimal(micros).scaleb(-6).quantize(_MICRO)


def micros(amount: Decimal | Fraction) -> int:
    """Dollars to micro-dollars, rounding half to even (for one-off figures, not ledger sums)."""
    if isinstance(amount, Fraction):
        amount = Decimal(amount.numerator) / Decimal(amount.denominator)
    return int((amount * MICROS_PER_USD).to_integral_value(rounding=ROUND_HALF_EVEN))


def fmt_usd(amount: Decimal | int, *, places: int = 2, signed: bool = False) -> str:
    """'$1,234.56'; ints are micro-dollars. ``signed`` puts a '+' or a real minus sign in front."""
    value = usd(amount) if isinstance(amount, int) else amount
    q = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    text = f"${abs(q):,.{places}f}"
    if q < 0:
        return "\u2212" + text
    return ("+" + text) if signed and q > 0 else text
