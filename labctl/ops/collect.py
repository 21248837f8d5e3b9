"""`labctl collect`: one pass (or one every N seconds) of every configured collector into the
cohort's store. Incremental and restart-safe (the store upserts; see labctl.telemetry.collectors).

What runs: the AWS inventory collector always (the cohort's recorded target: emulator, LocalStack
or AWS); a cluster collector per team whose cluster labctl can reach (see :func:`cluster_sources`);
a DCGM collector per metrics URL (``--metrics-url``, or ``metrics_urls`` in the cohort's meta.json);
and, when asked (the default of ``--every``), the budget guardrail after the pass, so a facilitator
running the loop gets warnings and scale-to-zero without a second command.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from labctl.aws.accounts import SHARED
from labctl.aws.session import AwsTarget
from labctl.errors import EnvironmentProblem, LabctlError, NotFoundError
from labctl.k8s import kind
from labctl.k8s.kubeconfig import team_eks_kubeconfig, write_kubeconfig
from labctl.meta import CohortMeta
from labctl.ops.common import resolve_cohort_id
from labctl.ops.guardrail import GuardrailOptions, guardrail
from labctl.state import CohortState, StateDir, now
from labctl.telemetry.collectors import (
    AwsInventoryCollector,
    ClusterCollector,
    DcgmCollector,
    write,
)
from labctl.telemetry.store import Store
from labctl.tf import state as tfstate
from labctl.ops.target import connect_recorded

ClusterFactory = Callable[[Path], Any]
"""kubeconfig path -> an object with the cluster interface (labctl.k8s.interface.Cluster)."""

SIMULATED_NOTE = ("cohort {cohort} runs on the embedded target: its clusters are simulated inside labctl, so "
                  "cluster telemetry comes from `labctl simulate`, not from collect")


@dataclass
class CollectReport:
    cohort: str
    at: str
    written: dict[str, dict[str, int]] = field(default_factory=dict)     # collector -> counts
    unreadable: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    guardrail: dict[str, Any] | None = None                                # GuardrailReport.as_dict(), when it ran

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def real_cluster(kubeconfig: Path) -> Any:
    """The default cluster factory: the official client (imported only in labctl.k8s.real)."""
    # Here, not at the top: the client takes about half a second to import, which a collect pass
    # on the simulator (or `status`, which imports this module) does not need.
    from labctl.k8s.real import RealCluster

    return RealCluster.from_kubeconfig(kubeconfig)


def simulated(meta: CohortMeta) -> bool:
    """The embedded target without kind has no Kubernetes API: the simulator stands in for it."""
    return meta.target == "embedded" and meta.k8s != "kind"


def check_kubeconfigs(cohort_id: str, teams: Sequence[str], kubeconfigs: Mapping[str, Path]) -> None:
    """``--kubeconfig TEAM=PATH``: TEAM must be a team of the cohort and PATH an existing file.
    Checked before anything is collected, so a typo is one clear line, not a silent miss."""
    for team, path in sorted(kubeconfigs.items()):
        if team not in teams:
            raise NotFoundError(f"--kubeconfig {team}={path}: cohort {cohort_id} has no team {team!r} "
                                f"(teams: {', '.join(sorted(teams)) or 'none'})")
        if not Path(path).is_file():
            raise EnvironmentProblem(f"--kubeconfig {team}={path}: no such file")


def _why(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200] if isinstance(exc, LabctlError) else f"{type(exc).__name__}: {text[:160]}"


def team_eks_config(cs: CohortState, meta: CohortMeta, team: str) -> dict[str, Any] | None:
    """The team's EKS kubeconfig (as data) from its Terraform outputs and what `up` recorded of the
    cohort; None before its cluster exists. What `collect` and `labctl kubeconfig` both write."""
    return team_eks_kubeconfig(tfstate.team_outputs(cs.team_dir(team)), f"{cs.id}-{team}", meta.region,
                               meta.aws_profile, meta.localstack_endpoint)


def _eks_kubeconfig(cs: CohortState, meta: CohortMeta, team: str) -> Path:
    """Write the team's EKS kubeconfig into its state folder, mode 0600."""
    config = team_eks_config(cs, meta, team)
    if config is None:
        raise NotFoundError("no cluster endpoint in its Terraform state (not provisioned yet, or the target has no EKS)")
    return write_kubeconfig(cs.team_dir(team) / "collect.kubeconfig", config)


def _kind_kubeconfig(cs: CohortState) -> Path:
    path = cs.root / "kind.kubeconfig"
    kind.ensure_cluster(cs.id, path, create=False)
    return path


