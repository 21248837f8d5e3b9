"""Kubernetes behind one interface (``interface.Cluster``): the official client only in ``real``,
a contract-tested in-memory ``fake`` (the simulator builds on it).

- ``interface``   the Cluster protocol and its typed errors (from labctl.errors)
- ``real``        the interface over the official ``kubernetes`` client
- ``fake``        in-memory API server for tests and the simulator
- ``drain``       the ordered drain before destroy (load balancers, volumes)
- ``kind``        a kind cluster per cohort whose workers look like the node groups
- ``kubeconfig``  the one EKS kubeconfig builder (pure) and its 0600 writer
- ``selectors``   label selectors parsed and matched, pure
"""
