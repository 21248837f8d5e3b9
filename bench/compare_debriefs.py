"""Compare two debrief.json files: every figure must be identical; only timestamps of the run may
differ (issue 5: `labctl demo --seed S` twice gives the same debrief).

    .venv/bin/labctl --state-dir /tmp/d1 demo --seed 5 && .venv/bin/labctl --state-dir /tmp/d2 demo --seed 5
    python3 bench/compare_debriefs.py /tmp/d1/cohorts/demo-s5/reports/debrief/debrief.json \
        /tmp/d2/cohorts/demo-s5/reports/debrief/debrief.json
"""
import json, re, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
ts = re.compile(r"^\d{4}-\d\d-\d\dT")
diffs = []
def walk(x, y, path=""):
    if isinstance(x, dict):
        if set(x) != set(y): diffs.append(("keys", path))
        for k in x:
            if k in y: walk(x[k], y[k], path + "." + k)
    elif isinstance(x, list):
        if len(x) != len(y): diffs.append(("len", path))
        for i, (p, q) in enumerate(zip(x, y)): walk(p, q, f"{path}[{i}]")
    elif x != y and not (isinstance(x, str) and isinstance(y, str) and ts.match(x) and ts.match(y)):
        if isinstance(x, str) and isinstance(y, str) and re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+(\+00:00|Z)?", "T", x) == re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+(\+00:00|Z)?", "T", y):
            return
        diffs.append((path, x, y))
walk(a, b)
print(len(diffs), "differences apart from timestamps"); [print(d) for d in diffs[:20]]
sys.exit(1 if diffs else 0)
