"""The command line: click commands that parse, call one use case in labctl.ops and print text or
``--output json``; the only layer that draws (rich) or knows click.

- ``main``       the entry point: global options, error handling (one line, the exit code of
                 labctl.errors), command registration
- ``context``    the object every command receives: state directory, output format, emit helpers
- ``commands``   validate, render, plan, up, status, down, sweep, log, reaper, init, demo, emulator
- ``team``       team knobs / plan / apply / unlock / run, preflight, handouts
- ``telemetry``  collect, debrief, guardrail, and the body of ``status --watch``
- ``k8s``        kubeconfig; ``prices`` prices show / refresh; ``sim`` simulate; ``workload`` workload
- ``progress``   draws a use case's progress Board (labctl.ops.progress): a live table on a terminal,
                 one line per phase change otherwise
"""
