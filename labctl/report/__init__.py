"""The debrief, pure: its model computed from the store's rows through the metered ledger, and the
self-contained page drawn from that model alone.

- ``model``    every figure the page shows, as one JSON-ready dict
- ``lesson``   the lesson's phases, the lab's takeaways, each team's knobs over the class
- ``choices``  what a team changed against its lab, and the lever each change belongs to
- ``html``     the page (inline CSS and SVG, no script, no network)
- ``svg``      the charts
"""
