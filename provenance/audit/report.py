"""Render an AuditResult: text for people, JSON for programs (docs/audit-json.md), markdown for CI."""

from __future__ import annotations

import io
import json
import sys
from typing import Any, TextIO

from provenance.audit import spool
from provenance.audit.records import Judgement
from provenance.audit.walk import AuditResult

SCHEMA = "git-provenance/audit/v1"
FORMATS = ("text", "json", "markdown", "sarif")  # sarif: audit/sarif.py
NOTES_HINT = ("co-signs may not be fetched: "
              "git fetch origin '+refs/notes/*:refs/notes/*'")


def _summary(result: AuditResult) -> dict[str, int]:
    return spool.summary(result.judgements)._asdict()


def _commit_doc(j: Judgement) -> dict[str, Any]:
    """A commit's object as a reader of the JSON report gets it (lists, not tuples)."""
    doc: dict[str, Any] = json.loads(spool.encode_line(spool.to_doc(j)))
    return doc


def write_json(result: AuditResult, out: TextIO) -> None:
    """Write the JSON document commit by commit: the report of a long history is never one string.

    Indented, except that each commit is one line: a long report stays readable and greppable,
    and the compact encoding runs in C (the indenting encoder is pure Python, ~0.1 ms a commit)."""
    doc = {
        "schema": SCHEMA,
        "range": result.range,
        "trust_root": result.trust_root,
        "trust_root_source": result.trust_root_source,
        "policy": result.policy,
        "notes_ref": result.notes_ref_exists,
        "warnings": [w.to_doc() for w in result.warnings],
        "summary": _summary(result),
        "commits": [0],  # a placeholder where the commits go, at an indent of four spaces
    }
    head, tail = json.dumps(doc, indent=2, ensure_ascii=False).split("\n    0\n")
    if not result.judgements:
        out.write(head.removesuffix("[") + "[]" + tail.removeprefix("  ]"))
        return
    out.write(head + "\n")
    for n, line in enumerate(spool.lines(result.judgements)):
        out.write(("    " if n == 0 else ",\n    ") + line)
    out.write("\n" + tail)


def to_json(result: AuditResult) -> str:
    buffer = io.StringIO()
    write_json(result, buffer)
    return buffer.getvalue()


def _subjects(result: AuditResult, subjects: dict[str, str]) -> dict[str, str]:
    return {j.commit: subjects.get(j.commit, "") for j in spool.flagged(result.judgements)}


def to_text(result: AuditResult, subjects: dict[str, str] | None = None) -> str:
    subj = _subjects(result, subjects or {})
    s = _summary(result)
    out = [
        f"trust root: {result.trust_root[:12] if result.trust_root else '(none)'} "
        f"— {result.trust_root_source}",
        f"policy: {result.policy}",
        f"range: {result.range}",
        *(f"warning: {w.message()}" for w in result.warnings),
        "",
    ]
    for j in spool.flagged(result.judgements):
        for v in j.violations:
            out += [
                f"{j.commit[:12]} {j.author} {subj[j.commit]!r}",
                f"  {v.code}: {v.message}",
                f"  fix: {v.fix}",
            ]
        out += [f"  {line}" for line in landing_lines(j)]
    if out[-1] != "":
        out.append("")
    out.append(
        f"{s['commits']} commit(s) judged, {s['ai_assisted']} AI-assisted, {s['critical']} "
        f"touching critical paths, {s['violations']} violation(s)" + _landings(result)
    )
    if not result.notes_ref_exists:
        out.append(f"hint: no refs/notes/provenance here; {NOTES_HINT}")
    return "\n".join(out)


def landing_lines(j: Judgement) -> list[str]:
    """What a landing says for people (its source and each source commit's verdict), or why a
    commit that names a request is not its landing, and the fetch that would tell."""
    if j.landed_from is not None:
        landed = j.landed_from
        via = f"{landed.request} " if landed.request else ""
        verdicts = ", ".join(f"{sha[:12]} {'/'.join(codes) or 'ok'}" for sha, codes in landed.verdicts)
        return [f"landing of {via}{landed.source[:12]}: judged by its source commits: {verdicts}"]
    if j.not_landed is not None:
        fetch = [f"fetch it: {j.not_landed.fetch}"] if j.not_landed.fetch else []
        return [f"not a landing: {j.not_landed.reason}", *fetch]
    return []


def _landings(result: AuditResult) -> str:
    n = len(getattr(result.judgements, "landed", ()))
    return f", {n} landing(s) judged by their source commits" if n else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(result: AuditResult, subjects: dict[str, str] | None = None) -> str:
    subj = _subjects(result, subjects or {})
    s = _summary(result)
    status = "passed" if s["violations"] == 0 else "failed"
    out = [
        f"## git-provenance audit {status}",
        "",
        "| commits | AI-assisted | critical | violations |",
        "|---:|---:|---:|---:|",
        f"| {s['commits']} | {s['ai_assisted']} | {s['critical']} | {s['violations']} |",
        "",
        *([_landings(result).removeprefix(", ").capitalize() + ".", ""] if _landings(result) else []),
        f"Trust root: `{result.trust_root or '(none)'}` ({_cell(result.trust_root_source)}); "
        f"policy: {_cell(result.policy)}",
        "",
        *(line for w in result.warnings for line in (f"> warning: {_cell(w.message())}", "")),
    ]
    rows = [(j, v) for j in spool.flagged(result.judgements) for v in j.violations]
    if rows:
        out += ["| commit | author | subject | code | message | fix |",
                "|---|---|---|---|---|---|"]
        out += [
            f"| `{j.commit[:12]}` | {_cell(j.author)} | {_cell(subj[j.commit])} | `{v.code}` "
            f"| {_cell(' — '.join([v.message, *landing_lines(j)]))} | `{_cell(v.fix)}` |"
            for j, v in rows
        ]
    if not result.notes_ref_exists:
        out += ["", f"> {NOTES_HINT}"]
    return "\n".join(out) + "\n"


def progress_printer(total: int, stream: TextIO = sys.stderr) -> Any:
    """A progress callback drawing a bar on `stream`, or None when it is not a terminal."""
    if total < 1 or not stream.isatty():
        return None

    def show(done: int) -> None:
        if done % 50 and done != total:
            return
        width = 30
        filled = width * done // total
        stream.write(f"\raudit [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            stream.write("\r" + " " * (width + 30) + "\r")
        stream.flush()

    return show
