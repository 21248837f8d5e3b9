"""The debrief page: one self-contained HTML file rendered from the debrief dict (report.model).

Self-contained means: inline CSS, charts as inline SVG, no script, no external URL anywhere; a
Content-Security-Policy of ``default-src 'none'`` makes the browser refuse any request the page
might still try, so it can be viewed offline and leaks nothing. Every figure shows its basis.
"""

from __future__ import annotations

from collections.abc import Mapping
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
.fig .v{font-size:17px;font-weight:600}.fig .h{font-size:10.5px;color:#777}
svg.chart{max-width:100%;height:auto;background:#fff}svg .grid{stroke:#eceef1}svg .axis{stroke:#999}
svg .tk{font-size:10px;fill:#555}svg .ct{font-size:12px;font-weight:600;fill:#222}svg .empty{font-size:12px;fill:#999}
.legend{font-size:11px;display:flex;flex-wrap:wrap;gap:4px 12px;margin:4px 0 8px}.lg svg{margin-right:4px}
.ok{color:#1b7f2a;font-weight:600}.no{color:#b3261e;font-weight:600}.na{color:#888}
.warn{color:#8a5a00}.muted{color:#666;font-size:12px}details summary{cursor:pointer;font-weight:600}
tr.top td{background:#f2fbf3}
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
    return ' <span class="warn" title="Cost Explorer marks this amount estimated">estimated</span>' if fig.get("estimated") else ""


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


TEAM_FIGURES = (
    ("cost so far", "cost_usd"), ("budget", "budget_usd"), ("budget used", "budget_used_pct"),
    ("completed training runs", "completed_runs"), ("cost per completed run", "cost_per_completed_run_usd"),
    ("GPU efficiency", "gpu_efficiency"), ("idle GPU cost", "idle_gpu_cost_usd"), ("GPU node cost", "gpu_cost_usd"),
    ("GPU node-hours", "gpu_node_hours"), ("spot share of GPU hours", "spot_share_of_gpu_hours"),
    ("spot savings", "spot_savings_usd"), ("spot savings %", "spot_savings_pct"),
    ("interruptions", "interruptions"), ("interruptions survived", "interruptions_survived"),
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


def render(d: Mapping[str, Any]) -> str:
    teams = d["teams"]
    names = [row["team"] for row in d["leaderboard"]]
    x_range = None
    if d["window"]["start"] and d["window"]["end"]:
        x_range = (_ts(d["window"]["start"]), min(_ts(d["window"]["end"]), _ts(d["as_of"])))
    parts: list[str] = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="data:,">',
        f"<title>Debrief {escape(d['cohort'])}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>Debrief: cohort {escape(d['cohort'])}</h1>",
        f"<p>Lab {escape(d['lab'])} · window {escape(str(d['window']['start']))} → {escape(str(d['window']['end']))}"
        f" · figures as of {escape(str(d['as_of']))}</p>",
        f"<p>Costs are {escape(d['provenance']['cost_basis'])} (sources: {escape(', '.join(d['provenance']['sources']) or 'none')})."
        " Each figure below is labelled: <b>simulated</b> = written by the simulated class, priced by labctl's ledger;"
        " <b>metered</b> = collected from AWS/cluster/DCGM, priced by labctl; <b>billed</b> = from the provider's bill.</p>",
        "</header><main>",
    ]
    tot = d["totals"]
    parts.append('<section id="totals"><h2>Cohort</h2><div class="figs">'
                 + _figure("total cost", tot["cost_usd"], "totals.cost_usd")
                 + _figure("idle GPU cost", tot["idle_gpu_cost_usd"], "totals.idle_gpu_cost_usd")
                 + _figure("spot savings", tot["spot_savings_usd"], "totals.spot_savings_usd")
                 + _figure("completed runs", tot["completed_runs"], "totals.completed_runs")
                 + (_figure("billed cost (Cost Explorer)", tot["billed_cost_usd"], "totals.billed_cost_usd")
                    if "billed_cost_usd" in tot else "") + "</div></section>")

    # leaderboard
    rows = []
    for r in d["leaderboard"]:
        rows.append(f'<tr class="{"top" if r["rank"] == 1 else ""}" data-team="{escape(r["team"])}"><td class="n">{r["rank"]}</td>'
                    f'<td><a href="#team-{escape(r["team"])}">{escape(r["team"])}</a></td>'
                    f'<td class="n">{_usd(r["cost_per_completed_run_usd"])}</td><td class="n">{r["completed_runs"]}</td>'
                    f'<td class="n">{_usd(r["cost_usd"])}</td><td class="n">{_pct(r["gpu_efficiency"])}</td>'
                    f'<td class="n">{_usd(r["idle_gpu_cost_usd"])}</td><td class="n">{_usd(r["spot_savings_usd"])}</td>'
                    f'<td class="n">{"n/a" if r["budget_used_pct"] is None else r["budget_used_pct"] + "%"}</td>'
                    f"<td>{_badge(r['basis'])}</td></tr>")
    parts.append('<section id="leaderboard"><h2>Leaderboard</h2><p class="muted">Ranked by cost per completed training run '
                 "(lowest first); teams without a completed run follow, by total cost. Every amount is a sum of ledger "
                 'entries.</p><table><thead><tr><th>#</th><th>team</th><th>cost / completed run</th><th>runs</th>'
                 "<th>cost</th><th>GPU efficiency</th><th>idle GPU cost</th><th>spot savings</th><th>budget used</th>"
                 "<th>basis</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>")

    # cohort charts
    cost_series = [(n, [(_ts(t), v / 1e6) for t, v in teams[n]["series"]["cost_cumulative_micro_usd"]["points"]])
                   for n in names]
    basis = d["provenance"]["cost_basis"]
    budget_rows = [(n, [(c, float(Decimal(teams[n]["cost_by_resource_usd"][c]))) for c in CATEGORIES]) for n in names]
    markers = [float(Decimal(teams[n]["budget_usd"]["value"])) if teams[n]["budget_usd"]["value"] else None for n in names]
    parts.append('<section id="cohort-charts"><h2>Cost over time and by resource, all teams' + _badge(basis) + "</h2>"
                 + svg.line_chart(cost_series, title="Cumulative cost per team (USD)", y_label="USD",
                                  y_fmt=_tick_usd, x_range=x_range, width=1100, height=300,
                                  chart_id="cohort-cost")
                 + svg.legend(names)
                 + svg.stacked_bars(budget_rows, title="Cost by resource per team; black tick = budget",
                                    fmt=lambda v: f"${v:,.2f}", width=1100, chart_id="cohort-cost-by-resource",
                                    markers=markers, marker_label="budget")
                 + '<div class="legend">' + "".join(
                     f'<span class="lg"><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" aria-hidden="true">'
                     f'<rect width="10" height="10" fill="{svg.CATEGORY_COLORS[c]}"/></svg>{escape(c)}</span>'
                     for c in CATEGORIES) + "</div></section>")

    parts.append(_billed_section(d["billed"]))

    for n in names:
        t = teams[n]
        figs = "".join(_figure(label, t[key], key) for label, key in TEAM_FIGURES if key in t)
        cost_pts = [(_ts(ts), v / 1e6) for ts, v in t["series"]["cost_cumulative_micro_usd"]["points"]]
        util = t["series"]["gpu_utilisation"]
        util_pts = [(_ts(ts), v * 100) for ts, v in util["points"]]
        charts = (svg.line_chart([("cumulative cost", cost_pts)], title=f"{n}: cumulative cost (USD)", y_label="USD",
                                 y_fmt=_tick_usd, x_range=x_range, chart_id=f"{n}-cost")
                  + svg.line_chart([("GPU utilisation", util_pts)],
                                   title=f"{n}: GPU utilisation (%) from {util['metric'] or 'no DCGM data'}",
                                   y_label="%", y_fmt=lambda v: f"{v:.0f}%", y_max=100, x_range=x_range,
                                   chart_id=f"{n}-gpu-util"))
        bars = svg.stacked_bars([(n, [(c, float(Decimal(t["cost_by_resource_usd"][c]))) for c in CATEGORIES])],
                                title=f"{n}: cost by resource", fmt=lambda v: f"${v:,.2f}", chart_id=f"{n}-cost-by-resource",
                                markers=[float(Decimal(t["budget_usd"]["value"])) if t["budget_usd"]["value"] else None],
                                marker_label="budget")
        if t["choices"]:
            ch_rows = "".join(
                f"<tr><td>{escape(c['knob'])}</td><td>{escape(c['lever'])}</td><td>{escape(_val(c['lab_baseline']))}</td>"
                f"<td>{escape(_val(c['team']))}</td><td>{escape(c['effect']['label'])}: "
                f"{escape(_effect(c['effect']['figure'], c['effect']['team']))}{_badge(c['effect']['basis'])}"
                + (f" <span class=\"muted\">vs {escape(_effect(c['effect']['figure'], c['effect']['baseline']))} for baseline team "
                   f"{escape(c['effect']['baseline_team'])}</span>" if c['effect']['baseline_team'] else
                   ' <span class="muted">(no team ran the baseline)</span>')
                + "</td></tr>" for c in t["choices"])
            choices = ("<table><thead><tr><th>knob</th><th>lever</th><th>lab baseline</th><th>team</th><th>effect</th>"
                       f"</tr></thead><tbody>{ch_rows}</tbody></table>")
        else:
            choices = '<p class="muted">Kept the lab baseline (no knob changed).</p>'
        sc_rows = []
        for crit, label in (("comprehensiveness", "Comprehensiveness"), ("feasibility", "Feasibility"),
                            ("finops_alignment", "FinOps alignment")):
            s = t["scorecard"][crit]
            checks = "; ".join(f"{escape(c['check'])}: {_check(c['passed'])}" for c in s["checks"])
            sc_rows.append(f'<tr data-criterion="{crit}"><td>{label}</td><td class="n">{s["passed"]}/{s["measurable"]}</td>'
                           f'<td>{checks}</td><td class="muted">{escape(s["cannot_measure"])}</td></tr>')
        guard = "".join(f"<li>{escape(a['at'])}: {escape(a['kind'])} {escape(a['entity'])}</li>" for a in t["guardrail_actions"])
        over = t["within_budget"] is False
        parts.append(
            f'<section id="team-{escape(n)}" class="team" data-team="{escape(n)}"><h2>{escape(n)}'
            + (' <span class="no">over budget</span>' if over else "")
            + (' <span class="muted">(lab baseline)</span>' if t["baseline_team"] else "") + "</h2>"
            + f'<div class="figs">{figs}</div><div class="grid2">{charts}</div>{bars}'
            + f"<h3>Choices and their effect</h3>{choices}"
            + "<h3>Scorecard (what a tool can measure of the lesson plan's rubric)</h3>"
            + "<table><thead><tr><th>criterion</th><th>measured</th><th>checks</th><th>not measured by labctl</th>"
            + f'</tr></thead><tbody>{"".join(sc_rows)}</tbody></table>'
            + (f"<h3>Guardrail actions</h3><ul>{guard}</ul>" if guard else "") + "</section>")

    warn = "".join(f"<li>{escape(w['team'])}/{escape(w['resource_id'])}: {escape(w['message'])}</li>" for w in d["warnings"])
    notes = "".join(f"<li>{escape(x)}</li>" for x in d["notes"])
    th = d["rubric"]["thresholds"]
    parts.append(
        '<section id="method"><h2>How these figures are made</h2><ul>'
        "<li>Costs: every lifecycle record (instance, cluster, volume, bucket...) priced from labctl's catalog, cut into "
        "minutes in integer micro-dollars (the ledger); the FOCUS 1.2 export (focus.csv) holds the same ledger by hour.</li>"
        f"<li>Allocation: {escape(d['provenance']['allocation'])}.</li>"
        "<li>GPU efficiency: used / requested GPU-hours where pods are known, else the mean DCGM utilisation.</li>"
        f"<li>Scorecard thresholds: GPU efficiency ≥ {escape(th['gpu_efficiency_min'])}; idle GPU cost ≤ "
        f"{escape(th['idle_gpu_share_max'])} of GPU cost. A check is n/a where its data is missing.</li>"
        + (f"<li>Billed figures: {escape(d['billed']['source'])}; labelled <b>billed</b>, beside the ledger's, never "
           "added to them.</li></ul>" if d["billed"]["included"] else
           f"<li>Not in this debrief: {escape(d['billed']['reason'])}.</li></ul>")
        + (f"<h3>Ledger warnings</h3><ul class=\"warn\">{warn}</ul>" if warn else "")
        + (f"<h3>Notes</h3><ul class=\"muted\">{notes}</ul>" if notes else "")
        + "</section></main></body></html>")
    return "".join(parts)
