"""A note under refs/notes/provenance: one `Key: value` attestation a line.

Notes from several seniors merge with git's `cat_sort_uniq` strategy (lines sorted, duplicates
dropped), so nothing here depends on line order, and writing keeps exactly one attestation a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from provenance.errors import ProvenanceError
from provenance.git import notes


def fields(text: str) -> list[tuple[str, str]]:
    """The `Key: value` lines of a note, keys lower-cased."""
    out = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out.append((key.strip().lower(), value.strip()))
    return out


def read(commit: str, cwd: str | Path | None = None) -> list[str]:
    """The lines of the note on `commit` (empty when there is none)."""
    out = notes.show(commit, cwd)
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
    notes.write(commit, text.encode("utf-8", "surrogateescape"), cwd)
