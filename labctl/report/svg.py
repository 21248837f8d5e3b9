"""Inline SVG charts for the debrief, generated in Python: no JavaScript library, no network.

Each chart is one ``<svg>`` string with ``role="img"``, a ``<title>``, and per series a
``<polyline>`` (or ``<rect>`` bars) carrying ``data-series`` and ``data-points`` attributes, so a
test (or a reader of the DOM) can tell what was drawn. Text is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from html import escape

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
CATEGORY_COLORS = {"GPU nodes (on-demand)": "#d62728", "GPU nodes (spot)": "#2ca02c", "CPU nodes": "#1f77b4",
                   "EKS control plane": "#9467bd", "storage": "#8c564b", "network": "#7f7f7f",
                   "encryption keys": "#bcbd22"}


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    mag = 10 ** len(str(int(v))) / 10 if v >= 1 else 1.0
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * mag:
            return m * mag
    return v


def _hhmm(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%H:%M")


PHASE_FILLS = ("#efeafc", "#e6f1fb", "#e8f6ea", "#fdf3dc", "#fbe7e6")
MARKER_COLORS = {"drill": "#c62828", "interruption": "#ef6c00", "change": "#6a1b9a"}
CHAR_W = 6.2      # px per character of the 10 px tick font (a generous average, so labels are not clipped)


def _text_w(text: str) -> float:
    return len(text) * CHAR_W


def line_chart(series: Sequence[tuple[str, Sequence[tuple[float, float]]]], *, title: str, y_label: str,
               y_fmt: Callable[[float], str], x_range: tuple[float, float] | None = None, y_max: float | None = None,
               width: int = 560, height: int = 200, chart_id: str = "", step: bool = False,
               colors: Sequence[str] | None = None, bands: Sequence[tuple[float, float, str]] = (),
               markers: Sequence[tuple[float, str, str]] = (), hlines: Sequence[tuple[float, str]] = (),
               hline_scale: float | None = None) -> str:
    """Time series (x in epoch seconds) as polylines on shared axes; UTC HH:MM ticks.

    ``colors``: one per series (a team keeps its colour on every chart); ``bands``: (x0, x1, label)
    shaded behind the plot (the lesson's phases); ``markers``: (x, label, kind) vertical lines
    (drill, interruption, change); ``hlines``: (y, label) horizontal lines such as a budget, which
    the y axis reaches, unless one lies more than ``hline_scale`` times above the data: then the
    axis keeps the data readable and the line is named at the top, off scale. Margins are sized
    from the labels, so none is clipped."""
    xs = [x for _, pts in series for x, _ in pts]
    data_top = max((y for _, pts in series for _, y in pts), default=0.0)
    off = [(y, label) for y, label in hlines if hline_scale and data_top > 0 and y > data_top * hline_scale]
    hlines = [h for h in hlines if h not in off]
    ys = [y for _, pts in series for _, y in pts] + [y for y, _ in hlines]
    x0, x1 = x_range if x_range else ((min(xs), max(xs)) if xs else (0.0, 1.0))
    if x1 <= x0:
        x1 = x0 + 60
    top_y = y_max if y_max is not None else _nice_max(max(ys) if ys else 0.0)
    y_ticks = [top_y * i / 4 for i in range(5)]
    left = int(24 + max(_text_w(y_fmt(v)) for v in y_ticks))
    right, top, bottom = 30, 34 if bands else 22, 28
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (min(max(x, x0), x1) - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + ph - (min(y, top_y) / top_y) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" data-chart="{escape(chart_id)}">',
           f"<title>{escape(title)}</title>",
           f'<text x="{left}" y="14" class="ct">{escape(title)}</text>']
    for i, (b0, b1, label) in enumerate(bands):
        if b1 <= x0 or b0 >= x1:
            continue
        bx0, bx1 = sx(b0), sx(b1)
        out.append(f'<rect class="phase" data-phase="{escape(label)}" x="{bx0:.1f}" y="{top - 12}" width="{bx1 - bx0:.1f}" '
                   f'height="{ph + 12}" fill="{PHASE_FILLS[i % len(PHASE_FILLS)]}"><title>{escape(label)}</title></rect>')
        if bx1 - bx0 >= _text_w(label) * 0.9 + 4:
            out.append(f'<text x="{(bx0 + bx1) / 2:.1f}" y="{top - 3}" class="ph" text-anchor="middle">{escape(label)}</text>')
    for yv in y_ticks:
        y = sy(yv)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{left - 4}" y="{y + 3:.1f}" class="tk" text-anchor="end">{escape(y_fmt(yv))}</text>')
    for i in range(5):
        xv = x0 + (x1 - x0) * i / 4
        out.append(f'<text x="{sx(xv):.1f}" y="{height - 10}" class="tk" text-anchor="middle">{_hhmm(xv)}</text>')
    out.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" class="axis"/>')
    out.append(f'<text x="10" y="{top + ph / 2:.0f}" class="tk" transform="rotate(-90 10 {top + ph / 2:.0f})" '
               f'text-anchor="middle">{escape(y_label)}</text>')
    if not xs:
        out.append(f'<text x="{left + pw / 2}" y="{top + ph / 2}" class="empty" text-anchor="middle">no data</text>')
    for yv, label in hlines:
        y = sy(yv)
        out.append(f'<line class="hline" data-line="{escape(label)}" x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                   f'stroke="#000" stroke-width="1.2" stroke-dasharray="6 3"><title>{escape(label)}</title></line>')
        out.append(f'<text x="{left + pw - 2}" y="{y - 3:.1f}" class="tk" text-anchor="end">{escape(label)}</text>')
    for i, (_yv, label) in enumerate(off):
        # top left: a cumulative series starts at the bottom left, so the corner above it is free
        out.append(f'<text class="hline-off" data-line="{escape(label)}" x="{left + 4}" y="{top + 10 + 12 * i}" '
                   f'font-size="10" fill="#000">\u25b2 {escape(label)}, above this scale</text>')
    for xv, label, kind in markers:
        if not x0 <= xv <= x1:
            continue
        x = sx(xv)
        color = MARKER_COLORS.get(kind, "#444")
        out.append(f'<line class="marker" data-marker="{escape(kind)}" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" '
                   f'stroke="{color}" stroke-width="1.4" stroke-dasharray="3 2"><title>{escape(label)}</title></line>')
        out.append(f'<path d="M{x - 4:.1f},{top} L{x + 4:.1f},{top} L{x:.1f},{top + 6}Z" fill="{color}">'
                   f"<title>{escape(label)}</title></path>")
    for i, (name, pts) in enumerate(series):
        if not pts:
            continue
        coords = []
        prev_y = None
        for x, y in pts:
            if step and prev_y is not None:
                coords.append(f"{sx(x):.1f},{sy(prev_y):.1f}")
            coords.append(f"{sx(x):.1f},{sy(y):.1f}")
            prev_y = y
        color = colors[i] if colors else PALETTE[i % len(PALETTE)]
        dash = ' stroke-dasharray="5 3"' if not colors and (i // len(PALETTE)) % 2 else ""
        out.append(f'<polyline class="series" data-series="{escape(name)}" data-points="{len(pts)}" fill="none" '
                   f'stroke="{color}" stroke-width="1.6"{dash} points="{" ".join(coords)}"><title>{escape(name)}</title>'
                   f"</polyline>")
    out.append("</svg>")
    return "".join(out)


def team_colors(names: Sequence[str]) -> dict[str, str]:
    """One colour per team, the same on every chart of the page (by sorted name)."""
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(sorted(names))}


def marker_legend() -> str:
    items = []
    for kind, color in MARKER_COLORS.items():
        items.append(f'<span class="lg"><svg xmlns="http://www.w3.org/2000/svg" width="18" height="10" aria-hidden="true">'
                     f'<line x1="9" y1="0" x2="9" y2="10" stroke="{color}" stroke-width="2" stroke-dasharray="3 2"/></svg>'
                     f"{escape(kind)}</span>")
    items.append('<span class="lg"><svg xmlns="http://www.w3.org/2000/svg" width="18" height="8" aria-hidden="true">'
                 '<line x1="0" y1="4" x2="18" y2="4" stroke="#000" stroke-width="1.2" stroke-dasharray="6 3"/></svg>'
                 "budget</span>")
    return '<div class="legend">' + "".join(items) + "</div>"


def legend(names: Sequence[str], colors: dict[str, str] | None = None) -> str:
    items = []
    for i, n in enumerate(names):
        color = colors[n] if colors else PALETTE[i % len(PALETTE)]
        dash = ' stroke-dasharray="5 3"' if not colors and (i // len(PALETTE)) % 2 else ""
        items.append(f'<span class="lg"><svg xmlns="http://www.w3.org/2000/svg" width="18" height="8" aria-hidden="true">'
                     f'<line x1="0" y1="4" x2="18" y2="4" stroke="{color}" stroke-width="2"{dash}/></svg>{escape(n)}</span>')
    return '<div class="legend">' + "".join(items) + "</div>"


def stacked_bars(rows: Sequence[tuple[str, Sequence[tuple[str, float]]]], *, title: str, fmt: Callable[[float], str],
                 width: int = 560, bar_h: int = 16, chart_id: str = "",
                 markers: Sequence[float | None] | None = None, marker_label: str = "",
                 label_colors: dict[str, str] | None = None) -> str:
    """Horizontal stacked bars (one row per label); ``markers`` draws a tick per row (e.g. the budget);
    ``label_colors`` puts a swatch of the row's colour (its team's) before the label."""
    left = int(22 + max([_text_w(label) for label, _ in rows] + [60]))
    right, top = int(12 + max([_text_w(fmt(sum(v for _, v in parts))) for _, parts in rows] + [40])), 22
    height = top + len(rows) * (bar_h + 6) + 10
    pw = width - left - right
    totals = [sum(v for _, v in parts) for _, parts in rows]
    top_v = _nice_max(max(totals + [m for m in (markers or []) if m is not None] + [0.0]))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" data-chart="{escape(chart_id)}">',
           f"<title>{escape(title)}</title>", f'<text x="{left}" y="14" class="ct">{escape(title)}</text>']
    for r, (label, parts) in enumerate(rows):
        y = top + r * (bar_h + 6)
        out.append(f'<text x="{left - 6}" y="{y + bar_h - 4}" class="tk" text-anchor="end">{escape(label)}</text>')
        if label_colors and label in label_colors:
            out.append(f'<rect class="swatch" x="{left - 18 - _text_w(label):.1f}" y="{y + 3}" width="10" height="10" '
                       f'fill="{label_colors[label]}"/>')
        x = float(left)
        for name, v in parts:
            w = v / top_v * pw
            if w <= 0:
                continue
            color = CATEGORY_COLORS.get(name, PALETTE[hash(name) % len(PALETTE)])
            out.append(f'<rect class="bar" data-series="{escape(name)}" data-value="{v:.6f}" x="{x:.1f}" y="{y}" '
                       f'width="{w:.1f}" height="{bar_h}" fill="{color}"><title>{escape(label)}: {escape(name)} '
                       f"{escape(fmt(v))}</title></rect>")
            x += w
        out.append(f'<text x="{x + 4:.1f}" y="{y + bar_h - 4}" class="tk">{escape(fmt(totals[r]))}</text>')
        if markers and markers[r] is not None:
            mx = left + (markers[r] or 0) / top_v * pw
            out.append(f'<line class="marker" x1="{mx:.1f}" y1="{y - 2}" x2="{mx:.1f}" y2="{y + bar_h + 2}" '
                       f'stroke="#000" stroke-width="2"><title>{escape(marker_label)} {escape(fmt(markers[r] or 0))}</title></line>')
    out.append("</svg>")
    return "".join(out)
