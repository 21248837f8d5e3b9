"""labctl.tf.state reads a Terraform state from a file or from the bytes S3 holds; a state cut off
or emptied is a known condition (StateUnreadable, or None for readers that only compare)."""

from __future__ import annotations

import json

import pytest

from labctl.errors import ExitCode
from labctl.tf import state as tfstate

STATE = json.dumps({"version": 4, "serial": 7, "lineage": "L1", "resources": [], "outputs": {"x": {"value": 1}}})


def test_a_state_from_a_file_or_from_bytes_reads_alike(tmp_path):
    path = tmp_path / tfstate.STATE_FILE
    path.write_text(STATE)
    assert tfstate.read(path) == tfstate.parse(STATE.encode(), "s3://b/teams/t/terraform.tfstate") == json.loads(STATE)
    assert tfstate.read(tmp_path / "none.tfstate") is None


def test_lineage_and_serial_say_which_history_and_how_far_and_none_when_unreadable():
    assert tfstate.lineage_serial(STATE.encode()) == ("L1", 7)
    assert tfstate.lineage_serial(STATE[:40].encode()) is None       # cut off mid-write
    assert tfstate.lineage_serial(b"") is None and tfstate.lineage_serial(None) is None
    assert tfstate.lineage_serial(b"\xff\xfe") is None                  # not text
    assert tfstate.lineage_serial(b'{"serial": "x"}') is None


def test_an_unreadable_state_names_where_it_came_from(tmp_path):
    with pytest.raises(tfstate.StateUnreadable, match=r"s3://b/k: unreadable Terraform state \(invalid JSON") as err:
        tfstate.parse(b'{"version": 4, "serial"', "s3://b/k")
    assert err.value.exit_code == ExitCode.REFUSED
