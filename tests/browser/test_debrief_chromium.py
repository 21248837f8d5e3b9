"""The debrief in a real browser: headless Chromium renders the charts, and the page makes no
request beyond itself.

How "no request left the page" is proven: the page is served from a local http.server on
127.0.0.1 (its handler logs every request) and Chromium writes a NetLog (--log-net-log) of every
URL request it makes. The page's own load appears in both (a positive control: the log does see
requests); the assertion is that it is the only URL in either: no other host, no second path on
ours (a relative image or script would show up there). The page also carries a CSP of
default-src 'none', so a browser would refuse such requests anyway; this test checks the
outcome, not the promise.

Needs Debian's chromium at /usr/bin/chromium (CI: apt-get install -y chromium); skips otherwise.
"""

from __future__ import annotations

import http.server
import json
import re
import struct
import subprocess
import threading
import zlib
from pathlib import Path

import pytest

from labctl.ops.debrief import write_debrief
from tests.unit.report.synth import write_class

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-quic", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
         "--hide-scrollbars",
         # hermetic: nothing resolves but loopback (attempts still show in the NetLog)
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="/usr/bin/chromium is absent (install Debian's chromium package)")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("debrief")
    write_class(root / "state", "c1", 3, no_run=["baseline"], budgets={"baseline": 40})
    out = write_debrief(root / "state", "c1", root / "out")
    seen: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root / "out"), **kw)

        def log_message(self, *a):  # noqa: D401 - quiet
            pass

        def do_GET(self):  # noqa: N802
            seen.append(self.path)
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/debrief.html"
    yield root, url, seen, out
    server.shutdown()


def _chromium(root: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    profile = root / f"profile-{name}"
    return subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=90, check=False)


def _png_pixels(path: Path) -> tuple[int, int, bytes]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    return w, h, zlib.decompress(idat)


def _rgb_rows(w: int, h: int, raw: bytes) -> list[bytes]:
    """Undo PNG's per-row filters (RGB or RGBA, 8 bits) and return each row's RGB bytes."""
    bpp = (len(raw) // h - 1) // w
    stride, prev, rows, pos = w * bpp, bytearray(w * bpp), [], 0
    for _ in range(h):
        kind, line = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(v for j, v in enumerate(line) if j % bpp < 3))
        prev = line
    return rows


def test_charts_render_and_no_request_leaves_the_page(served):
    root, url, seen, _ = served
    netlog = root / "netlog.json"
    res = _chromium(root, "dom", f"--log-net-log={netlog}", "--virtual-time-budget=3000", "--dump-dom", url)
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    polylines = re.findall(r'<polyline class="series"[^>]*data-points="(\d+)"[^>]*points="([^"]*)"', dom)
    assert len(polylines) >= 7, "expected the cohort chart plus two charts per team"
    assert all(int(n) > 0 and len(pts.split()) >= int(n) for n, pts in polylines)
    assert len(re.findall(r'<rect class="bar"', dom)) >= 6
    assert 'data-team="baseline"' in dom and "Leaderboard" in dom
    # the lesson's five phases shade every time axis
    phases = re.findall(r'<rect class="phase" data-phase="(\w+)"', dom)
    assert phases[:5] == ["Engage", "Explore", "Explain", "Elaborate", "Evaluate"] and len(phases) >= 5 * 7

    # requests: the server saw only the page; the NetLog shows no other URL
    assert seen == ["/debrief.html"], seen
    log = json.loads(netlog.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = set()
    for ev in log.get("events", []):
        p = ev.get("params") or {}
        # requests made on the page's behalf carry its site in their network isolation key;
        # Chromium's own background traffic (component updater, time, accounts) carries null
        # or google.com, and is kept off the network by --host-resolver-rules anyway
        if ev.get("type") == start_job and str(p.get("network_isolation_key", "")).startswith("http://127.0.0.1"):
            urls.add(p["url"])
    assert url in urls, "the NetLog must see the page's own request (positive control)"
    assert urls == {url}, f"requests beyond the page: {sorted(urls - {url})}"


def test_screenshot_is_not_blank(served):
    root, url, _, _ = served
    shot = root / "debrief.png"
    res = _chromium(root, "shot", f"--screenshot={shot}", "--window-size=1280,1800", "--virtual-time-budget=3000", url)
    assert shot.exists(), res.stderr[-2000:]
    w, h, raw = _png_pixels(shot)
    assert (w, h) == (1280, 1800)
    # a blank page decodes to a handful of byte values; charts, text and colours give many
    assert len(set(raw)) > 64
    # the phase bands are on screen: each phase's fill colour covers a visible area of the shot
    from labctl.report.svg import PHASE_FILLS

    rows = _rgb_rows(w, h, raw)
    for fill in PHASE_FILLS:
        rgb = bytes.fromhex(fill[1:])
        pixels = sum(sum(1 for i in range(0, len(r), 3) if r[i:i + 3] == rgb) for r in rows[::4])
        assert pixels * 4 > 2000, (fill, pixels)
    print(f"screenshot: {shot}")
