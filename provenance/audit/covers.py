"""What a co-signed merge brings in: the digests its `covers` lines may name.

A merge's cover co-sign approves the commits it brings in (M^1..M) by their change digests; the
walk keeps the digests of the commits it walked last, so that most merges find them without git.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from provenance import git, trailers
from provenance.audit.records import CommitRecord, NoteAttestation
from provenance.audit.stream import UNKNOWN, digests_of
from provenance.statement import KEY_SIGNATURE


def has_cosign(raw: CommitRecord, found: Sequence[NoteAttestation]) -> bool:
    values = trailers.values(raw.message, KEY_SIGNATURE) + [n.value for n in found]
    return any(v.split()[1:2] == ["cosign"] for v in values)


class Recent:
    """Digests of the commits walked last, for the merges that bring them in: at least the latest
    `generation`, at most twice that. Two dicts, the older dropped whole when the younger fills:
    an OrderedDict evicting an entry a commit kept resizing its table, and each resize stayed in
    the process (its resident size grew in 3 MB steps at 100k commits)."""

    def __init__(self, generation: int) -> None:
        self._generation = generation
        self._young: dict[bytes, str] = {}
        self._old: dict[bytes, str] = {}

    def add(self, sha: str, change: str) -> None:
        if not self._generation:
            return
        if len(self._young) >= self._generation:
            self._old, self._young = self._young, {}
        self._young[bytes.fromhex(sha)] = change  # 53 bytes, not the 89 of a str

    def get(self, sha: str) -> str:
        key = bytes.fromhex(sha)
        return self._young.get(key) or self._old.get(key, UNKNOWN)


RECENT = 25_000


def brought_in(merge: CommitRecord, recent: Recent, cwd: str | Path | None) -> tuple[str, ...]:
    """Digests of the commits a merge brings in (M^1..M, M itself excluded).

    They were walked before the merge: their digests come from `recent`, and only those it no
    longer holds (or a scan did not compute) from git."""
    brought = git.text(["rev-list", merge.sha, f"^{merge.parents[0]}"], cwd=cwd,
                       pinned=True).split()
    known = {sha: recent.get(sha) for sha in brought if sha != merge.sha}
    missing = [sha for sha, change in known.items() if change == UNKNOWN]
    found = set(known.values())
    if missing:
        found |= set(digests_of(missing, cwd).values())
    return tuple(sorted(found - {UNKNOWN}))
