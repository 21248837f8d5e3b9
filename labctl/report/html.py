"""The debrief page: one self-contained HTML file rendered from the debrief dict (report.model).

Self-contained means: inline CSS, charts as inline SVG, no script, no external URL anywhere; a
Content-Security-Policy of ``default-src 'none'`` makes the browser refuse any request the page
might still try, so it can be viewed offline and leaks nothing. Every figure shows its basis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any

from labctl.report import svg
from labctl.report.model import CATEGORIES

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;background:#f6f7f9}
header{background:#13294b;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:2px 0;opacity:.9}main{padding:12px 28px 40px;max-width:1240px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:14px 18px;margin:14px 0}
h2{font-size:18px;margin:2px 0 10px}h3{font-size:16px;margin:0 0 8px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{padding:4px 8px;border-bottom:1px solid #eceef1;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.b{display:inline-block;font-size:10.5px;padding:0 5px;border-radius:8px;margin-left:4px;vertical-align:1px;border:1px solid}
.b-simulated{color:#7a4b00;border-color:#e0b860;background:#fff6e0}.b-metered{color:#0b5394;border-color:#8fb5de;background:#eaf2fb}
.b-billed{color:#1b5e20;border-color:#8cc490;background:#e9f6ea}.b-configured,.b-none{color:#555;border-color:#bbb;background:#f4f4f4}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(540px,1fr));gap:8px}
.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:6px;margin:6px 0 10px}
.fig{border:1px solid #e3e6ea;border-radius:6px;padding:6px 8px;background:#fbfcfd}.fig .k{font-size:11.5px;color:#555}
.fig .v{font-size:17px;font-weight:600}.fig .h{font-size:10.5px;color:#777;overflow-wrap:anywhere}
svg.chart{max-width:100%;height:auto;background:#fff}svg .grid{stroke:#eceef1}svg .axis{stroke:#999}
svg .tk{font-size:10px;fill:#555}svg .ph{font-size:10px;fill:#333;font-weight:600}
svg .ct{font-size:12px;font-weight:600;fill:#222}svg .empty{font-size:12px;fill:#999}
.legend{font-size:11px;display:flex;flex-wrap:wrap;gap:4px 12px;margin:4px 0 8px}.lg svg{margin-right:4px}
.ok{color:#1b7f2a;font-weight:600}.no{color:#b3261e;font-weight:600}.na{color:#888}
.warn{color:#8a5a00}p.why{color:#8a5a00;font-weight:600}.muted{color:#666;font-size:12px}details summary{cursor:pointer;font-weight:600}
tr.top td{background:#f2fbf3}tr.unranked td{color:#555}
ul.takeaways li{margin:4px 0}td.why{font-size:12px;color:#8a5a00}
"""


def _badge(basis: str | None) -> str:
    basis = basis or "none"
    cls = basis.split(" ")[0] if basis.split(" ")[0] in ("simulated", "metered", "billed", "configured") else "none"
    return f'<span class="b b-{cls}" title="basis of this figure">{escape(basis)}</span>'


def _usd(v: str | None, places: int = 2) -> str:
    if v is None:
        return "none"
    return f"${Decimal(v):,.{places}f}"


def _pct(v: str | None, scale: int = 100) -> str:
    return "n/a" if v is None else f"{Decimal(v) * scale:.1f}%"


def _fmt(fig: Mapping[str, Any]) -> str:
    v, unit = fig["value"], fig["unit"]
    if v is None:
        return "none" if unit == "USD" else "n/a"
    if unit == "USD":
        return _usd(v)
    if unit == "ratio":
        return _pct(v)
    if unit == "%":
        return f"{Decimal(v):.1f}%"
    if unit == "h":
        return f"{Decimal(v):.2f} h"
    return f"{v} {unit[:-1] if v == 1 and unit.endswith('s') else unit}"


def _estimated(fig: Mapping[str, Any]) -> str:
    """Cost Explorer's own flag on a billed figure: the month is not closed, the amount may change."""
    if not fig.get("estimated"):
        return ""
    return ' <span class="warn" title="Cost Explorer marks this amount estimated">estimated</span>'


