"""The cost engine (pure: no I/O beyond the catalog files, no SDKs).

- ``catalog``    price catalog with provenance: ``load_catalog(path=None) -> Catalog``
- ``pricing``    which catalog price applies (one resolver for estimate and ledger)
- ``plan``       read-only view of ``terraform show -json``
- ``estimate``   ``estimate_plan``, ``estimate_cohort``, ``diff_estimates``, ``render_*``
- ``model``      lifecycle records (``Usage``), ``Workload``, ``BilledCost``, ``basis_of``
- ``items``      a team's priced line items (standing and per node): one model for all of the below
- ``ledger``     ``build_ledger(usages, catalog, as_of=...) -> Ledger`` (integer micro-dollars)
- ``money``      micro-dollar arithmetic on a fixed UTC minute grid; ``fmt_usd``
- ``allocation`` OpenCost allocation: ``allocate``, ``nodes_from_ledger``, ``split_node_cost``
- ``kpis``       ``team_kpis``, ``spot_savings``, ``cost_per_completed_run``
- ``focus``      FOCUS 1.2 CSV and Parquet; ``export`` plain ledger CSV/JSON; ``reconcile`` metered vs billed
"""
