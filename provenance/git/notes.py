"""refs/notes/provenance as git stores it: which commits carry a note, and each note's bytes.

Only bytes here. What a note's lines mean is the wire format's (`wire/note.py`: one attestation a
line) and the audit's (`audit/notes.py`: the attestations it reads).
"""

from __future__ import annotations

from pathlib import Path

from provenance.errors import ProvenanceError
from provenance.git import git, receive

REF = "refs/notes/provenance"
_NOTES = "--ref=provenance"


def ref_exists(cwd: str | Path | None = None) -> bool:
    return git.rev_parse(REF, cwd=cwd) is not None


def all_notes(cwd: str | Path | None = None, tip: str | None = None) -> list[tuple[str, bytes]]:
    """(annotated commit, note) for every note in the ref, or in notes commit `tip` (a server's
    notes as a push will leave them): one listing and one `cat-file --batch`."""
    if tip is not None:  # "MODE blob BLOB\tPATH", the path the annotated commit in fan-out dirs
        pairs = [[line.split()[2], line.partition("\t")[2].replace("/", "")] for line in git.text(
            ["ls-tree", "-r", "--full-tree", "--end-of-options", tip], cwd=cwd,
            pinned=True).splitlines() if " blob " in line]
    elif not ref_exists(cwd):
        return []
    else:
        pairs = [line.split() for line in git.text(["notes", _NOTES, "list"], cwd=cwd).splitlines()
                 if len(line.split()) == 2]
    blobs = git.read_blobs(sorted({blob for blob, _ in pairs}), cwd=cwd)
    return [(commit, blobs[blob]) for blob, commit in pairs if blob in blobs]


def history_notes(tip: str, cwd: str | Path | None = None, *, since: str | None = None
                  ) -> list[tuple[str, bytes]]:
    """(annotated commit, note) for each version of a note that the history of notes commit
    `tip` holds beside its tree: notes edited, removed, or moved to another commit since.

    Read in the neutral git dir (no replace refs) with one `rev-list --objects` and one `cat-file
    --batch`. With `since` (an ancestor of `tip` whose history was read before), only what is new
    to `tip`: the objects `since` cannot reach, and the notes of `since`'s tree that `tip`'s tree
    no longer holds. A ref rewritten without its history has none to read."""
    if since is None:
        revs = [f"{tip}^@", f"^{tip}^{{tree}}"]
    else:
        revs = [tip, f"^{since}"]
    listing = git.text(["rev-list", "--objects", "--end-of-options", *revs, "--"], cwd=cwd,
                       pinned=True).splitlines()
    if since is not None:  # the old side of what changed
        listing += [f"{old} {path}" for path, old, _ in receive.changed_paths(since, tip, cwd)]
    pairs = []
    for line in listing:
        blob, _, path = line.partition(" ")
        commit = _annotated(path)
        if commit:
            pairs.append((blob, commit))
    blobs = git.read_blobs(sorted({blob for blob, _ in pairs}), cwd=cwd)
    return [(commit, blobs[blob]) for blob, commit in pairs if blob in blobs]


def _annotated(path: str) -> str | None:
    """The commit a note's path names (its fan-out directories joined), or None for another file."""
    commit = path.replace("/", "")
    if len(commit) in (40, 64) and all(c in "0123456789abcdef" for c in commit):
        return commit
    return None


def changed_notes(since: str, tip: str, cwd: str | Path | None = None
                  ) -> tuple[set[str], list[tuple[str, bytes]]] | None:
    """What differs between notes commits `since` and `tip`: the annotated commits whose note
    changed or went, and (annotated commit, note) for each note `tip` holds among them. One
    `diff-tree` and one `cat-file --batch`; None when git cannot compare them (an object gone,
    e.g. a refused push's quarantined notes), so the caller reads `tip` whole instead."""
    try:
        changes = receive.changed_paths(since, tip, cwd)
    except ProvenanceError:
        return None
    touched = {commit for path, _, _ in changes if (commit := _annotated(path))}
    present = [(new, commit) for path, _, new in changes
               if (commit := _annotated(path)) and not receive.is_null(new)]
    blobs = git.read_blobs(sorted({blob for blob, _ in present}), cwd=cwd)
    if any(blob not in blobs for blob, _ in present):
        return None
    return touched, [(commit, blobs[blob]) for blob, commit in present]


def tip(cwd: str | Path | None = None) -> str | None:
    """The notes commit the ref points at (None: no note yet)."""
    return git.rev_parse(REF, cwd=cwd)


def is_ancestor(ancestor: str, commit: str, cwd: str | Path | None = None) -> bool:
    """Whether `commit`'s history holds `ancestor`, objects as stored (no replace refs); a missing
    object is an error, not a no."""
    return git.text(["rev-list", "-n1", "--end-of-options", ancestor, f"^{commit}", "--"],
                    cwd=cwd, pinned=True) == ""


def show(commit: str, cwd: str | Path | None = None) -> bytes:
    """The note on `commit` (empty when there is none)."""
    return git.run(["notes", _NOTES, "show", commit], cwd=cwd, check=False)


def write(commit: str, data: bytes, cwd: str | Path | None = None) -> None:
    """Replace the note on `commit` with `data`."""
    git.run(["notes", _NOTES, "add", "-f", "-F", "-", commit], cwd=cwd, input=data)