def _figure(label: str, fig: Mapping[str, Any], key: str) -> str:
    return (f'<div class="fig" data-figure="{escape(key)}"><div class="k">{escape(label)}{_badge(fig["basis"])}'
            f'{_estimated(fig)}</div>'
            f'<div class="v">{escape(_fmt(fig))}</div><div class="h">{escape(fig["how"])}</div></div>')


def _tick_usd(v: float) -> str:
    return "$" + f"{v:,.2f}".rstrip("0").rstrip(".")


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _check(passed: bool | None) -> str:
    if passed is None:
        return '<span class="na">n/a</span>'
    return '<span class="ok">yes</span>' if passed else '<span class="no">no</span>'


def _effect(figure: str, v: Any) -> str:
    """An effect figure with its unit: money as $x.xx, ratios as percent."""
    if v is None:
        return "–"
    if figure.endswith("_usd"):
        return f"${Decimal(str(v)).quantize(Decimal('0.01')):,}"
    if figure in ("gpu_efficiency", "spot_share_of_gpu_hours"):
        return f"{Decimal(str(v)) * 100:.1f}%"
    return _val(v)


def _val(v: Any) -> str:
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return "–" if v is None else str(v)


# Short names of the DCGM fields, so a chart title fits its chart with a 20-character team name.
_METRIC = {"DCGM_FI_PROF_GR_ENGINE_ACTIVE": "DCGM engine active", "DCGM_FI_DEV_GPU_UTIL": "DCGM GPU_UTIL"}

TEAM_FIGURES = (
    ("cost so far", "cost_usd"), ("budget", "budget_usd"), ("budget used", "budget_used_pct"),
    ("completed training runs", "completed_runs"), ("cost per completed run", "cost_per_completed_run_usd"),
    ("GPU efficiency", "gpu_efficiency"), ("idle GPU cost", "idle_gpu_cost_usd"), ("GPU node cost", "gpu_cost_usd"),
    ("GPU node-hours", "gpu_node_hours"), ("spot share of GPU hours", "spot_share_of_gpu_hours"),
    ("spot savings", "spot_savings_usd"), ("spot savings %", "spot_savings_pct"),
    ("GPU efficiency of requested GPUs", "gpu_efficiency_of_requested"),
    ("interruptions", "interruptions"), ("of them drills", "interruption_drills"),
    ("interruptions survived", "interruptions_survived"), ("restarts resumed from a checkpoint", "resumed_from_checkpoint"),
    ("cost of interruptions (time lost)", "interruption_cost_usd"), ("work kept by checkpoints", "checkpoint_saved_usd"),
    ("GPU time spent saving checkpoints", "checkpoint_save_cost_usd"),
    ("pod evictions", "evictions"), ("job progress", "job_progress"),
    ("billed cost (Cost Explorer)", "billed_cost_usd"), ("billed - metered", "billed_minus_metered_usd"),
)


def _billed_section(b: Mapping[str, Any]) -> str:
    """Metered beside billed per team, or the one line saying why billed figures are absent."""
    if not b["included"]:
        return f'<section id="billed"><h2>Billed figures</h2><p class="muted">{escape(b["reason"])}.</p></section>'
    rows = "".join(
        f'<tr data-team="{escape(r["team"])}"><td>{escape(r["team"])}</td>'
        f'<td class="n">{_usd(r["metered_usd"])}{_badge(r["metered_basis"])}</td>'
        f'<td class="n">{_usd(r["billed_usd"])}{_badge(r["basis"])}{_estimated(r)}</td>'
        f'<td class="n">{_usd(r["difference_usd"])}{_badge(r["basis"])}</td></tr>' for r in b["teams"])
    period = b["period"]
    span = f"{period['start']} to {period['end_exclusive']} (end exclusive)" if period else "the cohort's window"
    return ('<section id="billed"><h2>Metered and billed, per team</h2>'
            f'<p class="muted">Billed: {escape(b["source"])}, {escape(span)}. The bill lags metering by hours to a day '
            "and holds charges labctl does not meter, so a difference is expected; the two are never added up.</p>"
            "<table><thead><tr><th>team</th><th>metered (ledger)</th><th>billed</th><th>billed - metered</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>")


