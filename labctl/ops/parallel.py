"""How many terraform runs to start at once, from measured memory and cores.

Each team's terraform (core + aws provider, GOGC=400) peaks at about 1 GiB of RSS: 8 teams at
once measured 7.95 GiB in all with the emulator (bench/bench_up.py). Applies burn CPU in bursts
between provider waits (VPC and subnet attribute waits idle 10 s each), so more concurrent runs
than cores pays off; memory is the hard limit: the goal is <= 8 GiB at any cohort size.
"""

from __future__ import annotations

import os

PER_RUN_BYTES = 1024 ** 3
# 8 GiB goal at any size, less ~1 GiB for the emulator (with AWS-managed IAM policies) and labctl.
MEMORY_CAP_BYTES = 7 * 1024 ** 3
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


def memory_budget(mem_bytes: int | None = None) -> int:
    """Memory terraform runs may use: half of what is available now (or ``mem_bytes``), capped."""
    return min(mem_bytes if mem_bytes is not None else available_memory_bytes() // 2, MEMORY_CAP_BYTES)


def default_parallelism(teams: int, cores: int | None = None, mem_bytes: int | None = None) -> int:
    cores = cores or os.cpu_count() or 1
    by_memory = max(1, memory_budget(mem_bytes) // PER_RUN_BYTES)
    return max(1, min(teams, by_memory, cores * RUNS_PER_CORE))


def default_in_flight(teams: int, per_team_bytes: int, mem_bytes: int | None = None) -> int:
    """Teams applied at once when they share terraform processes (batches): memory-bound only."""
    return max(1, min(teams, memory_budget(mem_bytes) // per_team_bytes))
