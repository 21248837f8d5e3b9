"""Simulated time: the class runs on it, never on the wall clock (except to pace a live replay)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta


class SimClock:
    """Seconds since the class started, plus the wall-clock instant they map to.

    ``speed=None`` runs as fast as possible; ``speed=60`` sleeps so one simulated minute takes
    one real second (a facilitator watching a class live). ``sleep`` is injectable for tests.
    """

    def __init__(self, start: datetime, speed: float | None = None,
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware start")
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive (or None for as fast as possible)")
        self.start = start
        self.speed = speed
        self.t = 0.0
        self._sleep = sleep
        self._monotonic = monotonic
        self._wall0: float | None = None

    @property
    def now(self) -> datetime:
        return self.at(self.t)

    def at(self, t: float) -> datetime:
        # Whole microseconds, so the same t always prints the same timestamp.
        return self.start + timedelta(microseconds=round(t * 1_000_000))

    def advance(self, dt: float) -> None:
        self.t += dt
        if self.speed is None:
            return
        if self._wall0 is None:
            self._wall0 = self._monotonic() - (self.t - dt) / self.speed
        ahead = self._wall0 + self.t / self.speed - self._monotonic()
        if ahead > 0:
            self._sleep(ahead)