def _swatch(color: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="11" height="11" aria-hidden="true" '
            f'style="margin-right:5px;vertical-align:-1px"><rect width="11" height="11" fill="{color}"/></svg>')


def _hm(iso: str | None) -> str:
    return "–" if iso is None else iso[11:16]


def _lesson_section(d: Mapping[str, Any], lesson: Mapping[str, Any]) -> str:
    """The lesson plan's phases over the class, the drills and changes in it, and the lab's takeaways."""
    rows = "".join(f'<tr data-phase="{escape(p["phase"])}"><td>{escape(p["phase"])}</td>'
                   f'<td>{_hm(p["start"])}–{_hm(p["end"])}</td><td class="n">{p["planned_minutes"]}</td>'
                   f'<td>{escape(p["what"])}</td></tr>'
                   for p in lesson["phases"])
    marks = "".join(f'<li data-marker="{escape(m["kind"])}">{_hm(m["at"])} {escape(m["label"])}</li>'
                    for m in lesson["markers"] if m["kind"] != "interruption")
    table = ("<table><thead><tr><th>phase</th><th>UTC</th><th>planned min</th><th>what happens</th></tr></thead>"
             f"<tbody>{rows}</tbody></table>" if rows else '<p class="muted">No session window: no phases to show.</p>')
    take = "".join(f"<li>{escape(x)}</li>" for x in lesson["takeaways"])
    return (f'<section id="lesson"><h2>The lesson: phases, drills and changes</h2><p class="muted">'
            f'{escape(lesson.get("phases_source", ""))}; laid over the window in proportion.</p>{table}'
            + (f"<h3>Drills and applied changes</h3><ul>{marks}</ul>" if marks else "")
            + "</section>"
            + f'<section id="takeaways"><h2>Takeaways: lab {escape(d["lab"])}</h2>'
            + (f'<p class="muted">What to look for, from {escape(lesson.get("takeaways_source", ""))}.</p>'
               f'<ul class="takeaways">{take}</ul>' if take else
               f'<p class="muted">labs/{escape(d["lab"])}/README.md has no "What to look for in the debrief" section.</p>')
            + "</section>")


