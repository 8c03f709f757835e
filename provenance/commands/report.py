"""`git provenance report --html`: one self-contained page (inline CSS and SVG, no script, no network).

Every chart is an `<svg class="chart" id=...>`; every bar carries `data-label` and `data-value` so the
page can be checked by machine as well as read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

from provenance.audit.walk import audit
from provenance.commands.report_data import (
    SHOWN_PER_GROUP,
    SHOWN_SOURCES,
    Landing,
    OpenViolation,
    ReportData,
    build,
)

WIDTH = 560
ROW = 26
# A content security policy that forbids every fetch: the page cannot reach the network.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --ai:#6f42c1; --human:#cbd2d9;
        --ok:#2f9e44; --bad:#d6336c; --bg:#f7f8fa; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background:#1f2933; color:#fff; padding:24px 32px; }
header h1 { margin:0 0 4px; font-size:22px; font-weight:600; }
header p { margin:0; color:#cbd2d9; font-size:13px; }
main { max-width:1240px; margin:0 auto; padding:24px 32px 48px; }
.cards { display:grid; grid-template-columns:repeat(4, 1fr); gap:16px; margin-bottom:24px; }
.card, section { background:#fff; border:1px solid var(--line); border-radius:8px; }
.card { padding:16px 20px; }
.card .value { font-size:30px; font-weight:650; }
.card .label { color:var(--muted); font-size:13px; }
.card.bad .value { color:var(--bad); } .card.ok .value { color:var(--ok); }
.grid { display:grid; grid-template-columns:1fr 1fr; gap:24px; }
section { padding:16px 20px 20px; }
section.wide { grid-column:1 / -1; }
h2 { font-size:16px; margin:0 0 2px; }
.note { color:var(--muted); font-size:12px; margin:0 0 12px; }
svg.chart { display:block; width:100%; height:auto; font-size:12px; }
svg text { fill:var(--ink); } svg text.muted { fill:var(--muted); }
.legend span { display:inline-block; margin-right:14px; font-size:12px; color:var(--muted); }
.legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:5px; }
table { width:100%; border-collapse:collapse; font-size:13px; }
th, td { text-align:left; padding:8px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; }
code { font:12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       background:#f0f2f5; padding:1px 4px; border-radius:3px; }
.code { color:var(--bad); font-weight:600; white-space:nowrap; }
.empty { color:var(--muted); font-style:italic; margin:8px 0; }
footer { color:var(--muted); font-size:12px; margin-top:24px; }
"""


def _legend(items: Sequence[tuple[str, str]]) -> str:
    spans = "".join(f'<span><i style="background:var({color})"></i>{escape(text)}</span>'
                    for text, color in items)
    return f'<div class="legend">{spans}</div>'


def _duration(seconds: int) -> str:
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def timeline_svg(data: ReportData) -> str:
    """Stacked columns per week or month: AI-assisted on top of the rest, the AI share above."""
    buckets = data.timeline
    if not buckets:
        return '<p class="empty">no commits in range</p>'
    width, height, top, bottom, left = 2 * WIDTH + 60, 230, 24, 34, 34
    plot_w, plot_h = width - left - 8, height - top - bottom
    peak = max(b.commits for b in buckets) or 1
    step = plot_w / len(buckets)
    bar = min(64.0, step * 0.7)
    parts = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" '
             'stroke="#cbd2d9"/>',
             f'<text class="muted" x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
             f'<text class="muted" x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>']
    every = max(1, len(buckets) // 8)
    for i, b in enumerate(buckets):
        x = left + i * step + (step - bar) / 2
        h_all = plot_h * b.commits / peak
        h_ai = plot_h * b.ai_assisted / peak
        y0 = top + plot_h
        share = round(100 * b.ai_assisted / b.commits) if b.commits else 0
        parts.append(
            f'<g class="bucket" data-label="{escape(b.label)}" data-commits="{b.commits}" '
            f'data-ai="{b.ai_assisted}"><title>{escape(b.label)}: {b.ai_assisted} of {b.commits} '
            f'commits AI-assisted</title>'
            f'<rect class="bar human" x="{x:.1f}" y="{y0 - h_all:.1f}" width="{bar:.1f}" '
            f'height="{h_all - h_ai:.1f}" fill="var(--human)" rx="2"/>'
            f'<rect class="bar ai" x="{x:.1f}" y="{y0 - h_ai:.1f}" width="{bar:.1f}" '
            f'height="{h_ai:.1f}" fill="var(--ai)" rx="2"/>')
        if b.commits:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{y0 - h_all - 6:.1f}" '
                         f'text-anchor="middle">{share}%</text>')
        parts.append('</g>')
        if i % every == 0:
            parts.append(f'<text class="muted" x="{x + bar / 2:.1f}" y="{y0 + 18}" '
                         f'text-anchor="middle">{escape(b.label)}</text>')
    return (f'<svg class="chart" id="timeline" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="AI-assisted commits per {data.timeline_unit}">{"".join(parts)}</svg>'
            + _legend([("AI-assisted", "--ai"), ("not AI-assisted", "--human")]))


