"""The bottom layer, pure: cohort and lab files, loaded and validated with every problem at its
file, line and field. Everything else may import it; of labctl it imports only errors, naming and
resources (the bundled labs and data).

- ``models``     typed, frozen models of a lab and a cohort
- ``load``       ``load_cohort`` / ``load_lab`` -> ResolvedCohort or SpecError; ``apply_knobs``
- ``yamlsrc``    bounded YAML with the line of every value
- ``messages``   pydantic's errors in a facilitator's words
- ``accounts``   the ``accounts:`` section against the teams; role ARNs and session names
- ``capacity``   what of a node a pod may use (EKS AMI reservations)
- ``offerings``  which instance types a region offers, from labctl/data/ec2 (AWS snapshots)
- ``quantity``   the one Kubernetes quantity parser
"""
