from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from labctl.telemetry.store import Event, Lifecycle, Sample, Store

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def test_round_trip_and_idempotent_upsert(tmp_path):
    with Store(tmp_path / "t.sqlite", "c1") as st:
        inst = Lifecycle("a", "i-1", "instance", "us-east-1", T0, None, "simulator", "g5.xlarge", "spot",
                         Decimal("0.4380"), pool="gpu_spot")
        st.put_lifecycle([inst])
        st.put_lifecycle([Lifecycle("a", "i-1", "instance", "us-east-1", T0, T0 + timedelta(minutes=37),
                                    "simulator", "g5.xlarge", "spot", None, pool="gpu_spot")])
        rows = st.lifecycle()
        assert len(rows) == 1
        assert rows[0].end == T0 + timedelta(minutes=37)
        assert rows[0].spot_price == Decimal("0.4380")          # kept from first sighting
        st.put_samples([Sample("a", T0, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", 0.42, "simulator", "node-1")] * 2)
        assert [s.value for s in st.samples("DCGM_FI_PROF_GR_ENGINE_ACTIVE")] == [0.42]
        st.put_events([Event("a", T0, "spot-interruption-notice", "simulator", "i-1", {"notice_s": 120})])
        assert st.events()[0].payload == {"notice_s": 120}
        assert st.sources() == {"simulator"}


def test_other_cohorts_are_invisible(tmp_path):
    Store(tmp_path / "t.sqlite", "c1").put_samples([Sample("a", T0, "m", 1.0, "x")])
    assert Store(tmp_path / "t.sqlite", "c2").samples() == []


def test_naive_times_are_refused(tmp_path):
    with pytest.raises(ValueError, match="time zone"):
        Store(tmp_path / "t.sqlite", "c").put_samples([Sample("a", datetime(2026, 1, 1), "m", 1.0, "x")])