def cluster_sources(cs: CohortState, meta: CohortMeta, teams: Sequence[str], *,
                    kubeconfigs: Mapping[str, Path] | None = None,
                    factory: ClusterFactory = real_cluster) -> tuple[dict[str, Any], list[str], list[str]]:
    """(team -> cluster, unreadable, notes) for one pass.

    Explicit ``kubeconfigs`` win. Otherwise: kind (one cluster per cohort, a namespace per team),
    or EKS on aws/localstack (each team's kubeconfig built from its Terraform outputs). The
    embedded target's clusters are simulated, which the notes say once. Resolved every pass, so
    a team whose cluster comes up later is picked up, and one that does not answer is reported
    (``cluster of TEAM: why``) while the others still collect.
    """
    explicit = dict(kubeconfigs or {})
    clusters: dict[str, Any] = {}
    unreadable: list[str] = []
    notes: list[str] = []

    def connect(team: str, path: Callable[[], Path]) -> None:
        try:
            clusters[team] = factory(path())
        except Exception as exc:  # noqa: BLE001 - one team's cluster failing must not stop the others
            unreadable.append(f"cluster of {team}: {_why(exc)}")

    if simulated(meta):
        notes.append(SIMULATED_NOTE.format(cohort=cs.id) + (
            f"; reading only the clusters given with --kubeconfig ({', '.join(sorted(explicit))})" if explicit else ""))
        auto: list[str] = []
    else:
        auto = [t for t in teams if t not in explicit]
    for team in sorted(explicit):
        connect(team, lambda team=team: Path(explicit[team]))
    if auto and meta.k8s == "kind":
        try:
            shared = factory(_kind_kubeconfig(cs))
        except Exception as exc:  # noqa: BLE001 - reported per team, collection goes on
            unreadable += [f"cluster of {t}: kind cluster of cohort {cs.id}: {_why(exc)}" for t in auto]
        else:
            clusters.update({t: shared for t in auto})
    else:
        for team in auto:
            connect(team, lambda team=team: _eks_kubeconfig(cs, meta, team))
    return clusters, unreadable, notes


def collect_once(state_dir: Path, cohort_ref: str | Path, *, target: AwsTarget | None = None,
                 clusters: Mapping[str, Any] | None = None, kubeconfigs: Mapping[str, Path] | None = None,
                 cluster_factory: ClusterFactory | None = None, metrics_urls: Sequence[str] = (),
                 guardrail_options: GuardrailOptions | None = None, at: datetime | None = None) -> CollectReport:
    """One pass. ``clusters`` (team -> cluster object) replaces the cluster discovery (tests, the
    simulator); ``cluster_factory`` replaces how a kubeconfig becomes a cluster; the guardrail runs
    after the pass only when ``guardrail_options`` is given."""
    cohort_id = resolve_cohort_id(cohort_ref, state_dir)
    cs = StateDir(state_dir).existing_cohort(cohort_id)
    meta = cs.meta()
    asked_at = at
    at = at or now()
    teams = list(meta.all_teams) or cs.teams_with_state()
    check_kubeconfigs(cohort_id, teams, kubeconfigs or {})
    # Per-team accounts: one inventory collector per team account, and the guardrail finds each
    # team's own; otherwise the one target, as given or recorded.
    targets = {SHARED: target} if target is not None else connect_recorded(meta, state_dir, start_emulator=False).aws_accounts()
    target = targets.get(SHARED)
    report = CollectReport(cohort_id, at.isoformat())
    if clusters is None:
        clusters, report.unreadable, report.notes = cluster_sources(
            cs, meta, teams, kubeconfigs=kubeconfigs, factory=cluster_factory or real_cluster)
    collectors: list[tuple[str, Any]] = [("aws" if key == SHARED else f"aws:{key}", AwsInventoryCollector(t, cohort_id, teams))
                                         for key, t in sorted(targets.items())]
    for team, cluster in sorted(clusters.items()):
        collectors.append((f"cluster:{team}", ClusterCollector(team, cluster)))
    for url in list(metrics_urls) + list(meta.metrics_urls):
        collectors.append((f"dcgm:{url}", DcgmCollector(url)))
    with Store.for_cohort(cs.root) as store:
        for name, c in collectors:
            p = c.collect(store, at)
            write(store, p)
            report.written[name] = p.counts()
            report.unreadable += p.unreadable
    if guardrail_options is not None:
        try:
            g = guardrail(state_dir, cohort_id, threshold_pct=guardrail_options.threshold_pct,
                          dry_run=guardrail_options.dry_run, rewarn_after=guardrail_options.rewarn_after,
                          target=target, at=asked_at)
        except LabctlError as exc:      # the loop goes on; the next pass tries again
            report.unreadable.append(f"guardrail: {_why(exc)}")
        else:
            report.guardrail = g.as_dict()
    return report


def collect_loop(state_dir: Path, cohort_ref: str | Path, every_s: float, *, stop: threading.Event | None = None,
                 on_pass: Callable[[CollectReport], None] = lambda r: None, **kw: Any) -> int:
    """Collect every ``every_s`` seconds until ``stop`` is set (Ctrl-C in the CLI); returns passes.
    The guardrail runs after every pass unless ``guardrail_options=None`` is passed."""
    stop = stop or threading.Event()
    kw.setdefault("guardrail_options", GuardrailOptions())
    passes = 0
    while not stop.is_set():
        on_pass(collect_once(state_dir, cohort_ref, **kw))
        passes += 1
        stop.wait(every_s)
    return passes
