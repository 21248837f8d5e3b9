"""`labctl demo --output json`: the README's main command, end to end on the embedded default."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.integration.conftest import mirror_or_skip, terraform_or_skip

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]


def test_demo_provisions_reports_status_and_proves_teardown(tmp_path):
    terraform_or_skip()
    mirror_or_skip()
    res = subprocess.run([sys.executable, "-m", "labctl", "--state-dir", str(tmp_path / "s"), "--output", "json",
                          "demo", "--teams", "2"], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout)
    assert [t["status"] for t in summary["up"]["teams"]] == ["created", "created"]
    pools = {t["team"]: {ng["pool"] for ng in t["node_groups"]} for t in summary["status"]["teams"]}
    assert pools == {"baseline": {"system", "gpu_on_demand"}, "rightsized": {"system", "gpu_on_demand"}}
    assert summary["teardown"]["clean"] is True and summary["teardown"]["left"] == []
    for team in ("baseline", "rightsized"):
        assert summary["teardown"]["teams"][team]["destroy"] == "destroyed"
    assert (tmp_path / "s" / "cohorts" / summary["cohort"] / "reports" / "teardown-baseline.json").exists()
    assert "HTTP/1.1" not in res.stderr          # the emulator's request log stays out of the user's way
