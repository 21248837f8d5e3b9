"""Pure pod placement as kube-scheduler does it for what the rendered manifests use.

Filters: the node is Ready and schedulable, nodeSelector labels match, every NoSchedule/NoExecute
taint is tolerated, and requests (cpu, memory, nvidia.com/gpu, one pod slot) fit in allocatable
minus what the node's pods already request. Score: LeastAllocated (the default profile): the node
with the most free cpu+memory share wins; ties go to the node name, so placement is deterministic.
Preemption (PreemptLowerPriority): on the node where evicting the fewest, lowest-priority pods
makes room, those pods are evicted; a pod with preemptionPolicy Never waits instead.

Allocatable follows the EKS AMI's kubelet reservations (awslabs/amazon-eks-ami bootstrap):
kube-reserved cpu 6% of the first core, 1% of the second, 0.5% of the third and fourth, 0.25% of
each further core; kube-reserved memory 255 MiB + 11 MiB per pod the node may run; hard eviction
at 100 MiB. So a 4 vCPU / 16 GiB node offers 3920m and ~14.5 GiB: a Job asking for "4" CPUs does
not fit a g5.xlarge, exactly as on a real cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

MIB = 2**20


class Res(NamedTuple):
    cpu_m: int
    mem: int
    gpu: int
    pods: int

    def __add__(self, o: Res) -> Res:  # type: ignore[override]
        return Res(self.cpu_m + o.cpu_m, self.mem + o.mem, self.gpu + o.gpu, self.pods + o.pods)

    def __sub__(self, o: Res) -> Res:
        return Res(self.cpu_m - o.cpu_m, self.mem - o.mem, self.gpu - o.gpu, self.pods - o.pods)

    def fits_in(self, free: Res) -> bool:
        return self.cpu_m <= free.cpu_m and self.mem <= free.mem and self.gpu <= free.gpu and self.pods <= free.pods


ZERO = Res(0, 0, 0, 0)


def allocatable(vcpu: int, memory_mib: int, gpus: int, max_pods: int) -> Res:
    cores = [60, 10, 5, 5] + [2.5] * max(0, vcpu - 4)
    reserved_cpu = int(sum(cores[:vcpu]))
    reserved_mem = (255 + 11 * max_pods + 100) * MIB
    return Res(vcpu * 1000 - reserved_cpu, memory_mib * MIB - reserved_mem, gpus, max_pods)


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str


def tolerates(tolerations: Sequence[Mapping[str, str]], taints: Iterable[Taint]) -> bool:
    """Every NoSchedule/NoExecute taint has a matching toleration (PreferNoSchedule never blocks)."""
    for t in taints:
        if t.effect == "PreferNoSchedule":
            continue
        if not any(_matches(tol, t) for tol in tolerations):
            return False
    return True


def _matches(tol: Mapping[str, str], t: Taint) -> bool:
    if tol.get("effect") and tol["effect"] != t.effect:
        return False
    op = tol.get("operator", "Equal")
    if op == "Exists":
        return not tol.get("key") or tol["key"] == t.key
    return tol.get("key") == t.key and (tol.get("value") or "") == t.value


def selects(node_selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in node_selector.items())


@dataclass
class NodeView:
    name: str
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    alloc: Res
    used: Res
    schedulable: bool

    @property
    def free(self) -> Res:
        return self.alloc - self.used


@dataclass
class PodView:
    name: str
    requests: Res
    node_selector: Mapping[str, str]
    tolerations: Sequence[Mapping[str, str]]
    priority: int
    can_preempt: bool


def feasible(pod: PodView, node: NodeView) -> bool:
    return node.schedulable and selects(pod.node_selector, node.labels) and tolerates(pod.tolerations, node.taints)


def why_not(pod: PodView, nodes: Sequence[NodeView]) -> str:
    """kube-scheduler's FailedScheduling message, roughly: 0/N nodes are available: reasons."""
    counts: dict[str, int] = {}
    for n in nodes:
        if not n.schedulable:
            r = "node(s) not ready or cordoned"
        elif not selects(pod.node_selector, n.labels):
            r = "node(s) didn't match Pod's node affinity/selector"
        elif not tolerates(pod.tolerations, n.taints):
            r = "node(s) had untolerated taint"
        else:
            free = n.free
            parts = [name for name, need, have in (("cpu", pod.requests.cpu_m, free.cpu_m),
                                                   ("memory", pod.requests.mem, free.mem),
                                                   ("nvidia.com/gpu", pod.requests.gpu, free.gpu),
                                                   ("pods", pod.requests.pods, free.pods)) if need > have]
            r = "Insufficient " + ", ".join(parts) if parts else "fits"
        counts[r] = counts.get(r, 0) + 1
    detail = ", ".join(f"{c} {r}" for r, c in sorted(counts.items()))
    return f"0/{len(nodes)} nodes are available" + (f": {detail}" if detail else "")


def pick_node(pod: PodView, nodes: Sequence[NodeView]) -> NodeView | None:
    best: tuple[float, str] | None = None
    chosen = None
    for n in nodes:
        if not feasible(pod, n) or not pod.requests.fits_in(n.free):
            continue
        free = n.free - pod.requests
        share = (free.cpu_m / n.alloc.cpu_m if n.alloc.cpu_m else 0) + (free.mem / n.alloc.mem if n.alloc.mem else 0)
        key = (-share, n.name)
        if best is None or key < best:
            best, chosen = key, n
    return chosen


@dataclass(frozen=True)
class Victim:
    name: str
    priority: int
    requests: Res


def pick_preemption(pod: PodView, nodes: Sequence[NodeView],
                    pods_on: Mapping[str, Sequence[Victim]]) -> tuple[NodeView, list[Victim]] | None:
    """The node and the lowest-priority victims whose eviction lets ``pod`` fit, or None."""
    if not pod.can_preempt:
        return None
    best: tuple[tuple[int, int, str], NodeView, list[Victim]] | None = None
    for n in nodes:
        if not feasible(pod, n):
            continue
        lower = sorted((v for v in pods_on.get(n.name, ()) if v.priority < pod.priority),
                       key=lambda v: (v.priority, v.name))
        free, victims = n.free, []
        for v in lower:
            if pod.requests.fits_in(free):
                break
            free, victims = free + v.requests, [*victims, v]
        if not victims or not pod.requests.fits_in(free):
            continue
        key = (max(v.priority for v in victims), len(victims), n.name)
        if best is None or key < best[0]:
            best = (key, n, victims)
    return None if best is None else (best[1], best[2])
