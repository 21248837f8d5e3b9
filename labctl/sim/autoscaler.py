"""The cluster-autoscaler's decisions for the flags labctl renders, as pure functions.

Read from the rendered Deployment's command: --expander, --scale-down-enabled,
--scale-down-unneeded-time, --scale-down-delay-after-add, --scale-down-utilization-threshold,
--max-node-provision-time; and the priority expander's ConfigMap. What the model does:

- scale-up: pending pods that no Ready node can take and no booting node will take trigger it;
  each node group whose template node (its first instance type, with the group's labels and
  taints, as the ASG node-template tags describe it: so scale-from-zero works) can run at least
  one of them and is below max is an option; the option says how many nodes would run how many
  of the pods. The expander picks one: random (seeded), most-pods, least-waste (least idle
  cpu+memory share), priority (the ConfigMap's highest priority whose regex matches the node
  group's ASG name). ``price`` is refused as upstream does on AWS: its FAQ says the price
  expander works only for GCE, GKE and Equinix Metal; the AWS provider implements no pricing
  model, so the autoscaler fails to start (``UNSUPPORTED_EXPANDERS``).
- scale-down: a node is unneeded while its utilization (GPU nodes: GPU requests / allocatable,
  like upstream; other nodes: the larger of cpu and memory) is below the threshold and its pods
  (DaemonSet pods aside; a pod annotated safe-to-evict=false blocks) could run elsewhere; after
  the unneeded time, and not within delay-after-add of the last scale-up, it is removed, never
  below the group's min size.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from labctl.sim.scheduler import NodeView, PodView, Res, feasible

UNSUPPORTED_EXPANDERS = {
    "price": "cluster-autoscaler on AWS: the price expander needs a pricing model the AWS provider does not "
             "implement (upstream FAQ: 'works only for GCE, GKE and Equinix Metal'); the autoscaler fails to "
             "start and nothing scales. Use priority (labctl renders spot first) or least-waste.",
}

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s|ms)")


def go_duration(text: str) -> float:
    """'10m', '1h30m', '5m0s' -> seconds."""
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise ValueError(f"{text!r} is not a duration")
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(a) * scale[b] for a, b in parts)


@dataclass(frozen=True)
class AutoscalerConfig:
    expander: str = "random"
    scale_down_enabled: bool = True
    unneeded_s: float = 600
    delay_after_add_s: float = 600
    utilization_threshold: float = 0.5
    max_node_provision_s: float = 900
    priorities: tuple[tuple[int, tuple[str, ...]], ...] = ()

    @property
    def error(self) -> str | None:
        return UNSUPPORTED_EXPANDERS.get(self.expander)


def parse_command(command: Sequence[str], priorities_yaml: str | None = None) -> AutoscalerConfig:
    flags: dict[str, str] = {}
    for arg in command:
        if arg.startswith("--") and "=" in arg:
            k, v = arg[2:].split("=", 1)
            flags[k] = v
    prio: list[tuple[int, tuple[str, ...]]] = []
    if priorities_yaml:
        import yaml

        doc = yaml.safe_load(priorities_yaml) or {}
        prio = sorted(((int(k), tuple(str(x) for x in v)) for k, v in doc.items()), reverse=True)
    d = AutoscalerConfig()
    return AutoscalerConfig(
        expander=flags.get("expander", d.expander).split(",")[0],
        scale_down_enabled=flags.get("scale-down-enabled", "true") == "true",
        unneeded_s=go_duration(flags.get("scale-down-unneeded-time", "10m")),
        delay_after_add_s=go_duration(flags.get("scale-down-delay-after-add", "10m")),
        utilization_threshold=float(flags.get("scale-down-utilization-threshold", "0.5")),
        max_node_provision_s=go_duration(flags.get("max-node-provision-time", "15m")),
        priorities=tuple(prio),
    )


@dataclass
class GroupOption:
    pool: str
    asg_name: str
    template: NodeView
    size: int            # nodes the group has or is booting
    max_size: int
    pods: list[str] = field(default_factory=list)
    nodes: int = 0
    waste: float = 0.0


def _pack(pods: Sequence[PodView], template: NodeView, limit: int) -> tuple[list[str], int, Res]:
    """First-fit the pods onto up to ``limit`` fresh template nodes."""
    bins: list[Res] = []
    placed: list[str] = []
    for p in pods:
        if not feasible(p, template) or not p.requests.fits_in(template.alloc):
            continue
        for i, used in enumerate(bins):
            if p.requests.fits_in(template.alloc - used):
                bins[i] = used + p.requests
                placed.append(p.name)
                break
        else:
            if len(bins) < limit:
                bins.append(template.alloc - template.alloc + p.requests)
                placed.append(p.name)
    total = Res(0, 0, 0, 0)
    for b in bins:
        total = total + b
    return placed, len(bins), total


def options(pending: Sequence[PodView], groups: Sequence[GroupOption]) -> list[GroupOption]:
    out = []
    for g in groups:
        room = g.max_size - g.size
        if room <= 0:
            continue
        placed, nodes, used = _pack(pending, g.template, room)
        if not placed:
            continue
        a = g.template.alloc
        waste = ((nodes * a.cpu_m - used.cpu_m) / (nodes * a.cpu_m) + (nodes * a.mem - used.mem) / (nodes * a.mem)) / 2
        out.append(GroupOption(g.pool, g.asg_name, g.template, g.size, g.max_size, placed, nodes, waste))
    return out


def expand(cfg: AutoscalerConfig, opts: Sequence[GroupOption], rng: random.Random) -> GroupOption | None:
    if not opts:
        return None
    opts = sorted(opts, key=lambda o: o.pool)
    if cfg.expander == "most-pods":
        best = max(len(o.pods) for o in opts)
        opts = [o for o in opts if len(o.pods) == best]
    elif cfg.expander == "least-waste":
        best_w = min(round(o.waste, 9) for o in opts)
        opts = [o for o in opts if round(o.waste, 9) == best_w]
    elif cfg.expander == "priority":
        for _, patterns in cfg.priorities:
            hit = [o for o in opts if any(re.fullmatch(p, o.asg_name) for p in patterns)]
            if hit:
                opts = hit
                break
    # Upstream breaks the remaining ties at random (random is also the fallback expander).
    return opts[0] if len(opts) == 1 else opts[rng.randrange(len(opts))]


def utilization(node: NodeView) -> float:
    a, u = node.alloc, node.used
    if a.gpu > 0:
        return u.gpu / a.gpu
    return max(u.cpu_m / a.cpu_m if a.cpu_m else 0, u.mem / a.mem if a.mem else 0)
