"""A server's rule for refs/notes/provenance: attestations are only ever added.

Co-signs and after-the-fact declarations live in notes, and a note is as easy to delete as to
write: `git notes remove`, or a notes ref rebuilt without a line, then force-pushed. On the server
an update of the notes ref must keep every line of every note that was there (what
`git provenance sync` and git's `cat_sort_uniq` merge do: they union), and be a fast-forward, so
the notes' history, where the audit finds declarations removed before, stays whole. Lines are
compared as bytes, whatever they say: the guard decides nothing about signatures (the audit does).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from provenance.git import receive
from provenance.git.notes import REF


class Dropped(NamedTuple):
    """A line of a note on the server that the update no longer has."""

    annotated: str  # the object the note hangs on
    line: str


class NotesVerdict(NamedTuple):
    problem: str | None  # None: the update may go in
    dropped: tuple[Dropped, ...] = ()


def _annotated(path: str) -> str:
    """The object a note hangs on: git fans the notes tree out (`ab/cdef…`) as it grows."""
    return path.replace("/", "")


def judge_update(update: receive.RefUpdate, cwd: str | Path | None = None) -> NotesVerdict:
    """Whether an update of refs/notes/provenance keeps every attestation the server holds."""
    if update.deleted:
        return NotesVerdict(f"deleting {REF} would drop every co-sign and declaration it holds")
    if update.created:
        return NotesVerdict(None)
    if not receive.is_commit(update.new, cwd):
        return NotesVerdict(f"{update.new[:12]} is not a notes commit")
    dropped = dropped_lines(update.old, update.new, cwd)
    if dropped:
        return NotesVerdict(f"this update of {REF} drops {len(dropped)} attestation line(s) that "
                            "the server holds", tuple(dropped))
    if not receive.is_ancestor(update.old, update.new, cwd):
        return NotesVerdict(f"this update of {REF} is not a fast-forward: it rewrites the notes' "
                            "history, where the audit finds declarations that were removed")
    return NotesVerdict(None)


def dropped_lines(old: str, new: str, cwd: str | Path | None = None) -> list[Dropped]:
    """The lines of notes in `old` that `new` does not have on the same object: one tree diff,
    and the blobs of the notes it shows changed or removed."""
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    for path, old_blob, new_blob in receive.changed_paths(old, new, cwd):
        if not receive.is_null(old_blob):
            before[_annotated(path)] = old_blob
        if not receive.is_null(new_blob):
            after[_annotated(path)] = new_blob
    if not before:
        return []
    contents = receive.blobs([*before.values(), *after.values()], cwd)
    dropped = []
    for annotated, blob in sorted(before.items()):
        kept = set(_lines(contents.get(after.get(annotated, ""), b"")))
        dropped += [Dropped(annotated, line.decode("utf-8", "replace"))
                    for line in _lines(contents.get(blob, b"")) if line not in kept]
    return dropped


def _lines(note: bytes) -> list[bytes]:
    """A note's attestations: its lines without the blanks and spaces `cat_sort_uniq` and
    `git provenance cosign` do not keep either."""
    return [line.strip() for line in note.split(b"\n") if line.strip()]


def describe(verdict: NotesVerdict, shown: int = 5) -> list[str]:
    """The refusal, for the pusher: what goes, and how notes are meant to move."""
    assert verdict.problem is not None
    out = [verdict.problem]
    for d in verdict.dropped[:shown]:
        text = d.line if len(d.line) <= 72 else d.line[:69] + "..."
        out.append(f"  on {d.annotated[:12]}: {text}")
    if len(verdict.dropped) > shown:
        out.append(f"  ... and {len(verdict.dropped) - shown} more")
    out.append(f"notes only grow here: fetch and merge them, then push (git provenance sync), "
               f"never force-push {REF}")
    return out
