"""The README's rule for JSON output: amounts of money are decimal strings (exact), never floats,
in every command's JSON (here: debrief, status --watch, plan, preflight's budget check)."""

from __future__ import annotations

import json
from decimal import Decimal

from click.testing import CliRunner

from tests.unit.test_cli_plan import COHORT as PLAN_COHORT
from tests.unit.test_cli_plan import _report
from tests.unit.test_cli_watch import COHORT, _telemetry, state  # noqa: F401 - the fixture

MONEY_WORDS = ("usd", "cost", "price", "budget", "spend")


def money_values(doc, path=""):
    """(path, value) of every leaf under a key that names money."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from money_values(v, f"{path}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from money_values(v, f"{path}[{i}]")
    elif any(w in path.lower().rsplit(".", 1)[-1] for w in MONEY_WORDS):
        yield path, doc


def assert_money_is_decimal_strings(doc):
    found = list(money_values(doc))
    assert found
    for path, v in found:
        assert not isinstance(v, float), f"{path} is a float: {v!r}"
        if isinstance(v, str) and v.replace(".", "", 1).replace("-", "", 1).isdigit():
            Decimal(v)


def test_json_money_is_decimal_strings_in_every_command(state, tmp_path, monkeypatch):
    from labctl.cli.main import _register, cli

    _register()
    _telemetry(state[1])
    monkeypatch.setattr("labctl.cli.telemetry.time.sleep", lambda _s: None)

    def run(*args):
        r = CliRunner().invoke(cli, ["--state-dir", str(tmp_path), "-o", "json", *args])
        assert r.exit_code == 0, r.output
        return r.stdout

    assert_money_is_decimal_strings(json.loads(run("debrief", COHORT, "--out", str(tmp_path / "d"))))
    assert_money_is_decimal_strings(json.loads((tmp_path / "d" / "debrief.json").read_text()))
    for line in run("status", COHORT, "--watch", "--count", "2").splitlines():
        assert_money_is_decimal_strings(json.loads(line))

    from labctl.cost.catalog import load_catalog
    from labctl.ops.preflight import check_budget
    from labctl.spec.load import load_cohort

    spec = tmp_path / "plan.yaml"
    spec.write_text(PLAN_COHORT)
    cohort = load_cohort(spec)
    assert_money_is_decimal_strings(json.loads(json.dumps(_report(cohort).as_dict())))
    assert_money_is_decimal_strings([c.as_dict() for c in check_budget(cohort, load_catalog())])


def test_collect_every_with_output_json_writes_json_lines(tmp_path, monkeypatch):
    from labctl.cli.main import _register, cli

    _register()

    class Pass:
        def __init__(self, n):
            self.n = n

        def as_dict(self):
            return {"cohort": "c", "pass": self.n, "written": {}}

    def loop(_sd, _ref, _every, *, stop, on_pass, **_kw):
        for n in range(3):
            on_pass(Pass(n))
    monkeypatch.setattr("labctl.ops.collect.collect_loop", loop)
    r = CliRunner().invoke(cli, ["--state-dir", str(tmp_path), "-o", "json", "collect", "c", "--every", "60s"])
    assert r.exit_code == 0, r.output
    assert [json.loads(line)["pass"] for line in r.stdout.splitlines()] == [0, 1, 2]
