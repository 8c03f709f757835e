"""`audit --format sarif`: the violations as SARIF 2.1.0, for code-scanning dashboards.

One result per violation: `ruleId` is the verdict code, the rules' texts come from the verdict
table (audit/codes.py), the location is the first critical path the violation concerns (else the
policy file), and the commit is in the message and in `partialFingerprints`. A policy glob that
matches no file is a configuration notification, as the other formats' warnings. docs/evidence.md.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any, TextIO
from urllib.parse import quote

from provenance import __version__
from provenance.audit import codes, spool
from provenance.audit.records import Judgement, Violation
from provenance.audit.walk import AuditResult
from provenance.policy.schema import POLICY_FILE

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# GitHub code scanning rejects a run with more results than this (and shows the first 5,000).
MAX_RESULTS = 25_000
COMMIT_FINGERPRINT = "gitProvenanceCommit/v1"


def _rules() -> list[dict[str, Any]]:
    return [{
        "id": c.code,
        "name": c.code,
        "shortDescription": {"text": codes.plain(c.title)},
        "fullDescription": {"text": codes.plain(c.meaning)},
        "help": {
            "text": f"{codes.plain(c.meaning)}\nExample: {codes.plain(c.example)}\n"
                    f"Fix: {codes.plain(c.fix)}",
            "markdown": f"**{c.title}** {c.meaning}\n\nExample: {c.example}\n\nFix: {c.fix}",
        },
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["provenance"], "precision": "very-high"},
    } for c in codes.TABLE]


def location(j: Judgement, v: Violation) -> str:
    """The first critical path `v` concerns: its own paths, else the commit's critical paths
    (rules in name order), else the policy file."""
    if v.paths:
        return v.paths[0]
    for rule in sorted(j.critical_paths):
        if j.critical_paths[rule]:
            return sorted(j.critical_paths[rule])[0]
    return POLICY_FILE


def _uri(path: str) -> str:
    """A repository-relative path as a URI reference (git may hand us non-UTF-8 names)."""
    return quote(path.encode("utf-8", "surrogateescape"), safe="/")


def _fingerprint(code: str, commit: str, rule: str | None, path: str, n: int) -> str:
    """Stable across runs for the same violation: GitHub matches alerts by it."""
    h = hashlib.sha256(f"{code}\0{commit}\0{rule or ''}\0{path}".encode("utf-8", "surrogateescape"))
    return f"{h.hexdigest()[:16]}:{n}"


def _result(j: Judgement, v: Violation, subject: str, index: dict[str, int], seen: Counter[str]
            ) -> dict[str, Any]:
    path = location(j, v)
    key = f"{v.code}\0{j.commit}\0{v.rule}\0{path}"
    seen[key] += 1
    about = f" ({subject})" if subject else ""
    return {
        "ruleId": v.code,
        "ruleIndex": index[v.code],
        "level": "error",
        "message": {"text": f"Commit {j.commit} by {j.author}{about}: {v.message}. Fix: {v.fix}"},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": _uri(path)},
            "region": {"startLine": 1},
        }}],
        "partialFingerprints": {
            "primaryLocationLineHash": _fingerprint(v.code, j.commit, v.rule, path, seen[key]),
            COMMIT_FINGERPRINT: j.commit,
        },
        "properties": {"commit": j.commit, "author": j.author, "rule": v.rule,
                       "paths": list(v.paths), "fix": v.fix},
    }


def to_sarif(result: AuditResult, subjects: dict[str, str]) -> dict[str, Any]:
    """The SARIF log of `result`; `subjects` maps the flagged commits to their subject lines."""
    index = {c.code: n for n, c in enumerate(codes.TABLE)}
    results: list[dict[str, Any]] = []
    seen: Counter[str] = Counter()
    total = 0
    for j in spool.flagged(result.judgements):
        for v in j.violations:
            total += 1
            if len(results) < MAX_RESULTS:
                results.append(_result(j, v, subjects.get(j.commit, ""), index, seen))
    invocation: dict[str, Any] = {"executionSuccessful": True}
    if total > len(results):
        invocation["toolExecutionNotifications"] = [{
            "level": "error",
            "message": {"text": f"{total - len(results)} of {total} violations are not listed: "
                                f"code scanning rejects more than {MAX_RESULTS} results; audit a "
                                "shorter range or read them all with --format json"},
        }]
    if result.warnings:  # a policy glob that protects nothing: a configuration problem
        invocation["toolConfigurationNotifications"] = [{
            "level": "warning",
            "descriptor": {"id": w.to_doc()["code"]},
            "message": {"text": w.message()},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": POLICY_FILE}}}],
            "properties": {"rule": w.rule, "glob": w.glob},
        } for w in result.warnings]
    s = spool.summary(result.judgements)
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "git-provenance",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": _rules(),
            }},
            "automationDetails": {"id": "git-provenance/audit/"},
            "invocations": [invocation],
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {
                "range": result.range, "trust_root": result.trust_root,
                "trust_root_source": result.trust_root_source, "policy": result.policy,
                "summary": s._asdict(),
            },
        }],
    }


def write_sarif(result: AuditResult, subjects: dict[str, str], out: TextIO) -> None:
    out.write(json.dumps(to_sarif(result, subjects), indent=2, ensure_ascii=False) + "\n")
