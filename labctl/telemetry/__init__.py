"""What happened during a class, recorded: the cohort's SQLite store and what fills it.

- ``rows``         the store's row types (Lifecycle, Sample, Event), pure
- ``store``        the SQLite store in the state directory (the only module that opens it)
- ``collectors``   AWS (through labctl.aws.walker), cluster and DCGM/Prometheus passes into rows
- ``provisioned``  a team's Terraform state as lifecycle rows (`up` opens them, `down` closes them)
- ``prom``         Prometheus text and API JSON parsed into samples, pure
- ``usage``        rows -> the cost engine's inputs and the per-team series the views draw, pure
"""
