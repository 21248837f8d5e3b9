"""Cost allocation inside a cluster, as OpenCost defines it.

Owns: splitting each node's metered cost into CPU, RAM and GPU parts (OpenCost's default relative
prices, or a GPU-weighted option), charging workloads for max(request, usage) of CPU and RAM and
for the GPUs they request, and calling the rest idle. Idle is per node and per resource, so
``allocated + idle == node cost`` exactly, in integer micro-dollars (parts are floored and the
remainder is idle, so rounding never creates or loses money).

When the workloads' max(request, usage) over a period exceeds a node's capacity (usage above
request on several pods at once), their shares are scaled to the capacity and idle is zero;
nothing is ever allocated beyond the node's cost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from labctl.cost.catalog import Catalog
from labctl.cost.ledger import Ledger
from labctl.cost.model import Workload
from labctl.cost.money import to_us

# OpenCost's default relative prices ($ per unit-hour) used only as split ratios.
OPENCOST_CPU = Decimal("0.031611")
OPENCOST_RAM = Decimal("0.004237")
OPENCOST_GPU = Decimal("0.95")

OPENCOST = "opencost"
GPU_WEIGHTED = "gpu-weighted"
SPLIT_MODES = (OPENCOST, GPU_WEIGHTED)
SHARE_MODES = ("weighted", "even", "none")

_US_PER_HOUR = 3_600_000_000


@dataclass(frozen=True)
class NodeCost:
    """A node and what it cost over [start, end) (from the ledger)."""

    node_id: str
    team: str
    cost_micros: int
    start: datetime
    end: datetime
    vcpu: int
    ram_gib: Decimal
    gpus: int
    instance_type: str = ""
    market: str = "on-demand"


@dataclass(frozen=True)
class Split:
    cpu: int
    ram: int
    gpu: int


def split_node_cost(cost_micros: int, vcpu: int, ram_gib: Decimal, gpus: int, mode: str = OPENCOST) -> Split:
    """A node's cost as CPU/RAM/GPU parts that sum to it exactly.

    OpenCost: weights CPU 0.031611 x vCPU, RAM 0.004237 x GiB, GPU 0.95 x GPUs (the same as its
    ramMultiple formula). GPU-weighted: the whole node price on the GPUs (node price / GPUs per
    GPU); nodes without GPUs fall back to OpenCost's split.
    """
    if mode not in SPLIT_MODES:
        raise ValueError(f"split mode must be one of {SPLIT_MODES}")
    if mode == GPU_WEIGHTED and gpus > 0:
        return Split(0, 0, cost_micros)
    w_cpu = Fraction(OPENCOST_CPU) * vcpu
    w_ram = Fraction(OPENCOST_RAM) * Fraction(ram_gib)
    w_gpu = Fraction(OPENCOST_GPU) * gpus
    total = w_cpu + w_ram + w_gpu
    if total == 0:
        return Split(0, cost_micros, 0)
    cpu = int(cost_micros * w_cpu / total)
    gpu = int(cost_micros * w_gpu / total)
    return Split(cpu, cost_micros - cpu - gpu, gpu)


def unit_prices(node_usd_per_hour: Decimal, vcpu: int, ram_gib: Decimal, gpus: int) -> tuple[Decimal, Decimal, Decimal]:
    """OpenCost's $/vCPU-h, $/GiB-h, $/GPU-h for a node price (for display and explanations)."""
    ram_multiple = gpus * (OPENCOST_GPU / OPENCOST_RAM) + vcpu * (OPENCOST_CPU / OPENCOST_RAM) + ram_gib
    per_gib = node_usd_per_hour / ram_multiple
    return per_gib * (OPENCOST_CPU / OPENCOST_RAM), per_gib, per_gib * (OPENCOST_GPU / OPENCOST_RAM)


@dataclass(frozen=True)
class WorkloadCost:
    workload: Workload
    cpu_micros: int
    ram_micros: int
    gpu_micros: int
    gpu_hours_requested: Decimal
    gpu_hours_used: Decimal | None      # requested x engine active; None when not measured

    @property
    def total_micros(self) -> int:
        return self.cpu_micros + self.ram_micros + self.gpu_micros

    @property
    def team(self) -> str:
        return self.workload.team


