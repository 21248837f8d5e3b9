"""A `team apply` or `up` killed while terraform rewrote the team's local state leaves that file
empty or cut off (terraform writes it in place). Before the team is applied again its state is
mended: the cut file is set aside and terraform's own backup (the last state it saved whole) takes
its place, so the reconcile imports or deletes only what was created since, and terraform can
read its state again. The end-to-end path (a real kill): tests/integration/test_crash_recovery.py."""

from __future__ import annotations

import json

from labctl.ops.resume import restore_cut_state
from labctl.state import StateDir
from labctl.tf import state as tfstate

GOOD = {"version": 4, "serial": 7, "lineage": "l-1", "resources": [
    {"mode": "managed", "type": "aws_vpc", "name": "this", "module": "module.network",
     "instances": [{"attributes": {"id": "vpc-1", "arn": "arn:aws:ec2:us-east-1:1:vpc/vpc-1"}}]}]}


def _team(tmp_path, text: str | None, backup: dict | None):  # type: ignore[no-untyped-def]
    cs = StateDir(tmp_path).cohort("c1")
    d = cs.team_dir("alpha")
    d.mkdir(parents=True)
    if text is not None:
        (d / "terraform.tfstate").write_text(text)
    if backup is not None:
        (d / "terraform.tfstate.backup").write_text(json.dumps(backup))
    return cs, d


def test_a_cut_off_state_is_set_aside_and_the_backup_takes_its_place(tmp_path):
    cs, d = _team(tmp_path, json.dumps(GOOD)[:40], GOOD)
    state, note = restore_cut_state(cs, "alpha")
    assert state == GOOD and tfstate.read(d / "terraform.tfstate") == GOOD      # terraform can read it again
    assert "vpc-1" in tfstate.ids(state)
    aside = list(d.glob("terraform.tfstate.unreadable-*"))
    assert len(aside) == 1 and aside[0].read_text() == json.dumps(GOOD)[:40]   # kept for inspection
    assert note and "unreadable" in note and aside[0].name in note and "backup" in note
    entry = [e for e in cs.audit_entries() if e["command"] == "recover"][-1]
    assert entry["team"] == "alpha" and entry["restored_from"].endswith("terraform.tfstate.backup")


def test_an_empty_state_with_no_backup_leaves_everything_to_be_found_by_tag(tmp_path):
    cs, d = _team(tmp_path, "", None)
    state, note = restore_cut_state(cs, "alpha")
    assert state is None and not (d / "terraform.tfstate").exists()
    assert note and "no readable backup" in note


def test_a_dry_run_reads_the_backup_and_moves_nothing(tmp_path):
    cs, d = _team(tmp_path, "", GOOD)
    state, note = restore_cut_state(cs, "alpha", dry_run=True)
    assert state == GOOD and note and note.startswith("would set aside")
    assert (d / "terraform.tfstate").read_text() == "" and not list(d.glob("*.unreadable-*"))


def test_a_readable_state_is_left_alone(tmp_path):
    cs, d = _team(tmp_path, json.dumps(GOOD), {"version": 4, "serial": 1, "lineage": "l-1", "resources": []})
    assert restore_cut_state(cs, "alpha") == (GOOD, None)
    assert tfstate.read(d / "terraform.tfstate") == GOOD
