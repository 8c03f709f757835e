"""The attestations an audit reads from refs/notes/provenance: every signature line of every note,
with the declaration lines of the note it is in."""

from __future__ import annotations

from pathlib import Path

from provenance.audit.records import NoteAttestation
from provenance.git.notes import all_notes
from provenance.wire.note import fields
from provenance.wire.statement import KEY_AI_ASSISTED, KEY_ASSISTED_BY, KEY_SIGNATURE


def parse_note(commit: str, text: str) -> list[NoteAttestation]:
    """Every signature line of one note, each with the note's declaration lines."""
    found = fields(text)
    ai = tuple(v for k, v in found if k == KEY_AI_ASSISTED.lower())
    assisted = tuple(v for k, v in found if k == KEY_ASSISTED_BY.lower())
    return [
        NoteAttestation(value=v, note_commit=commit, ai_assisted=ai, assisted_by=assisted)
        for k, v in found if k == KEY_SIGNATURE.lower()
    ]


def read_all(cwd: str | Path | None = None) -> list[NoteAttestation]:
    """All attestations in the notes ref."""
    out: list[NoteAttestation] = []
    for commit, data in all_notes(cwd):
        out += parse_note(commit, data.decode("utf-8", "surrogateescape"))
    return out
