"""The auditor's sample as CSV (one row a change, columns in docs/evidence.md), markdown or one
self-contained HTML page. Nothing in them depends on when they were made: the same seed and
history give the same bytes."""

from __future__ import annotations

import csv
import io
import shlex
from collections.abc import Sequence
from html import escape
from pathlib import Path

from provenance.commands.evidence import Change, Evidence, Request, collect, command_line, parse_date
from provenance.commands.evidence_checks import Check
from provenance.commands.report import CSP

COLUMNS = ("commit", "committed_at", "author", "subject", "change", "rules", "declaration",
           "declaration_checks", "cosigners", "cosign_checks", "verdict", "violations", "policy",
           "selection_key", "verify_commands")


def check_text(c: Check) -> str:
    """`alice@example.com: valid (note on 1a2b3c4d5e6f, 2025-07-02T10:00:00Z, key SHA256:…)`."""
    where = ", ".join(x for x in (c.source, c.signed_at, f"key {c.key}" if c.key else "") if x)
    return f"{c.signer}: {c.status} ({where})" + (f": {c.detail}" if c.status != "valid" else "")


def _rules(ch: Change) -> list[str]:
    return [f"{rule}: {' '.join(paths)}" for rule, paths in ch.rules]


def _of(ch: Change, role: str) -> list[str]:
    return [check_text(c) for c in ch.checks if c.role == role or (role == "declare" and
                                                                   c.role == "?")]


def _commands(ch: Change) -> list[str]:
    return [c.command for c in ch.checks if c.command]


def row(ch: Change) -> list[str]:
    """The CSV row of one change, in COLUMNS order (several values in a cell: one a line)."""
    return [ch.commit, ch.committed_at, ch.author, ch.subject, ch.change, "\n".join(_rules(ch)),
            "\n".join(ch.declaration), "\n".join(_of(ch, "declare")), "\n".join(ch.cosigners),
            "\n".join(_of(ch, "cosign")), ch.verdict, "\n".join(ch.violations), ch.policy,
            ch.selection_key, "\n".join(_commands(ch))]


def to_csv(ev: Evidence) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for ch in ev.changes:
        writer.writerow(row(ch))
    return out.getvalue()


