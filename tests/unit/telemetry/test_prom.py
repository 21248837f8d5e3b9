from datetime import datetime, timezone

import pytest

from labctl.telemetry.prom import PromParseError, parse_api_vector, parse_text, team_from_namespace, to_store_samples

T = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
TEXT = '''# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
# TYPE DCGM_FI_DEV_GPU_UTIL gauge
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-1",device="nvidia0",modelName="NVIDIA A10G",Hostname="ip-10-0-1-5",container="train",namespace="team-a",pod="train-x"} 87
DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="1",Hostname="ip-10-0-1-5",container="",namespace="",pod=""} 0.000000
DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="0",Hostname="ip-10-0-1-5",namespace="team-a",pod="train-x",note="a \\"q\\" \\\\ b"} 0.81 1764579600000
labctl_workload_step{namespace="team-a",pod="train-x"} 500
labctl_workload_total_steps{namespace="team-a",pod="train-x"} 2000
go_goroutines 12
'''


def test_parses_labels_escapes_and_timestamps():
    s = parse_text(TEXT)
    assert len(s) == 6
    assert s[0].labels["modelName"] == "NVIDIA A10G" and s[0].value == 87
    assert s[2].labels["note"] == 'a "q" \\ b' and s[2].timestamp_ms == 1764579600000


def test_to_store_samples_maps_pods_nodes_teams_and_progress():
    out = to_store_samples(parse_text(TEXT), team_from_namespace, T)
    by = {(x.metric, x.entity): x for x in out}
    util = by[("DCGM_FI_DEV_GPU_UTIL", "team-a/train-x")]
    assert util.team == "a" and util.attrs["node"] == "ip-10-0-1-5" and util.attrs["kind"] == "pod"
    assert ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "ip-10-0-1-5/gpu1") not in by   # no namespace: team unknown
    assert by[("job_progress", "team-a/train-x")].value == 0.25
    assert by[("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "team-a/train-x")].ts.year == 2025
    assert all(x.source == "dcgm" for x in out)


def test_bad_line_names_its_number():
    with pytest.raises(PromParseError, match="line 2"):
        parse_text("ok 1\nnot a sample line at all {\n")


def test_api_vector():
    got = parse_api_vector({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"__name__": "DCGM_FI_DEV_GPU_UTIL", "namespace": "team-b"}, "value": [1764579600.5, "42"]}]}})
    assert got[0].name == "DCGM_FI_DEV_GPU_UTIL" and got[0].value == 42 and got[0].timestamp_ms == 1764579600500
