"""refs/notes/provenance as git stores it: which commits carry a note, and each note's bytes.

Only bytes here. What a note's lines mean is the wire format's (`wire/note.py`: one attestation a
line) and the audit's (`audit/notes.py`: the attestations it reads).
"""

from __future__ import annotations

from pathlib import Path

from provenance.git import git

REF = "refs/notes/provenance"
_NOTES = "--ref=provenance"


def ref_exists(cwd: str | Path | None = None) -> bool:
    return git.rev_parse(REF, cwd=cwd) is not None


def all_notes(cwd: str | Path | None = None) -> list[tuple[str, bytes]]:
    """(annotated commit, note) for every note in the ref: one `notes list` and one `cat-file --batch`."""
    if not ref_exists(cwd):
        return []
    pairs = [
        line.split() for line in git.text(["notes", _NOTES, "list"], cwd=cwd).splitlines()
        if len(line.split()) == 2
    ]
    blobs = git.read_blobs(sorted({blob for blob, _ in pairs}), cwd=cwd)
    return [(commit, blobs[blob]) for blob, commit in pairs if blob in blobs]


def show(commit: str, cwd: str | Path | None = None) -> bytes:
    """The note on `commit` (empty when there is none)."""
    return git.run(["notes", _NOTES, "show", commit], cwd=cwd, check=False)


def write(commit: str, data: bytes, cwd: str | Path | None = None) -> None:
    """Replace the note on `commit` with `data`."""
    git.run(["notes", _NOTES, "add", "-f", "-F", "-", commit], cwd=cwd, input=data)