def _header(ev: Evidence) -> list[tuple[str, str]]:
    """What the export is of, and how to make it again."""
    req = ev.request
    start = parse_date(req.since, "--since").isoformat() if req.since else "the trust root"
    end = parse_date(req.until, "--until").isoformat() if req.until else "the tip"
    sample = (f"{len(ev.changes)} drawn: the smallest sha256(\"{req.seed}:<commit>\") "
              "(column selection_key)" if req.size is not None else "the whole population")
    return [
        ("tip", f"{ev.tip} ({req.rev})"),
        ("range", ev.range),
        ("trust root", f"{ev.trust_root or '(none)'}: {ev.trust_root_source}"),
        ("policy", ev.policy),
        ("period", f"committed from {start} until {end} (committer date, UTC)"),
        ("population", f"{ev.population} AI-assisted change(s) to critical paths"),
        ("sample", sample),
        ("made by", shlex.join(command_line(req))),
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def _checks_table(checks: Sequence[Check]) -> list[str]:
    if not checks:
        return ["No signatures."]
    out = ["| role | signer | source | status | co-signed at | key |", "|---|---|---|---|---|---|"]
    for c in checks:
        status = c.status if c.status == "valid" else f"{c.status}: {c.detail}"
        out.append(f"| {c.role} | {_cell(c.signer)} | {_cell(c.source)} | {_cell(status)} "
                   f"| {c.signed_at or '—'} | `{c.key or '—'}` |")
    return out


def to_markdown(ev: Evidence) -> str:
    out = ["# git-provenance evidence: AI-assisted changes to critical paths", "",
           "| | |", "|---|---|"]
    out += [f"| {name} | {_cell(value)} |" for name, value in _header(ev)]
    for n, ch in enumerate(ev.changes, 1):
        out += ["", f"## {n}. `{ch.commit[:12]}` {_cell(ch.subject)}", "",
                f"- **Commit:** `{ch.commit}`, committed {ch.committed_at} by {_cell(ch.author)}",
                f"- **Change digest:** `{ch.change}`",
                f"- **Rules:** {'; '.join(_cell(r) for r in _rules(ch))}",
                f"- **Declaration:** {'; '.join(_cell(d) for d in ch.declaration) or 'none'}",
                f"- **Co-signers counted:** {', '.join(ch.cosigners) or 'none'}",
                f"- **Verdict:** {ch.verdict}"]
        out += [f"  - {_cell(v)}" for v in ch.violations]
        out += [f"- **Policy judged under:** `{ch.policy}`", "", *_checks_table(ch.checks)]
        if _commands(ch):
            out += ["", "Re-check each signature without git-provenance (bash, OpenSSH):", "",
                    "```sh", *_commands(ch), "```"]
    return "\n".join(out) + "\n"


_CSS = """
body { font:14px/1.45 -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color:#1f2933;
       margin:0 auto; max-width:1100px; padding:24px 32px; }
table { border-collapse:collapse; margin:8px 0 16px; width:100%; font-size:13px; }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid #e4e7eb; vertical-align:top; }
th { color:#616e7c; }
code, pre { font:12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background:#f0f2f5; padding:8px; overflow-x:auto; white-space:pre-wrap; word-break:break-all; }
.fail { color:#d6336c; font-weight:600; } .pass { color:#2f9e44; font-weight:600; }
"""


def _table(rows: Sequence[Sequence[str]], head: Sequence[str] | None = None) -> str:
    th = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>" if head else ""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in r) + "</tr>" for r in rows)
    return f"<table>{th}{body}</table>"


def _html_change(n: int, ch: Change) -> str:
    verdict = "pass" if ch.verdict == "pass" else "fail"
    facts = [
        ("commit", f"<code>{ch.commit}</code>"), ("committed", escape(ch.committed_at)),
        ("author", escape(ch.author)), ("change digest", f"<code>{ch.change}</code>"),
        ("rules", "<br>".join(escape(r) for r in _rules(ch))),
        ("declaration", "<br>".join(escape(d) for d in ch.declaration) or "none"),
        ("co-signers counted", escape(", ".join(ch.cosigners)) or "none"),
        ("verdict", f'<span class="{verdict}">{escape(ch.verdict)}</span>'
                    + "".join(f"<br>{escape(v)}" for v in ch.violations)),
        ("policy judged under", f"<code>{escape(ch.policy)}</code>"),
    ]
    checks = _table([[escape(c.role), escape(c.signer), escape(c.source),
                      escape(c.status if c.status == "valid" else f"{c.status}: {c.detail}"),
                      escape(c.signed_at or "—"), f"<code>{escape(c.key or '—')}</code>"]
                     for c in ch.checks],
                    ["role", "signer", "source", "status", "co-signed at", "key"])
    commands = "".join(f"<pre>{escape(cmd)}</pre>" for cmd in _commands(ch))
    return (f'<section id="c{n}"><h2>{n}. <code>{ch.commit[:12]}</code> {escape(ch.subject)}</h2>'
            f"{_table([(escape(k), v) for k, v in facts])}<h3>Signatures</h3>{checks}"
            + (f"<h3>Re-check without git-provenance (bash, OpenSSH)</h3>{commands}"
               if commands else "") + "</section>")


def to_html(ev: Evidence) -> str:
    head = _table([(escape(k), escape(v)) for k, v in _header(ev)])
    body = "".join(_html_change(n, ch) for n, ch in enumerate(ev.changes, 1))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            "<title>git-provenance evidence</title>"
            f"<style>{_CSS}</style></head><body>"
            "<h1>git-provenance evidence: AI-assisted changes to critical paths</h1>"
            f"{head}{body or '<p>No changes in the population.</p>'}</body></html>\n")


def export(req: Request, cwd: str | Path | None = None) -> str:
    """The `evidence` command's output in `req.fmt`."""
    ev = collect(req, cwd)
    render = {"csv": to_csv, "markdown": to_markdown, "html": to_html}[req.fmt]
    return render(ev)
