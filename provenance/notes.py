"""Attestations under refs/notes/provenance: one `Key: value` line per attestation.

Notes from several seniors merge with git's `cat_sort_uniq` strategy (lines sorted, duplicates
dropped), so nothing here depends on line order, and writing keeps exactly one attestation a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from provenance.audit.records import NoteAttestation
from provenance.errors import ProvenanceError
from provenance.git import git, objects
from provenance.wire.statement import KEY_AI_ASSISTED, KEY_ASSISTED_BY, KEY_SIGNATURE

REF = "refs/notes/provenance"
_NOTES = "--ref=provenance"


def ref_exists(cwd: str | Path | None = None) -> bool:
    return git.rev_parse(REF, cwd=cwd) is not None


def _fields(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out.append((key.strip().lower(), value.strip()))
    return out


def parse_note(commit: str, text: str) -> list[NoteAttestation]:
    """Every signature line of one note, each with the note's declaration lines."""
    fields = _fields(text)
    ai = tuple(v for k, v in fields if k == KEY_AI_ASSISTED.lower())
    assisted = tuple(v for k, v in fields if k == KEY_ASSISTED_BY.lower())
    return [
        NoteAttestation(value=v, note_commit=commit, ai_assisted=ai, assisted_by=assisted)
        for k, v in fields if k == KEY_SIGNATURE.lower()
    ]


def read_all(cwd: str | Path | None = None) -> list[NoteAttestation]:
    """All attestations in the notes ref: one `notes list` and one `cat-file --batch`."""
    if not ref_exists(cwd):
        return []
    pairs = [
        line.split() for line in git.text(["notes", _NOTES, "list"], cwd=cwd).splitlines()
        if len(line.split()) == 2
    ]
    blobs = objects.read_blobs(sorted({blob for blob, _ in pairs}), cwd=cwd)
    out: list[NoteAttestation] = []
    for blob, commit in pairs:
        if blob in blobs:
            out += parse_note(commit, blobs[blob].decode("utf-8", "surrogateescape"))
    return out


def read(commit: str, cwd: str | Path | None = None) -> list[str]:
    """The lines of the note on `commit` (empty when there is none)."""
    out = git.run(["notes", _NOTES, "show", commit], cwd=cwd, check=False)
    return [ln for ln in out.decode("utf-8", "surrogateescape").splitlines() if ln.strip()]


def merged_lines(existing: Iterable[str], new: Iterable[str]) -> list[str]:
    """What `cat_sort_uniq` would make of the two: sorted, de-duplicated, no blank lines."""
    return sorted({ln.strip() for ln in (*existing, *new) if ln.strip()})


def add_attestation(commit: str, lines: Sequence[str], cwd: str | Path | None = None) -> None:
    """Add attestation lines to the note on `commit`, one per line (never a blank separator,
    which `git notes append` would insert)."""
    for line in lines:
        if "\n" in line or "\r" in line:
            raise ProvenanceError(f"an attestation must be one line: {line!r}")
    text = "".join(ln + "\n" for ln in merged_lines(read(commit, cwd), lines))
    git.run(["notes", _NOTES, "add", "-f", "-F", "-", commit], cwd=cwd,
            input=text.encode("utf-8", "surrogateescape"))
