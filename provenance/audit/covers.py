"""What a co-signed merge brings in, and the verdicts its cover co-sign lifts.

A merge's cover co-sign approves the commits it brings in (M^1..M) by their change digests; the
walk keeps the digests of the commits it walked last, so that most merges find them without git.
A missing-cosign verdict waits to the end of the walk: a later merge may cover it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from provenance.audit.judge import judge
from provenance.audit.records import CommitRecord, CoverApproval, Judgement, NoteAttestation
from provenance.audit.spool import Encoded, Judgements
from provenance.audit.stream import UNKNOWN, CacheMiss, digests_of, records_of
from provenance.audit.verdicts import Verdicts, ident
from provenance.git import git
from provenance.policy.schema import Policy
from provenance.ssh.sshsig import PublicKey
from provenance.wire import trailers
from provenance.wire.statement import KEY_SIGNATURE


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
    brought = git.text(["rev-list", "--topo-order", merge.sha, f"^{merge.parents[0]}"], cwd=cwd,
                       pinned=True).split()  # children first (git.merges.own_changes)
    known = {sha: recent.get(sha) for sha in brought if sha != merge.sha}
    missing = [sha for sha, change in known.items() if change == UNKNOWN]
    found = set(known.values())
    if missing:
        found |= set(digests_of(missing, cwd, newest_first=True).values())
    return tuple(sorted(found - {UNKNOWN}))


class Pending(NamedTuple):
    """A missing-cosign verdict that a later merge's cover co-sign may lift. Not the commit
    itself: those that need judging again are read from git once more, so that a history with
    many violations does not hold every such commit's message until the walk ends."""

    position: int  # in the walk (its judgement's index)
    sha: str
    walked: bool  # False in a light walk: its verdict again comes from the cache or not at all
    policy_blob: str | None
    covers: tuple[str, ...]
    policy: Policy
    notes: list[NoteAttestation]
    authorized: bool | None
    key: bytes  # its verdict key (b"" without a cache)


def lift(judgements: Judgements, pending: defaultdict[str, list[Pending]],
         covered: dict[str, list[CoverApproval]], revoked: frozenset[PublicKey],
         verdicts: Verdicts | None, cwd: str | Path | None, *, newest_first: bool = False) -> None:
    """Judge again, with their cover co-signs, the missing-cosign verdicts that merges cover
    (`newest_first`: the walk's order is children first, a scan's)."""
    lazy = pending.pop(UNKNOWN, [])
    due = [p for d, waiting in pending.items() if d in covered for p in waiting]
    if lazy and covered:  # commits a scan judged without digests, and merges covering digests
        due += lazy
    due.sort(key=lambda p: p.position)  # in the walk's order (git.merges.own_changes)
    again = {raw.sha: raw for raw in records_of([p.sha for p in due if p.walked], cwd,
                                                 newest_first=newest_first)}
    for p in lazy if covered else ():
        if p.walked:
            pending[again[p.sha].digest].append(p)
    for d, waiting in pending.items():
        for p in waiting if d in covered else ():
            judgements[p.position] = rejudge(p, again.get(p.sha), covered[d], revoked, verdicts)


def rejudge(p: Pending, raw: CommitRecord | None, approvals: Sequence[CoverApproval],
            revoked: frozenset[PublicKey], verdicts: Verdicts | None) -> Judgement | Encoded:
    """A missing-cosign verdict again, with the cover co-signs of the merges that bring it in."""
    key = b""
    if verdicts is not None:
        key = verdicts.key(p.key.hex(), ident(json.dumps(
            [[a.merge, a.signer, a.key.openssh()] for a in approvals])))
        hit = verdicts.db.verdict(p.sha, key)
        if hit is not None:
            return hit[0]
    if raw is None:
        raise CacheMiss
    record = raw._replace(policy_blob=p.policy_blob, covers=p.covers)
    j = judge(record, p.policy, p.notes, revoked, cover_approvals=approvals,
              policy_change_authorized=p.authorized)
    if verdicts is not None:
        verdicts.db.put_verdict(p.sha, key, j, ())
    return j