@dataclass(frozen=True)
class NodeAllocation:
    node: NodeCost
    split: Split
    idle: Split
    gpu_hours_capacity: Decimal
    gpu_hours_requested: Decimal

    @property
    def idle_micros(self) -> int:
        return self.idle.cpu + self.idle.ram + self.idle.gpu

    @property
    def allocated_micros(self) -> int:
        return self.node.cost_micros - self.idle_micros


@dataclass(frozen=True)
class Allocation:
    mode: str
    nodes: tuple[NodeAllocation, ...]
    workloads: tuple[WorkloadCost, ...]
    warnings: tuple[str, ...]

    def idle_micros(self, team: str | None = None) -> int:
        return sum(n.idle_micros for n in self.nodes if team is None or n.node.team == team)

    def allocated_micros(self, team: str | None = None) -> int:
        return sum(w.total_micros for w in self.workloads if team is None or w.team == team)

    def gpu_hours_requested(self, team: str | None = None) -> Decimal:
        return sum((w.gpu_hours_requested for w in self.workloads if team is None or w.team == team), Decimal(0))

    def gpu_efficiency(self, team: str | None = None) -> Decimal | None:
        """Used / requested GPU-hours; None when nothing was requested or usage was not measured."""
        chosen = [w for w in self.workloads if (team is None or w.team == team) and w.gpu_hours_requested > 0]
        if not chosen or any(w.gpu_hours_used is None for w in chosen):
            return None
        requested = sum((w.gpu_hours_requested for w in chosen), Decimal(0))
        used = sum((w.gpu_hours_used or Decimal(0) for w in chosen), Decimal(0))
        return used / requested

    def shared_idle(self, share: str = "weighted") -> dict[str, int]:
        """Each workload's cost with its node's idle cost shared out (OpenCost's share modes).

        weighted: in proportion to allocated cost; even: equally per workload; none: idle stays
        apart (returned under the key ``__idle__:<node>``). Totals always equal the node costs.
        """
        if share not in SHARE_MODES:
            raise ValueError(f"share mode must be one of {SHARE_MODES}")
        out: dict[str, int] = defaultdict(int)
        by_node: dict[str, list[WorkloadCost]] = defaultdict(list)
        for w in self.workloads:
            out[w.workload.workload_id] += w.total_micros
            by_node[w.workload.node_id].append(w)
        for n in self.nodes:
            idle = n.idle_micros
            ws = by_node.get(n.node.node_id, [])
            if share == "none" or not ws or idle == 0:
                if idle:
                    out[f"__idle__:{n.node.node_id}"] += idle
                continue
            weights = [w.total_micros for w in ws] if share == "weighted" else [1] * len(ws)
            if sum(weights) == 0:
                weights = [1] * len(ws)
            for w, part in zip(ws, _apportion(idle, weights), strict=True):
                out[w.workload.workload_id] += part
        return dict(out)


