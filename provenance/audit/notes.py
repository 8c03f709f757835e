"""The attestations an audit reads from refs/notes/provenance: every signature line of every note
(with the declaration lines of the note it is in), every `Provenance-Declaration` line (its values
its own), and the declarations the notes ref's history holds that its tip no longer does."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from provenance.audit.cache import Cache
from provenance.audit.records import NoteAttestation
from provenance.git import notes
from provenance.git.notes import all_notes
from provenance.wire.digest import EMPTY
from provenance.wire.note import KEY_DECLARATION, fields, parse_declaration_value
from provenance.wire.statement import (
    KEY_AI_ASSISTED,
    KEY_ASSISTED_BY,
    KEY_SIGNATURE,
    MalformedSignature,
)

_SIGNATURE, _DECLARATION = KEY_SIGNATURE.lower(), KEY_DECLARATION.lower()
_AI_ASSISTED, _ASSISTED_BY = KEY_AI_ASSISTED.lower(), KEY_ASSISTED_BY.lower()


def parse_note(commit: str, text: str) -> list[NoteAttestation]:
    """Every attestation of one note."""
    found = fields(text)
    ai = tuple(v for k, v in found if k == _AI_ASSISTED)
    assisted = tuple(v for k, v in found if k == _ASSISTED_BY)
    out = []
    for k, v in found:
        if k == _SIGNATURE:
            out.append(NoteAttestation(v, commit, ai, assisted))
        elif k == _DECLARATION:
            out.append(grouped(commit, v))
    return out


def grouped(commit: str, value: str) -> NoteAttestation:
    """A `Provenance-Declaration` line; one that does not parse keeps its raw value and no
    declared value (the audit reports it as malformed)."""
    try:
        d = parse_declaration_value(value)
    except MalformedSignature:
        return NoteAttestation(value, commit, grouped=True)
    return NoteAttestation(d.signature.value(), commit, ("yes" if d.ai else "no",),
                           d.assisted_by, grouped=True)


def read_all(cwd: str | Path | None = None, tip: str | None = None,
             db: Cache | None = None) -> list[NoteAttestation]:
    """All attestations in the notes ref (or in notes commit `tip`), in the order of the notes'
    commits (git's own listing order), each note's lines in order.

    With a cache, the attestations of the notes commit read last are kept: the same commit again
    reads nothing, and another one only the notes that differ from it (a push that adds a co-sign
    pays for that note, not for every note of the history: docs/performance.md)."""
    if db is None:
        return _parsed(all_notes(cwd, tip))
    tip = tip or notes.tip(cwd)
    if tip is None:
        return []
    kept = db.recall(_PARSED)
    since, _, stored = kept.partition("\n") if kept else ("", "", "")
    if since == tip:
        return _decoded(stored)
    diff = notes.changed_notes(since, tip, cwd) if since else None
    if diff is None:
        atts = _parsed(all_notes(cwd, tip))
    else:
        touched, now = diff
        atts = sorted([a for a in _decoded(stored) if a.note_commit not in touched] + _parsed(now),
                      key=lambda a: a.note_commit)  # stable: a note's lines keep their order
    db.remember(tip + "\n" + json.dumps([[a.value, a.note_commit, a.ai_assisted, a.assisted_by,
                                          a.grouped] for a in atts]), _PARSED)
    return atts


_PARSED = "notes-parsed"  # one entry: "NOTES-COMMIT\n" and its attestations as JSON


def _parsed(found: Sequence[tuple[str, bytes]]) -> list[NoteAttestation]:
    out: list[NoteAttestation] = []
    for commit, data in sorted(found, key=lambda pair: pair[0]):
        out += parse_note(commit, data.decode("utf-8", "surrogateescape"))
    return out


def _decoded(stored: str) -> list[NoteAttestation]:
    return [NoteAttestation(v, c, tuple(ai), tuple(by), grouped)
            for v, c, ai, by, grouped in json.loads(stored)]


def identity(att: NoteAttestation) -> tuple[str, ...]:
    """What makes an attestation the same one in two versions of the notes: its signature value
    and the values it is read with (a grouped line's own; an old note's value lines, which
    anyone could edit or remove apart from the signature)."""
    return (att.value, *sorted(att.ai_assisted), "\0", *sorted(att.assisted_by))


def read_gone(current: Sequence[NoteAttestation], cwd: str | Path | None = None,
              db: Cache | None = None, tip: str | None = None) -> list[NoteAttestation]:
    """Declarations once in the notes ref and no longer in it: deleted, edited, or moved with
    lines of their own removed. Only declarations: a co-sign that is gone is simply missing.

    With a cache, the answer for the notes ref's tip is kept; for a tip that grew from the one
    read last, only what is new to it is read (a pre-push gate pays for what changed). `tip`:
    another notes commit than the ref's (a server's notes as a push will leave them)."""
    tip = tip or notes.tip(cwd)
    if tip is None:
        return []
    known = _recalled(db, tip)
    if known is not None:
        return known
    since = db.recall(_LATEST) if db is not None else None
    before = _recalled(db, since) if since else None
    if since is None or before is None or not notes.is_ancestor(since, tip, cwd):
        since, before = None, []
    found = {identity(a): a for a in before}
    for commit, data in notes.history_notes(tip, cwd, since=since):
        text = data.decode("utf-8", "surrogateescape")
        if " declare " not in text and _DECLARATION not in text.lower():
            continue
        for att in parse_note(commit, text):
            if att.value.split()[1:2] == ["declare"]:
                found.setdefault(identity(att), NoteAttestation(
                    att.value, att.note_commit, att.ai_assisted, att.assisted_by, att.grouped,
                    gone=True))
    here = {identity(a) for a in current}
    gone = [a for key, a in found.items() if key not in here]
    if db is not None:
        db.remember(json.dumps([[a.value, a.note_commit, a.ai_assisted, a.assisted_by, a.grouped]
                                for a in gone]), _GONE, tip)
        db.remember(tip, _LATEST)
    return gone


_GONE, _LATEST = "notes-gone", "notes-gone-latest"


def _recalled(db: Cache | None, tip: str) -> list[NoteAttestation] | None:
    """The gone declarations stored for notes commit `tip`, if any."""
    stored = db.recall(_GONE, tip) if db is not None else None
    if stored is None:
        return None
    return [NoteAttestation(v, c, tuple(ai), tuple(by), grouped, gone=True)
            for v, c, ai, by, grouped in json.loads(stored)]


Index = dict[str, list[NoteAttestation]]


def index(atts: Sequence[NoteAttestation]) -> tuple[Index, Index]:
    """The attestations by the change digest they sign (a note counts wherever it hangs: DESIGN §3),
    and by the commit their note hangs on."""
    by_digest: Index = defaultdict(list)
    by_commit: Index = defaultdict(list)
    for att in atts:
        parts = att.value.split()
        # An empty change carries nothing a rebase or cherry-pick could move: matching it by
        # digest would hand one empty commit's note to every clean merge (4.7k of them at 100k).
        if len(parts) > 3 and parts[3] != EMPTY:
            by_digest[parts[3]].append(att)
        by_commit[att.note_commit].append(att)
    return by_digest, by_commit


def matched(sha: str, change: str, by_digest: Index, by_commit: Index) -> list[NoteAttestation]:
    """The attestations that reach commit `sha` whose change digest is `change`, each once."""
    return list({id(a): a for a in by_digest.get(change, []) + by_commit.get(sha, [])}.values())
