"""What `up` creates enters the lifecycle from the state, and leaves it at `down`, whatever the
target: the line items of a real team's Terraform state, opened once, closed when gone."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from labctl.cost.items import labctl_modules
from labctl.telemetry.provisioned import SOURCE, items_of_state, sync_team
from labctl.telemetry.store import Sample, Store

STATE = Path(__file__).parents[1] / "cost" / "fixtures" / "state_team.tfstate.json"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def test_a_real_team_state_holds_the_cluster_the_bucket_and_public_nodes():
    items = items_of_state(json.loads(STATE.read_text()))
    by_kind = {i.kind: i for i in items.standing}
    assert set(by_kind) == {"cluster", "bucket"}
    assert by_kind["cluster"].resource_id == "fx-alpha"
    assert by_kind["cluster"].created_at == datetime(2026, 11, 28, 10, 13, 4, tzinfo=timezone.utc)
    assert by_kind["bucket"].resource_id == "labctl-fx-alpha-68fe4202"
    assert items.public_node_ipv4
    # what a simulated class with no state assumes labctl's modules create is the same
    assert labctl_modules("fx-alpha").kinds() == items.kinds()


def test_sync_opens_each_item_once_and_closes_it_when_the_state_loses_it(tmp_path):
    items = items_of_state(json.loads(STATE.read_text()))
    with Store(tmp_path / "t.sqlite", "fx") as store:
        assert len(sync_team(store, "alpha", "us-east-1", items, T0)) == 2
        assert sync_team(store, "alpha", "us-east-1", items, T0 + timedelta(minutes=5)) == []   # a second up
        rows = store.lifecycle("alpha")
        assert {(r.kind, r.end, r.source) for r in rows} == {("cluster", None, SOURCE), ("bucket", None, SOURCE)}
        cluster = next(r for r in rows if r.kind == "cluster")
        assert cluster.start == datetime(2026, 11, 28, 10, 13, 4, tzinfo=timezone.utc)   # created_at, not now
        closed = sync_team(store, "alpha", "us-east-1", items_of_state(None), T0 + timedelta(hours=1))   # down
        assert {r.end for r in closed} == {T0 + timedelta(hours=1)}
        assert all(r.end is not None for r in store.lifecycle("alpha"))


def test_down_before_a_simulated_class_ends_closes_at_its_last_observation(tmp_path):
    # A simulated class runs on its own clock, ahead of the wall clock: what it saw did exist.
    items = items_of_state(json.loads(STATE.read_text()))
    with Store(tmp_path / "t.sqlite", "fx") as store:
        sync_team(store, "alpha", "us-east-1", items, T0)
        store.put_samples([Sample("alpha", T0 + timedelta(hours=4), "pods_pending", 0, "simulator")])
        closed = sync_team(store, "alpha", "us-east-1", items_of_state(None), T0 + timedelta(minutes=10))
        assert {r.end for r in closed} == {T0 + timedelta(hours=4)}


def test_a_kms_key_in_the_state_is_a_standing_item_recorded_by_its_id(tmp_path):
    state = {"version": 4, "resources": [{"mode": "managed", "type": "aws_kms_key", "name": "this",
                                          "module": "module.team_key",
                                          "instances": [{"attributes": {"id": "key-123", "key_id": "key-123"}}]}]}
    items = items_of_state(state)
    assert [(i.kind, i.resource_id) for i in items.standing] == [("kms-key", "key-123")]
    with Store(tmp_path / "t.sqlite", "fx") as store:
        rows = sync_team(store, "alpha", "us-east-1", items, T0)
    assert [(r.kind, r.resource_id, r.start) for r in rows] == [("kms-key", "key-123", T0)]
