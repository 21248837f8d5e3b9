"""A `down` stopped partway (Ctrl-C, SIGTERM, a kill) wrote no proof; what it had removed is in its
journal, and the next `down`'s proofs list it, naming the run, then the journal goes. A dry run
says the journal is there and keeps it. In-process emulator (moto), no terraform: the journal is
written as a stopped run would have left it (the real runs: tests/integration/
test_interrupt_and_teardown.py for SIGTERM, test_resume_and_reaper.py for a kill)."""

from __future__ import annotations

import json

import pytest

from labctl.ops.teardown_journal import FILE, Journal
from tests.unit.conftest import cohort_up_on_emulator

pytestmark = [pytest.mark.emulator]

RUN = "2026-12-04T10:00:00+00:00"


def test_the_next_down_lists_what_a_stopped_one_removed_then_drops_the_journal(run_cli, tmp_path):
    state = tmp_path / "state"
    with cohort_up_on_emulator(state, "jour", ["a", "b"]) as (cs, _):
        stopped = Journal(cs.root, RUN)
        stopped.record("a", "swept_before", ["ec2:subnet subnet-0aa (a)"])
        stopped.record("a", "destroyed", ["module.network.aws_vpc.this", "module.cluster.aws_eks_cluster.this"])
        with open(cs.root / FILE, "a") as fh:
            fh.write('{"run": "' + RUN + '", "team": "b", "how": "destr')       # cut off by the kill

        dry = run_cli("down", "jour", "--dry-run", state_dir=state)
        assert dry.exit_code == 0, dry.output
        assert "an earlier `down` stopped partway had removed 3 resources" in dry.output
        assert (cs.root / FILE).exists()                                   # a dry run changes nothing

        res = run_cli("down", "jour", "--output", "json", state_dir=state)
        assert res.exit_code == 0, res.output
        proof = json.loads((cs.root / "reports" / "teardown-a.json").read_text())
        assert proof["destroyed"] == ["module.network.aws_vpc.this", "module.cluster.aws_eks_cluster.this"]
        assert proof["swept_before_destroy"] == proof["swept"] == ["ec2:subnet subnet-0aa (a)"]
        assert proof["earlier_runs"] == [RUN] and proof["clean"]
        assert json.loads(res.stdout)["teams"]["a"]["earlier_runs"] == [RUN]
        assert not (cs.root / "reports" / "teardown-b.json").exists() or \
            json.loads((cs.root / "reports" / "teardown-b.json").read_text())["earlier_runs"] == []
        assert not (cs.root / FILE).exists()                               # carried once, never twice
