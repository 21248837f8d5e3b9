"""Compare two debrief.json files: every figure must be identical; only timestamps of the run may
differ (issue 5: `labctl demo --seed S` twice gives the same debrief).

    .venv/bin/labctl --state-dir /tmp/d1 demo --seed 5 && .venv/bin/labctl --state-dir /tmp/d2 demo --seed 5
    .venv/bin/python bench/compare_debriefs.py /tmp/d1/cohorts/demo-s5/reports/debrief/debrief.json \
        /tmp/d2/cohorts/demo-s5/reports/debrief/debrief.json

``--smoke`` compares the debriefs of one synthetic class (tests/unit/report/synth.py, 2 teams x
1 h) written twice, in seconds; CI runs it (tests/unit/test_bench_smoke.py). Exit 1 on a difference.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TS = re.compile(r"^\d{4}-\d\d-\d\dT")
TS_IN_TEXT = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+(\+00:00|Z)?")


def differences(a: Any, b: Any) -> list[tuple]:
    diffs: list[tuple] = []

    def walk(x: Any, y: Any, path: str = "") -> None:
        if isinstance(x, dict):
            if not isinstance(y, dict) or set(x) != set(y):
                diffs.append(("keys", path))
            for k in x:
                if isinstance(y, dict) and k in y:
                    walk(x[k], y[k], path + "." + k)
        elif isinstance(x, list):
            if not isinstance(y, list) or len(x) != len(y):
                diffs.append(("len", path))
            for i, (p, q) in enumerate(zip(x, y if isinstance(y, list) else [], strict=False)):
                walk(p, q, f"{path}[{i}]")
        elif x != y and not (isinstance(x, str) and isinstance(y, str) and TS.match(x) and TS.match(y)):
            if isinstance(x, str) and isinstance(y, str) and TS_IN_TEXT.sub("T", x) == TS_IN_TEXT.sub("T", y):
                return
            diffs.append((path, x, y))

    walk(a, b)
    return diffs


def _smoke_pair(tmp: Path) -> tuple[Path, Path]:
    from labctl.cost.catalog import load_catalog
    from labctl.ops.debrief import write_debrief
    from tests.unit.report.synth import write_class

    out = []
    for run in ("a", "b"):
        state = tmp / run
        write_class(state, "smoke", 2, 1)
        res = write_debrief(state, "smoke", state / "out", catalog=load_catalog())
        out.append(Path(res["json"]))
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--smoke", action="store_true", help="compare one synthetic class's debrief written twice")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="compare-debriefs-") as tmp:
        if args.smoke:
            first, second = _smoke_pair(Path(tmp))
        elif len(args.files) == 2:
            first, second = args.files
        else:
            ap.error("give two debrief.json files, or --smoke")
        diffs = differences(json.loads(first.read_text()), json.loads(second.read_text()))
    print(len(diffs), "differences apart from timestamps")
    for d in diffs[:20]:
        print(d)
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