def _apportion(amount: int, weights: Sequence[int | Fraction]) -> list[int]:
    """Largest-remainder split of an integer amount; parts sum to it exactly."""
    total = sum(weights, Fraction(0))
    raw = [Fraction(amount * w, total) for w in weights]
    parts = [int(r) for r in raw]
    left = amount - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(raw[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return parts


def allocate(nodes: Iterable[NodeCost], workloads: Iterable[Workload], *, mode: str = OPENCOST) -> Allocation:
    """Charge workloads for their share of their node; the rest of each node is idle."""
    node_list = sorted(nodes, key=lambda n: n.node_id)
    by_node: dict[str, list[Workload]] = defaultdict(list)
    known = {n.node_id for n in node_list}
    warnings: list[str] = []
    for w in workloads:
        if w.node_id not in known:
            warnings.append(f"{w.team}/{w.workload_id}: node {w.node_id} has no metered cost; not allocated")
            continue
        by_node[w.node_id].append(w)

    node_allocs: list[NodeAllocation] = []
    costs: list[WorkloadCost] = []
    for node in node_list:
        split = split_node_cost(node.cost_micros, node.vcpu, node.ram_gib, node.gpus, mode)
        ns, ne = to_us(node.start), to_us(node.end)
        node_us = max(ne - ns, 0)
        ws = sorted(by_node.get(node.node_id, []), key=lambda w: (w.start, w.workload_id))
        demands: list[tuple[Workload, int, Fraction, Fraction, int]] = []
        for w in ws:
            overlap = max(0, min(ne, to_us(w.end)) - max(ns, to_us(w.start)))
            cpu = Fraction(max(w.cpu_request, w.cpu_usage)) * overlap
            ram = Fraction(max(w.ram_request_gib, w.ram_usage_gib)) * overlap
            gpu = w.gpu_request * overlap
            if w.gpu_request and node.gpus == 0:
                warnings.append(f"{w.team}/{w.workload_id}: requests GPUs on {node.node_id}, which has none")
            demands.append((w, overlap, cpu, ram, gpu))

        def shares(bucket: int, capacity: Fraction, parts: list[Fraction]) -> list[int]:
            demand = sum(parts, Fraction(0))
            if bucket == 0 or max(capacity, demand) == 0:
                return [0] * len(parts)
            if demand >= capacity:
                # fully used (or overcommitted): hand out the whole part, no rounding dust as idle
                return _apportion(bucket, parts)
            return [int(bucket * p / capacity) for p in parts]

        cpu_alloc = shares(split.cpu, Fraction(node.vcpu * node_us), [d[2] for d in demands])
        ram_alloc = shares(split.ram, Fraction(node.ram_gib) * node_us, [d[3] for d in demands])
        gpu_alloc = shares(split.gpu, Fraction(node.gpus * node_us), [Fraction(d[4]) for d in demands])

        requested_total = Decimal(0)
        for (w, _overlap, _c, _r, gpu_us), c, r, g in zip(demands, cpu_alloc, ram_alloc, gpu_alloc, strict=True):
            gpu_hours = Decimal(gpu_us) / _US_PER_HOUR
            used = None if w.gpu_engine_active is None else gpu_hours * w.gpu_engine_active
            if w.gpu_request == 0:
                used = Decimal(0)
            requested_total += gpu_hours
            costs.append(WorkloadCost(w, c, r, g, gpu_hours, used))
        idle = Split(split.cpu - sum(cpu_alloc), split.ram - sum(ram_alloc), split.gpu - sum(gpu_alloc))
        node_allocs.append(NodeAllocation(node, split, idle, Decimal(node.gpus * node_us) / _US_PER_HOUR, requested_total))

    return Allocation(mode, tuple(node_allocs), tuple(costs), tuple(warnings))


def nodes_from_ledger(ledger: Ledger, catalog: Catalog) -> tuple[list[NodeCost], list[str]]:
    """One NodeCost per instance resource in the ledger (specs from the catalog).

    Records that stand for several nodes at once (``count`` > 1, a node group's size) cannot host
    pods individually and are left out with a note.
    """
    grouped: dict[str, list] = defaultdict(list)
    notes: list[str] = []
    for e in ledger.entries:
        if e.usage.kind != "instance":
            continue
        if e.usage.count != 1:
            notes.append(f"{e.usage.team}/{e.usage.resource_id}: a group of {e.usage.count} nodes; not allocated per node")
            continue
        grouped[e.usage.resource_id].append(e)
    out: list[NodeCost] = []
    for node_id, entries in sorted(grouped.items()):
        u = entries[0].usage
        info = catalog.instance(u.region, u.instance_type or "")
        if info is None or info.vcpu is None or info.memory_gib is None:
            notes.append(f"{u.team}/{node_id}: no specs for {u.instance_type} in the catalog; not allocated")
            continue
        out.append(NodeCost(node_id, u.team, sum(e.cost_micros for e in entries),
                            min(e.start for e in entries), max(e.end for e in entries),
                            info.vcpu, info.memory_gib, info.gpus or 0, u.instance_type or "", u.market))
    return out, notes
