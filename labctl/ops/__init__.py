"""The use cases: one module per verb of the product, and the plumbing they share. Above the
adapters (tf, aws, k8s, telemetry) and the pure core; below the CLI, which only prints what these
return. A use case reports progress as events on a Board (``progress``); it never draws.

The verbs: ``validate``, ``render``, ``plan``, ``preflight``, ``up``, ``status`` (and ``live``, its
``--watch`` view), ``team`` (knobs, plan, apply), ``team_run``, ``handouts``, ``collect``,
``guardrail``, ``simulate``, ``debrief``, ``down``, ``sweep``, ``reaper``, ``demo``, ``prices``,
``calibrate``, ``scaffold`` (init).

What they share:
- ``common``            a cohort with its state, terraform runners per team, the torn-down guard
- ``target``            where a cohort's resources live (emulator, LocalStack, AWS; an account per team)
- ``batch``, ``down_batch``  several teams in one terraform command, for `up` and for `down`
- ``resume``, ``reconcile``  a team whose apply was killed: its ``applying`` marker, then what the
                        cloud holds that its state does not, imported or deleted
- ``remote_state``, ``state_lock``  team states in S3: the bucket, pushes, a second machine, locks
- ``clusters``          the cohort's live clusters: kind deploy, the drain before destroy
- ``estimates``         one team's estimate, the same in plan, preflight and team plan
- ``teardown_journal``  what a stopped `down` removed, for the next proof
- ``interrupt``, ``parallel``, ``progress``  Ctrl-C/SIGTERM, how many runs at once, progress events
"""
