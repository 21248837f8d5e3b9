"""The simulated class: a GPU cluster per team behind :class:`labctl.k8s.interface.Cluster`.

Layers (each module owns one thing; dependencies point down):

- ``runner``     steps every team's cluster on one simulated clock; telemetry out; SimReport
- ``cluster``    :class:`SimulatedCluster`: the API (objects in a reused in-memory store),
                 admission (ResourceQuota), job/daemonset/deployment controllers, kubelet
                 (workload progress, DCGM figures), scheduler and autoscaler calls
- ``inputs``     a provisioned team read back from the state dir: tfvars node groups,
                 Terraform outputs, rendered manifests, the lab's ``simulation:`` section
- ``scheduler``  pure placement: requests vs allocatable, nodeSelector, taints, priority/preemption
- ``autoscaler`` pure cluster-autoscaler model for the rendered flags (expanders, scale-down)
- ``market``     spot interruptions from the Advisor band, spot price at launch, shortages
- ``workload``   step time, GPU busy share and checkpoint saves per GPU model and Job (the model
                 fitted to the H200 measurement in calibration.json; catalog, lab overrides)
- ``cloud``      where nodes come from: EC2 instances in the emulator, or pure (no AWS at all)
- ``clock``      simulated time, as fast as possible or paced at a speed-up
- ``record``     what the simulator tells the telemetry store (the collectors' row types), buffered
- ``strategies`` knob sets for the demo's teams that a real EKS cluster would run as intended
- ``usage``      Lifecycle rows -> labctl.cost.model.Usage for the ledger

Randomness only comes from ``random.Random`` instances seeded from (seed, team, purpose), and
every iteration is over sorted keys, so the same seed and inputs give byte-identical outputs.
"""

from labctl.sim.clock import SimClock
from labctl.sim.record import SOURCE

__all__ = ["SOURCE", "SimClock"]
