"""How many terraform runs to start at once, from measured memory and cores.

Each apply starts a provider process that peaks at ~0.75 GiB (measured with GOGC=400, see
bench/README.md) and burns CPU in bursts between long provider waits; more concurrent runs than
cores still pays off, memory is the hard limit.
"""

from __future__ import annotations

import os

PER_RUN_BYTES = 800 * 1024 * 1024
MEMORY_CAP_BYTES = 8 * 1024 ** 3          # goal: peak <= 8 GiB at any cohort size
RUNS_PER_CORE = 4


def available_memory_bytes() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 1024 ** 3


def default_parallelism(teams: int, cores: int | None = None, mem_bytes: int | None = None) -> int:
    cores = cores or os.cpu_count() or 1
    mem = min(mem_bytes if mem_bytes is not None else available_memory_bytes() // 2, MEMORY_CAP_BYTES)
    by_memory = max(1, mem // PER_RUN_BYTES)
    return max(1, min(teams, by_memory, cores * RUNS_PER_CORE))