def _choices_table(t: Mapping[str, Any]) -> str:
    rows = []
    for c in t["choices"]:
        e = c["effect"]
        if not e.get("credited", True):
            effect = f'<span class="na">{escape(e["note"])}</span>'
        elif e.get("same_as"):
            effect = f'<span class="muted">counted with {escape(e["same_as"])} (shown once)</span>'
        else:
            effect = (f"{escape(e['label'])}: {escape(_effect(e['figure'], e['team']))}{_badge(e['basis'])}"
                      + (f" <span class=\"muted\">vs {escape(_effect(e['figure'], e['baseline']))} for baseline team "
                         f"{escape(e['baseline_team'])}</span>" if e['baseline_team'] else
                         ' <span class="muted">(no team ran the baseline)</span>'))
        rows.append(f'<tr data-knob="{escape(c["knob"])}"><td>{escape(c["knob"])}</td><td>{escape(c["lever"])}</td>'
                    f"<td>{escape(_val(c['lab_baseline']))}</td><td>{escape(_val(c['team']))}</td><td>{effect}</td></tr>")
    return ("<table><thead><tr><th>knob</th><th>lever</th><th>lab baseline</th><th>team</th><th>effect</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _knobs_in_force(t: Mapping[str, Any]) -> str:
    rows = []
    for k in t["knobs_in_force"]:
        ch = "; ".join(f"{c['knob']} = {_val(c['team'])}" for c in k["changes"]) or "the lab as it is"
        rows.append(f'<tr><td>{_hm(k["from"])}–{_hm(k["to"])}</td><td>{escape(k["source"])}</td><td>{escape(ch)}</td>'
                    f'<td class="n">{_usd(k["cost_usd"])}{_badge(k["basis"])}</td>'
                    f'<td class="n">{_pct(k["gpu_efficiency"])}</td></tr>')
    return ("<table><thead><tr><th>UTC</th><th>from</th><th>knobs that differ from the lab</th><th>cost</th>"
            f"<th>GPU efficiency</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _interruption_table(t: Mapping[str, Any]) -> str:
    log = t.get("interruption_log") or []
    if not log:
        return ""
    rows = "".join(f'<tr><td>{_hm(x["at"])}</td><td>{escape(x["job"])}</td><td>{escape(str(x["reason"]))}</td>'
                   f'<td class="n">{x["resume_from_step"]}</td><td class="n">{x["lost_steps"]}</td>'
                   f'<td class="n">{x["lost_gpu_hours"]}</td><td class="n">{_val(x.get("waited_minutes"))}</td>'
                   f'<td class="n">{x["kept_gpu_hours"]}</td></tr>' for x in log)
    return ("<h3>Interruptions: what they cost and what checkpoints kept</h3>"
            f'<p class="muted">Cost of the interruptions (work redone and the wait for a new node): '
            f'{_usd(t["interruption_cost_usd"]["value"])}; work kept by checkpoints: '
            f'{_usd(t["checkpoint_saved_usd"]["value"])}; GPU time spent saving checkpoints: '
            f'{_usd(t["checkpoint_save_cost_usd"]["value"])} (at the team\'s GPU cost per GPU-hour).</p>'
            "<table><thead><tr><th>UTC</th><th>job</th><th>reason</th><th>resumed from step</th><th>steps lost</th>"
            "<th>GPU-h redone</th><th>min until it ran again</th><th>GPU-h kept</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


@dataclass(frozen=True)
class _Timeline:
    """What every time chart shares: the window's x range, the lesson's phases as shaded bands, and
    the lesson's markers (drills, applied knob changes, interruptions)."""

    x_range: tuple[float, float] | None
    bands: list[tuple[float, float, str]]
    markers: list[Mapping[str, Any]]

    def markers_for(self, team: str | None) -> list[tuple[float, str, str]]:
        """The cohort chart's markers (``team`` None: all but interruptions), else one team's."""
        return [(_ts(m["at"]), m["label"], m["kind"]) for m in self.markers
                if team is None and m["kind"] != "interruption"
                or team is not None and (m.get("team") == team or team in m.get("teams", ()))]


def render(d: Mapping[str, Any]) -> str:
    names = [row["team"] for row in d["leaderboard"]]
    colors = svg.team_colors(list(d["teams"]))
    x_range = None
    if d["window"]["start"] and d["window"]["end"]:
        x_range = (_ts(d["window"]["start"]), min(_ts(d["window"]["end"]), _ts(d["as_of"])))
    lesson = d.get("lesson") or {"phases": [], "markers": [], "takeaways": []}
    timeline = _Timeline(x_range, [(_ts(p["start"]), _ts(p["end"]), p["phase"]) for p in lesson["phases"]],
                         lesson["markers"])
    return "".join([
        _page_head(d),
        _totals_section(d["totals"]),
        _leaderboard_section(d["leaderboard"], colors),
        _lesson_section(d, lesson),
        _cohort_charts_section(d, names, colors, timeline),
        _billed_section(d["billed"]),
        *(_team_section(n, d["teams"][n], colors, timeline) for n in names),
        _method_section(d),
    ])


def _page_head(d: Mapping[str, Any]) -> str:
    """The document's head (CSP, style) and the page header: cohort, lab, window, what the bases mean."""
    return "".join([
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="data:,">',
        f"<title>Debrief {escape(d['cohort'])}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>Debrief: cohort {escape(d['cohort'])}</h1>",
        f"<p>Lab {escape(d['lab'])} · window {escape(str(d['window']['start']))} → {escape(str(d['window']['end']))}"
        f" · figures as of {escape(str(d['as_of']))}</p>",
        f"<p>Costs are {escape(d['provenance']['cost_basis'])} "
        f"(sources: {escape(', '.join(d['provenance']['sources']) or 'none')})."
        " Each figure below is labelled: <b>simulated</b> = written by the simulated class, priced by labctl's ledger;"
        " <b>metered</b> = collected from AWS/cluster/DCGM, priced by labctl; <b>billed</b> = from the provider's bill.</p>",
        "</header><main>",
    ])


def _totals_section(tot: Mapping[str, Any]) -> str:
    return ('<section id="totals"><h2>Cohort</h2><div class="figs">'
            + _figure("total cost", tot["cost_usd"], "totals.cost_usd")
            + _figure("idle GPU cost", tot["idle_gpu_cost_usd"], "totals.idle_gpu_cost_usd")
            + _figure("spot savings", tot["spot_savings_usd"], "totals.spot_savings_usd")
            + _figure("completed runs", tot["completed_runs"], "totals.completed_runs")
            + (_figure("billed cost (Cost Explorer)", tot["billed_cost_usd"], "totals.billed_cost_usd")
               if "billed_cost_usd" in tot else "") + "</div></section>")


def _leaderboard_section(board: list[Mapping[str, Any]], colors: Mapping[str, str]) -> str:
    """Teams ranked by cost per completed run; under an unranked team, why it has no completed run."""
    rows = []
    for r in board:
        cls = "top" if r["rank"] == 1 else ("unranked" if r["rank"] is None else "")
        rows.append(f'<tr class="{cls}" data-team="{escape(r["team"])}"><td class="n">{r["rank"] or "–"}</td>'
                    f'<td>{_swatch(colors[r["team"]])}<a href="#team-{escape(r["team"])}">{escape(r["team"])}</a></td>'
                    f'<td class="n">{_usd(r["cost_per_completed_run_usd"])}</td><td class="n">{r["completed_runs"]}</td>'
                    f'<td class="n">{_usd(r["cost_usd"])}</td><td class="n">{_pct(r["gpu_efficiency"])}</td>'
                    f'<td class="n">{_usd(r["idle_gpu_cost_usd"])}</td><td class="n">{_usd(r["spot_savings_usd"])}</td>'
                    f'<td class="n">{"n/a" if r["budget_used_pct"] is None else r["budget_used_pct"] + "%"}</td>'
                    f"<td>{_badge(r['basis'])}</td></tr>")
        if r["rank"] is None:
            rows.append(f'<tr class="unranked" data-why="{escape(r["team"])}"><td></td><td class="why" colspan="9">'
                        f'No completed run, so not ranked: {escape(r["why_no_completed_run"] or "no reason recorded")}'
                        "</td></tr>")
    return ('<section id="leaderboard"><h2>Leaderboard</h2><p class="muted">Ranked by cost per completed training run '
            "(lowest first); a team without a completed run is not ranked (the line under it says why) and follows, "
            "by total cost. Every amount is a sum of ledger entries.</p>"
            '<table><thead><tr><th>#</th><th>team</th><th>cost / completed run</th><th>runs</th>'
            "<th>cost</th><th>GPU efficiency</th><th>idle GPU cost</th><th>spot savings</th><th>budget used</th>"
            "<th>basis</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>")


def _cohort_charts_section(d: Mapping[str, Any], names: list[str], colors: Mapping[str, str],
                           timeline: _Timeline) -> str:
    """All teams' cumulative cost over the class (budgets as lines), and their cost by resource."""
    teams = d["teams"]
    cost_series = [(n, [(_ts(t), v / 1e6) for t, v in teams[n]["series"]["cost_cumulative_micro_usd"]["points"]])
                   for n in names]
    budget_rows = [(n, [(c, float(Decimal(teams[n]["cost_by_resource_usd"][c]))) for c in CATEGORIES]) for n in names]
    markers = [float(Decimal(teams[n]["budget_usd"]["value"])) if teams[n]["budget_usd"]["value"] else None
               for n in names]
    hlines = _budget_lines(names, markers)
    return ('<section id="cohort-charts"><h2>Cost over time and by resource, all teams'
            + _badge(d["provenance"]["cost_basis"]) + "</h2>"
            + '<p class="muted">Shaded: the lesson\'s phases. Markers: the facilitator\'s drills and the knob '
            "changes teams applied (their own charts also mark the interruptions they met).</p>"
            + svg.line_chart(cost_series, title="Cumulative cost per team (USD)", y_label="USD",
                             y_fmt=_tick_usd, x_range=timeline.x_range, width=1100, height=320,
                             chart_id="cohort-cost", colors=[colors[n] for n in names], bands=timeline.bands,
                             markers=timeline.markers_for(None), hlines=hlines)
            + svg.legend(names, colors) + svg.marker_legend()
            + svg.stacked_bars(budget_rows, title="Cost by resource per team; black tick = budget",
                               fmt=lambda v: f"${v:,.2f}", width=1100, chart_id="cohort-cost-by-resource",
                               markers=markers, marker_label="budget", label_colors=colors)
            + '<div class="legend">' + "".join(
                f'<span class="lg"><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" aria-hidden="true">'
                f'<rect width="10" height="10" fill="{svg.CATEGORY_COLORS[c]}"/></svg>{escape(c)}</span>'
                for c in CATEGORIES) + "</div></section>")


def _budget_lines(names: list[str], budgets: list[float | None]) -> list[tuple[float, str]]:
    """One line per distinct budget: "budget $40 per team" when all share it, else the teams that have it."""
    distinct = sorted({b for b in budgets if b is not None})
    lines = []
    for b in distinct:
        amount = "budget $" + f"{b:,.2f}".rstrip("0").rstrip(".")
        if len(distinct) > 1:
            lines.append((b, amount + " (" + ", ".join(n for n, m in zip(names, budgets, strict=True) if m == b) + ")"))
        else:
            lines.append((b, amount + " per team"))
    return lines


def _team_charts(n: str, t: Mapping[str, Any], colors: Mapping[str, str], timeline: _Timeline) -> str:
    """A team's cumulative cost (budget as a line) and GPU utilisation over the class, then its cost by resource."""
    cost_pts = [(_ts(ts), v / 1e6) for ts, v in t["series"]["cost_cumulative_micro_usd"]["points"]]
    util = t["series"]["gpu_utilisation"]
    util_pts = [(_ts(ts), v * 100) for ts, v in util["points"]]
    budget = float(Decimal(t["budget_usd"]["value"])) if t["budget_usd"]["value"] else None
    team_marks = timeline.markers_for(n)
    charts = (svg.line_chart([("cumulative cost", cost_pts)], title=f"{n}: cumulative cost (USD)", y_label="USD",
                             y_fmt=_tick_usd, x_range=timeline.x_range, chart_id=f"{n}-cost", colors=[colors[n]],
                             bands=timeline.bands, markers=team_marks,
                             hlines=[(budget, f"budget ${budget:,.0f}")] if budget is not None else (),
                             hline_scale=4)
              + svg.line_chart([("GPU utilisation", util_pts)],
                               title=f"{n}: GPU utilisation (%), {_METRIC.get(util['metric'], 'no DCGM data')}",
                               y_label="%", y_fmt=lambda v: f"{v:.0f}%", y_max=100, x_range=timeline.x_range,
                               chart_id=f"{n}-gpu-util", colors=[colors[n]], bands=timeline.bands, markers=team_marks))
    bars = svg.stacked_bars([(n, [(c, float(Decimal(t["cost_by_resource_usd"][c]))) for c in CATEGORIES])],
                            title=f"{n}: cost by resource", fmt=lambda v: f"${v:,.2f}", chart_id=f"{n}-cost-by-resource",
                            markers=[budget], marker_label="budget", label_colors=colors)
    return f'<div class="grid2">{charts}</div>{bars}'


def _scorecard_table(t: Mapping[str, Any]) -> str:
    """The measurable checks of the lesson plan's rubric, and what labctl cannot measure of each criterion."""
    sc_rows = []
    for crit, label in (("comprehensiveness", "Comprehensiveness"), ("feasibility", "Feasibility"),
                        ("finops_alignment", "FinOps alignment")):
        s = t["scorecard"][crit]
        checks = "; ".join(f"{escape(c['check'])}: {_check(c['passed'])}" for c in s["checks"])
        sc_rows.append(f'<tr data-criterion="{crit}"><td>{label}</td><td class="n">{s["passed"]}/{s["measurable"]}</td>'
                       f'<td>{checks}</td><td class="muted">{escape(s["cannot_measure"])}</td></tr>')
    return ("<table><thead><tr><th>criterion</th><th>measured</th><th>checks</th><th>not measured by labctl</th>"
            f'</tr></thead><tbody>{"".join(sc_rows)}</tbody></table>')


def _team_section(n: str, t: Mapping[str, Any], colors: Mapping[str, str], timeline: _Timeline) -> str:
    """One team: its figures, charts, knobs part by part, choices and their effect, scorecard, guardrail actions."""
    figs = "".join(_figure(label, t[key], key) for label, key in TEAM_FIGURES if key in t)
    choices = _choices_table(t) if t["choices"] else (
        '<p class="muted">Kept the lab baseline all class: no knob differed from the lab, in the cohort file or in '
        "any `team apply`.</p>")
    why = (f'<p class="why">No completed training run: {escape(t["why_no_completed_run"])}.</p>'
           if t.get("why_no_completed_run") else "")
    guard = "".join(f"<li>{escape(a['at'])}: {escape(a['kind'])} {escape(a['entity'])}</li>"
                    for a in t["guardrail_actions"])
    return (f'<section id="team-{escape(n)}" class="team" data-team="{escape(n)}"><h2>{_swatch(colors[n])}{escape(n)}'
            + (' <span class="no">over budget</span>' if t["within_budget"] is False else "")
            + (' <span class="muted">(lab baseline)</span>' if t["baseline_team"] else "") + "</h2>"
            + f'{why}<div class="figs">{figs}</div>{_team_charts(n, t, colors, timeline)}'
            + f"<h3>Knobs in force, part by part</h3>{_knobs_in_force(t)}"
            + f"<h3>Choices and their effect</h3>{choices}{_interruption_table(t)}"
            + "<h3>Scorecard (what a tool can measure of the lesson plan's rubric)</h3>"
            + _scorecard_table(t)
            + (f"<h3>Guardrail actions</h3><ul>{guard}</ul>" if guard else "") + "</section>")


def _method_section(d: Mapping[str, Any]) -> str:
    """How the figures are made, the ledger's warnings and the notes; closes the page."""
    warn = "".join(f"<li>{escape(w['team'])}/{escape(w['resource_id'])}: {escape(w['message'])}</li>"
                   for w in d["warnings"])
    notes = "".join(f"<li>{escape(x)}</li>" for x in d["notes"])
    th = d["rubric"]["thresholds"]
    return (
        '<section id="method"><h2>How these figures are made</h2><ul>'
        "<li>Costs: every lifecycle record (instance, cluster, volume, bucket...) priced from labctl's catalog, cut into "
        "minutes in integer micro-dollars (the ledger); the FOCUS 1.2 export (focus.csv) holds the same ledger by hour.</li>"
        f"<li>Allocation: {escape(d['provenance']['allocation'])}.</li>"
        "<li>GPU efficiency: GPU-hours computing (DCGM engine active x GPUs) / GPU-hours of the team's GPU nodes in "
        "the ledger, so GPUs nobody used count against it; the efficiency of requested GPUs (OpenCost: used / requested "
        "by the pods) is shown beside it.</li>"
        "<li>Interruptions: the work a restart redid and the work its checkpoint kept, in GPU time at the team's GPU "
        "cost per GPU-hour; the time spent saving checkpoints likewise.</li>"
        f"<li>Scorecard thresholds: GPU efficiency ≥ {escape(th['gpu_efficiency_min'])}; idle GPU cost ≤ "
        f"{escape(th['idle_gpu_share_max'])} of GPU cost. A check is n/a where its data is missing.</li>"
        + (f"<li>Billed figures: {escape(d['billed']['source'])}; labelled <b>billed</b>, beside the ledger's, never "
           "added to them.</li></ul>" if d["billed"]["included"] else
           f"<li>Not in this debrief: {escape(d['billed']['reason'])}.</li></ul>")
        + (f"<h3>Ledger warnings</h3><ul class=\"warn\">{warn}</ul>" if warn else "")
        + (f"<h3>Notes</h3><ul class=\"muted\">{notes}</ul>" if notes else "")
        + "</section></main></body></html>")
