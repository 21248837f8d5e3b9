"""The state directory survives many writers: parallel teams update meta.json at once."""

from concurrent.futures import ThreadPoolExecutor

from labctl.meta import CohortMeta, TeamRecord
from labctl.state import StateDir


def test_parallel_team_updates_are_all_kept(tmp_path):
    cs = StateDir(tmp_path).cohort("c")
    cs.write_meta(CohortMeta(cohort="c"))
    teams = [f"t{i:02d}" for i in range(30)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda t: [cs.set_team(t, status="created", at=str(i)) for i in range(5)], teams))
    meta = cs.meta()
    assert sorted(meta.teams) == teams
    assert all(v == TeamRecord(status="created", at="4") for v in meta.teams.values())
    assert meta.cohort == "c"
    assert not list(cs.root.glob("*.tmp"))


def test_audit_log_appends_json_lines(tmp_path):
    cs = StateDir(tmp_path).cohort("c")
    cs.audit("up", "ok", teams=["a"])
    cs.audit("down", "clean")
    lines = (cs.root / "audit.log").read_text().splitlines()
    assert len(lines) == 2 and '"command": "up"' in lines[0] and '"result": "clean"' in lines[1]


def test_log_shows_the_audit_log_even_with_a_line_cut_off_by_a_full_disk(run_cli, tmp_path):
    cs = StateDir(tmp_path / "state").cohort("c")
    cs.audit("up", "ok", teams=["a"])
    with open(cs.root / "audit.log", "a") as fh:
        fh.write('{"at": "2026-12-04T10:00:00+00:00", "who": "ana", "comm')      # no room for the rest
    cs.audit("down", "clean")
    res = run_cli("log", "c", state_dir=tmp_path / "state")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert len(lines) == 3 and " up " in lines[0] and "unreadable line" in lines[1] and " down " in lines[2]
    res = run_cli("log", "c", "--limit", "1", "--output", "json", state_dir=tmp_path / "state")
    assert [e["command"] for e in __import__("json").loads(res.output)] == ["down"]