def hbars_svg(chart_id: str, rows: Sequence[tuple[str, Sequence[tuple[int, str, str]]]],
              fmt: Callable[[int], str] = str) -> str:
    """Horizontal bars; each row is (label, [(value, css colour, class)]) stacked left to right."""
    if not rows:
        return '<p class="empty">nothing to show</p>'
    label_w, right = 150, 70
    peak = max(sum(v for v, _, _ in segs) for _, segs in rows) or 1
    plot_w = WIDTH - label_w - right
    parts = []
    for i, (label, segs) in enumerate(rows):
        y = 6 + i * ROW
        total = sum(v for v, _, _ in segs)
        parts.append(f'<g class="row" data-label="{escape(label)}" data-value="{total}">'
                     f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end">{escape(label)}</text>')
        x = float(label_w)
        for value, color, cls in segs:
            w = plot_w * value / peak
            parts.append(f'<rect class="bar {cls}" data-value="{value}" x="{x:.1f}" y="{y}" '
                         f'width="{w:.1f}" height="{ROW - 8}" fill="var({color})" rx="2"/>')
            x += w
        parts.append(f'<text class="muted" x="{x + 6:.1f}" y="{y + 14}">{escape(fmt(total))}</text></g>')
    height = 12 + len(rows) * ROW
    return (f'<svg class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {height}" role="img">'
            f'{"".join(parts)}</svg>')


def coverage_svg(data: ReportData) -> str:
    """A donut: the share of commits needing a co-sign that have one."""
    need, done = data.needing_cosign, data.cosigned
    share = done / need if need else 1.0
    r, c = 54, 2 * 3.14159265 * 54
    return (
        f'<svg class="chart" id="coverage" viewBox="0 0 {WIDTH} 150" role="img" '
        f'data-needing="{need}" data-cosigned="{done}">'
        f'<circle cx="80" cy="75" r="{r}" fill="none" stroke="var(--bad)" stroke-width="18"'
        f'{"" if need else " opacity=0.15"}/>'
        f'<circle class="covered" cx="80" cy="75" r="{r}" fill="none" stroke="var(--ok)" '
        f'stroke-width="18" stroke-dasharray="{c * share:.2f} {c:.2f}" transform="rotate(-90 80 75)"/>'
        f'<text x="80" y="82" text-anchor="middle" font-size="22" font-weight="650">'
        f'{round(100 * share)}%</text>'
        f'<text x="160" y="62" font-size="15">{done} of {need} commits co-signed</text>'
        f'<text class="muted" x="160" y="86">AI-assisted changes to critical paths (or every change,</text>'
        f'<text class="muted" x="160" y="104">for rules that apply to all) that need a co-sign</text>'
        f'</svg>' + _legend([("co-signed", "--ok"), ("still missing", "--bad")]))


def delays_section(data: ReportData) -> str:
    rows = [(f"{d.commit[:8]} {d.subject[:14]}", [(d.seconds, "--ai", d.source)]) for d in data.delays]
    svg = hbars_svg("cosign-delay", rows, _duration)
    median = data.median_delay
    head = f"median {_duration(median)}" if median is not None else "no co-signs yet"
    if data.delays_total > len(data.delays):
        head += f" of {data.delays_total} co-signed commits; the latest {len(data.delays)} drawn"
    return f'<p class="note">{escape(head)} · from the author date to the co-sign</p>{svg}'


def _violation_row(v: OpenViolation) -> str:
    return (f'<tr class="violation"><td><code>{escape(v.commit[:12])}</code><br>'
            f'{escape(_clip(v.subject, 100))}<br><span class="note">{escape(_clip(v.author, 80))}'
            f'</span></td><td>{escape(_clip(v.message, 400))}<br>fix: <code>'
            f'{escape(_clip(v.fix, 200))}</code></td></tr>')


def _clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[:most - 1] + "…"


def violations_table(data: ReportData) -> str:
    """Open violations by verdict code and rule: each group's count and its first few commits."""
    if not data.open_violations:
        return '<p class="empty">no open violations</p>'
    parts = []
    for g in data.violation_groups:
        rule = f" · rule {escape(g.rule)}" if g.rule else ""
        more = g.count - len(g.first)
        tail = (f'<tr><td colspan="2" class="note">… and {more} more {escape(g.code)}'
                f'{rule}</td></tr>' if more else "")
        parts.append(
            f'<tbody class="group" data-code="{escape(g.code)}" data-rule="{escape(g.rule or "")}" '
            f'data-count="{g.count}"><tr><th colspan="2"><span class="code">{escape(g.code)}</span>'
            f'{rule} · {g.count} commit(s)</th></tr>'
            f'{"".join(_violation_row(v) for v in g.first)}{tail}</tbody>')
    unlisted = data.open_violations - sum(g.count for g in data.violation_groups)
    rest = (f'<p class="note">… and {unlisted} more violation(s) in smaller groups</p>'
            if unlisted else "")
    return (f'<p class="note">{data.open_violations} open violation(s), grouped by verdict and rule; '
            f'the first {SHOWN_PER_GROUP} of each group in history order (the full list: '
            f'<code>git provenance audit --format json</code>)</p>'
            f'<table><tr><th>commit</th><th>what and how to fix</th></tr>{"".join(parts)}</table>{rest}')


def landings_table(data: ReportData) -> str:
    """Commits a forge landed (squash, rebase-merge, merge train), each with its source."""
    if not data.landings:
        return '<p class="empty">no landings</p>'

    def sources(x: Landing) -> str:
        more = len(x.verdicts) - SHOWN_SOURCES
        return "<br>".join([escape(f"{sha[:12]} {'/'.join(codes) or 'ok'}")
                            for sha, codes in x.verdicts[:SHOWN_SOURCES]]
                           + ([f"… and {more} more"] if more > 0 else []))

    rows = "".join(
        f'<tr class="landing"><td><code>{escape(x.commit[:12])}</code><br>{escape(x.subject)}</td>'
        f'<td>{escape(x.request or "by tree or author")}</td>'
        f'<td><code>{escape(x.source[:12])}</code></td><td>{sources(x)}</td></tr>'
        for x in data.landings)
    shown = (f'<p class="note">the latest {len(data.landings)} of {data.landings_total}</p>'
             if data.landings_total > len(data.landings) else "")
    return (f"{shown}<table><tr><th>landing</th><th>request</th><th>source head</th>"
            f"<th>source commits and their verdicts</th></tr>{rows}</table>")


def _card(value: str, label: str, cls: str = "") -> str:
    return (f'<div class="card {cls}"><div class="value">{escape(value)}</div>'
            f'<div class="label">{escape(label)}</div></div>')


def render(data: ReportData, title: str = "AI provenance report") -> str:
    share = round(100 * data.ai_assisted / data.commits) if data.commits else 0
    coverage = f"{round(100 * data.cosigned / data.needing_cosign)}%" if data.needing_cosign else "—"
    cards = "".join([
        _card(str(data.commits), "commits judged"),
        _card(f"{share}%", f"AI-assisted ({data.ai_assisted} commits)"),
        _card(coverage, f"co-sign coverage ({data.cosigned} of {data.needing_cosign})",
              "ok" if data.cosigned == data.needing_cosign else "bad"),
        _card(str(data.open_violations), "open violations", "bad" if data.open_violations else "ok"),
        _card(str(data.landings_total), "landings judged by their sources"),
    ])
    agents = hbars_svg("agents", [(name, [(n, "--ai", "ai")]) for name, n in data.agents])
    rules = hbars_svg("rules", [
        (r.rule, [(r.cosigned, "--ok", "cosigned"), (r.open, "--bad", "open"),
                  (r.commits - r.cosigned - r.open, "--human", "other")])
        for r in data.rules])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body><header><h1>{escape(title)}</h1>
<p>range {escape(data.range)} · trust root {escape(data.trust_root_source)} ·
policy {escape(data.policy)}</p></header>
<main><div class="cards">{cards}</div>
<div class="grid">
<section class="wide"><h2>AI-assisted share per {data.timeline_unit}</h2>
<p class="note">by author date; the percentage is the share of that {data.timeline_unit}'s commits</p>
{timeline_svg(data)}</section>
<section><h2>AI-assisted commits by agent</h2>
<p class="note">from Assisted-by trailers and notes, else the AI fingerprints found</p>{agents}</section>
<section><h2>Critical rules</h2>
<p class="note">commits touching each rule's paths that needed a co-sign</p>{rules}
{_legend([("co-signed", "--ok"), ("missing co-sign", "--bad"), ("other", "--human")])}</section>
<section><h2>Co-sign coverage</h2>{coverage_svg(data)}</section>
<section><h2>Time to co-sign</h2>{delays_section(data)}</section>
<section class="wide"><h2>Open violations</h2>{violations_table(data)}</section>
<section class="wide"><h2>Landings</h2>
<p class="note">squashes, rebase-merges and merge trains, judged by the commits of their
source</p>{landings_table(data)}</section>
</div>
<footer>git-provenance · co-sign times: a note's co-sign is dated by the refs/notes/provenance
commit that added it, a trailer co-sign by the commit's committer date.</footer></main></body></html>
"""


def write_report(range_: str | None, trust_root: str | None, policy_file: str | None,
                 out: Path, cwd: str | Path | None = None) -> ReportData:
    """Audit, then write the HTML page to `out`; return the numbers drawn."""
    data = build(audit(range_, trust_root, policy_file, cwd), cwd)
    out.write_text(shown(render(data)), encoding="utf-8")
    return data


_UNDECODED = re.compile("[\udc80-\udcff]")


def shown(text: str) -> str:
    """`text` as valid UTF-8: a byte git gave that is not UTF-8 (a file name, a message, read with
    surrogateescape) is shown as `\\xNN`."""
    return _UNDECODED.sub(lambda m: f"\\x{ord(m[0]) - 0xDC00:02x}", text)
