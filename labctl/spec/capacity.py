"""What of a node a pod may use: allocatable after the EKS AMI's kubelet reservations; pure.

A pod is scheduled only where its requests fit the node's allocatable minus what is already
placed there. EKS nodes reserve, per the EKS AMI's bootstrap (awslabs/amazon-eks-ami):

- kube-reserved cpu: 6% of the first core, 1% of the second, 0.5% each of the third and fourth,
  0.25% of every further core (a 4 vCPU node keeps 80m: 3920m allocatable);
- kube-reserved memory: 255 MiB + 11 MiB per pod the node may run (max_pods);
- hard eviction threshold: memory.available 100 MiB.

labctl's simulator (labctl.sim.scheduler.allocatable) uses the same formula with the lab's
``simulation.max_pods`` (110 by default; the EKS AMI derives it from ENIs, 58 on a g5.xlarge,
which reserves less memory, so this is the cautious figure), and a test holds the two equal.
Every GPU node also runs the NVIDIA device plugin DaemonSet that labctl renders
(k8s/nvidia-device-plugin.yaml.j2: 50m cpu, 64Mi memory requested); a test holds
``GPU_NODE_DAEMONSETS`` to at least what the rendered DaemonSets request.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

MIB = 2**20

# Requests of the DaemonSets labctl places on every GPU node (cpu millicores, memory bytes).
GPU_NODE_DAEMONSETS = (50, 64 * MIB)

@dataclass(frozen=True)
class Allocatable:
    cpu_m: int
    memory: int       # bytes


def allocatable(vcpu: int, memory_mib: int, max_pods: int) -> Allocatable:
    """A node's allocatable cpu and memory under the EKS AMI's reservations (module docstring)."""
    cores = [60, 10, 5, 5] + [2.5] * max(0, vcpu - 4)
    reserved_cpu = int(sum(cores[:vcpu]))
    reserved_mem = (255 + 11 * max_pods + 100) * MIB
    return Allocatable(vcpu * 1000 - reserved_cpu, memory_mib * MIB - reserved_mem)


def for_pods(vcpu: int, memory_mib: int, max_pods: int, gpu_node: bool) -> Allocatable:
    """What is left for a workload's pods once labctl's own DaemonSets are placed."""
    a = allocatable(vcpu, memory_mib, max_pods)
    if gpu_node:
        cpu, mem = GPU_NODE_DAEMONSETS
        return Allocatable(a.cpu_m - cpu, a.memory - mem)
    return a


def show_cpu(millicores: int | Decimal) -> str:
    m = int(millicores)
    return str(m // 1000) if m % 1000 == 0 else f"{m}m"


def show_memory(nbytes: int | Decimal) -> str:
    """Rounded down, so a figure shown as "at most" can be pasted as a request and still fit."""
    gib = Decimal(int(nbytes)) / Decimal(2**30)
    if gib >= 1:
        return f"{gib.quantize(Decimal('0.1'), rounding=ROUND_DOWN).normalize():f}Gi"
    return f"{int(nbytes) // MIB}Mi"
