"""An audit as an in-toto Statement v1: the payload `git provenance attest` signs (docs/spec.md
section 7).

The subject is the range's tip (`digest.gitCommit`); the predicate holds what the audit started
from (trust root, policy, notes), what it walked, its summary and every judged commit as the JSON
report writes it (docs/audit-json.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from provenance import __version__
from provenance.audit import spool
from provenance.audit.report import SCHEMA as AUDIT_SCHEMA
from provenance.audit.walk import AuditResult
from provenance.errors import ProvenanceError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
PREDICATE_TYPE = "https://git-provenance.dev/attestation/audit/v1"
_OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_COMMITS = "\0commits\0"  # where the commit lines go in the encoded statement


class Policy(NamedTuple):
    source: str  # as the audit report says it (`.provenance.toml at <sha>`, `FILE (--policy)`)
    blob: str | None  # the policy's git blob id at the trust root; None for --policy FILE
    sha256: str  # of the policy file's bytes, either way


def statement(result: AuditResult, subject_name: str, tip: str, policy: Policy,
              notes_ref: str | None) -> bytes:
    """The Statement's bytes: UTF-8 JSON, every judged commit one element of `commits`."""
    doc = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name, "digest": {"gitCommit": tip}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "tool": {"name": "git-provenance", "version": __version__},
            "audit_schema": AUDIT_SCHEMA,
            "range": result.range,
            "trust_root": result.trust_root,
            "trust_root_source": result.trust_root_source,
            "policy": policy._asdict(),
            "notes_ref": notes_ref,
            "summary": spool.summary(result.judgements)._asdict(),
            "commits": _COMMITS,
        },
    }
    head, tail = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).split(
        json.dumps(_COMMITS))
    return "".join([head, "[", ",".join(spool.lines(result.judgements)), "]", tail]).encode()


class Subject(NamedTuple):
    name: str
    commit: str


class Attested(NamedTuple):
    """What a verifier reads back from a Statement."""

    subject: Subject
    predicate: dict[str, Any]


def parse(payload: bytes) -> Attested:
    """The Statement in a verified payload; one clear error when it is not one of ours."""
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError) as e:
        raise ProvenanceError(f"the payload is not JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("_type") != STATEMENT_TYPE:
        raise ProvenanceError(f"the payload is not an in-toto Statement v1 ({STATEMENT_TYPE})")
    if doc.get("predicateType") != PREDICATE_TYPE:
        raise ProvenanceError(
            f"predicateType is {doc.get('predicateType')!r}, not git-provenance's {PREDICATE_TYPE}")
    subjects: Sequence[Any] = doc.get("subject") or []
    predicate = doc.get("predicate")
    if (len(subjects) != 1 or not isinstance(subjects[0], dict)
            or not isinstance(subjects[0].get("digest"), dict) or not isinstance(predicate, dict)):
        raise ProvenanceError("the Statement must have one subject and a predicate")
    commit = subjects[0]["digest"].get("gitCommit")
    if not isinstance(commit, str) or not _OID.fullmatch(commit):
        raise ProvenanceError("the subject has no gitCommit digest")
    return Attested(Subject(str(subjects[0].get("name", "")), commit), predicate)
