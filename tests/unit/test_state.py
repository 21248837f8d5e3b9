"""The state directory survives many writers: parallel teams update meta.json at once."""

from concurrent.futures import ThreadPoolExecutor

from labctl.state import StateDir


def test_parallel_team_updates_are_all_kept(tmp_path):
    cs = StateDir(tmp_path).cohort("c")
    cs.write_meta({"cohort": "c"})
    teams = [f"t{i:02d}" for i in range(30)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda t: [cs.set_team(t, status="created", n=i) for i in range(5)], teams))
    meta = cs.meta()
    assert sorted(meta["teams"]) == teams
    assert all(v == {"status": "created", "n": 4} for v in meta["teams"].values())
    assert meta["cohort"] == "c"
    assert not list(cs.root.glob("*.tmp"))


def test_audit_log_appends_json_lines(tmp_path):
    cs = StateDir(tmp_path).cohort("c")
    cs.audit("up", "ok", teams=["a"])
    cs.audit("down", "clean")
    lines = (cs.root / "audit.log").read_text().splitlines()
    assert len(lines) == 2 and '"command": "up"' in lines[0] and '"result": "clean"' in lines[1]
