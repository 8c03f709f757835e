"""The policy in force at commits outside a range, computed from the trust root without judging
history: what a range audit (`A..B`), the pre-push gate and a server hook need at their boundary.

The policy-relevant history is listed and settled by audit/policy_history.py, exactly as the full
walk settles it. Each answer is cached per commit, with what it depends on: the trust root, the
revoked keys it was computed with, the tool version, and the notes that reached the policy
changes judged; so is the state at a range's tips (the pushed tip: the next push's boundary).
A commit not cached is settled from the nearest cached ancestors (the latest cached commits are
kept in a list): only the history between them is listed, its exits taking the cached states or
settled the same way. What cannot be settled so (no cached ancestor, too deep) is settled from
the trust root: slower, and the same answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from provenance.audit import cache
from provenance.audit.chain import PolicyChain
from provenance.audit.notes import Index, matched
from provenance.audit.policy_history import State, root_state, settle_history
from provenance.git import git
from provenance.git.notes import is_ancestor
from provenance.ssh import sshsig
from provenance.ssh.sshsig import PublicKey

_KIND = "boundary-state"
_LATEST = "boundary-latest"  # the latest commits whose state is cached, newest first
_KEEP = 16
_ASK = 8  # of them, asked whether they are ancestors of a commit to settle
_DEPTH = 3  # exits settled from cached ancestors in turn, at most this deep


class Outside(NamedTuple):
    """The policy in force at commits outside a range, as nodes of `chain`, and the keys revoked
    by every authorised policy of the history from the trust root to them."""

    chain: PolicyChain
    states: dict[str, int]
    revoked: frozenset[PublicKey]


class Notes(NamedTuple):
    by_digest: Index
    by_commit: Index


def boundary_of(revs: Sequence[str], root: str, cwd: str | Path | None) -> list[str]:
    """The commits outside `revs` that are parents of commits in it, other than the trust root
    and its ancestors' way in; empty when the range excludes nothing but the trust root."""
    resolved = git.resolve_revs(revs, cwd=cwd)
    if all(r == f"^{root}" for r in resolved if r.startswith("^")):
        return []
    out = git.text([*git.BOUNDED_MEMORY_CONFIG, "rev-list", "--boundary", *resolved, f"^{root}",
                    "--"], cwd=cwd, pinned=True)
    return [line[1:] for line in out.splitlines() if line.startswith("-") and line[1:] != root]


def outside(
    chain: PolicyChain, root: str, commits: Sequence[str], revoked: frozenset[PublicKey],
    notes: Notes, cwd: str | Path | None, db: cache.Cache | None, tips: Sequence[str] = (),
) -> Outside:
    """The policy in force at each of `commits` (and the keys revoked up to them), settled over
    the history from `root` with the keys `revoked` rejected, on a copy of `chain` (rooted at
    `root`'s policy). With `tips` (a range's, whose parents outside it are `commits`), their
    state is cached too: the next push's boundary is this one's tip."""
    known = _Known(chain.copy(), root, revoked, notes, cwd, db)
    states: dict[str, int] = {}
    gone: set[PublicKey] = set()
    missing = [sha for sha in dict.fromkeys(commits) if known.get(sha) is None]
    known.settle(missing)
    for sha in dict.fromkeys(commits):
        state = known.get(sha)
        assert state is not None
        states[sha] = state.node
        gone |= state.revoked
    if tips and db is not None:
        known.settle_tips(tips, list(states))
    known.keep_latest()
    return Outside(known.chain, states, frozenset(gone))


class _Known:
    """The states one audit knows: settled in this run, or cached."""

    def __init__(self, chain: PolicyChain, root: str, revoked: frozenset[PublicKey],
                 notes: Notes, cwd: str | Path | None, db: cache.Cache | None) -> None:
        self.chain, self.root, self.revoked, self.notes, self.cwd, self.db = (
            chain, root, revoked, notes, cwd, db)
        self.context = _context(root, revoked)
        self.states: dict[str, State] = {root: root_state(chain)}
        stored = db.recall(_LATEST, self.context) if db is not None else None
        self.latest = (stored or "").split()
        self.added: list[str] = []

    def get(self, sha: str) -> State | None:
        if sha not in self.states:
            hit = _recall(self.db, self.context, sha, self.notes, self.chain, self.cwd)
            if hit is None:
                return None
            self.states[sha] = hit
        return self.states[sha]

    def put(self, sha: str, state: State, *, latest: bool = True,
            chain: PolicyChain | None = None) -> None:
        """Keep `sha`'s state (a node of `chain`, by default the one returned), and cache it;
        `latest`: list it among the latest cached (what a later boundary may descend from),
        unlike an exit (an older commit)."""
        if chain is None:
            self.states[sha] = state
        if self.db is not None and sha != self.root:
            self.db.remember(json.dumps({
                "path": (chain or self.chain).path(state.node),
                "revoked": sorted(k.openssh() for k in state.revoked),
                "notes": _notes_hash(state.judged, self.notes)}), _KIND, self.context, sha)
            if latest:
                self.added.append(sha)

    def settle(self, missing: Sequence[str], depth: int = 0) -> None:
        """Settle `missing`: each from its cached ancestors when it has some, the rest (and
        whatever that cannot settle) from the trust root in one listing."""
        slow = [sha for sha in missing if depth >= _DEPTH or not self._from_cached(sha, depth)]
        if not slow:
            return
        start = root_state(self.chain)
        full = settle_history(self.chain, slow, [self.root], lambda _: start, self.revoked,
                              self.notes, self.cwd)
        assert full is not None  # every exit is the trust root's history: its state is known
        for sha in slow:
            state = full.at(sha)
            assert state is not None
            self.put(sha, state, latest=depth == 0)

    def _from_cached(self, sha: str, depth: int) -> bool:
        """Settle `sha` over the history since its cached ancestors; False when it has none, or
        an exit of that history cannot be settled so."""
        # Only an ancestor's state may be read: it puts its policies on the chain, whose
        # revocations the range walk applies.
        cached = [c for c in self.latest[:_ASK] if c != sha and is_ancestor(c, sha, self.cwd)
                  and self.get(c) is not None]
        if not cached:
            return False
        done = settle_history(self.chain, [sha], [self.root, *cached],
                              lambda exit: self._exit(exit, depth), self.revoked, self.notes,
                              self.cwd)
        state = done.at(sha) if done is not None else None
        if state is None:
            return False
        self.put(sha, state, latest=depth == 0)
        return True

    def _exit(self, sha: str, depth: int) -> State | None:
        """An exit's state: cached, or settled in turn (a branch forked before a cached commit
        and merged after it leaves by its fork point)."""
        if self.get(sha) is None:
            self.settle([sha], depth + 1)
        return self.get(sha)

    def settle_tips(self, tips: Sequence[str], edge: Sequence[str]) -> None:
        """Cache the state at a range's `tips`, settled over the range from its `edge` (its
        parents outside it, each known): every exit of that listing is one of them."""
        # On a copy: the range walk adopts the range's policies itself, if it reaches them.
        chain = self.chain.copy()
        todo = [t for t in dict.fromkeys(tips) if t not in self.states and _recall(
            self.db, self.context, t, self.notes, chain, self.cwd) is None]
        if not todo:
            return
        done = settle_history(chain, todo, [self.root, *edge], self.states.get, self.revoked,
                              self.notes, self.cwd)
        for sha in todo:
            state = done.at(sha) if done is not None else None
            if state is not None:
                self.put(sha, state, chain=chain)

    def keep_latest(self) -> None:
        if self.db is not None and self.added:
            latest = list(dict.fromkeys([*reversed(self.added), *self.latest]))[:_KEEP]
            self.db.remember(" ".join(latest), _LATEST, self.context)


def _context(root: str, revoked: frozenset[PublicKey]) -> str:
    return hashlib.sha256(json.dumps([root, sorted(k.openssh() for k in revoked)]).encode()
                          ).hexdigest()


def _recall(db: cache.Cache | None, context: str, sha: str, notes: Notes, chain: PolicyChain,
            cwd: str | Path | None) -> State | None:
    stored = db.recall(_KIND, context, sha) if db is not None else None
    if stored is None:
        return None
    value = json.loads(stored)
    notes_hash, judged = value["notes"]
    judged_set = frozenset((a, b) for a, b in judged)
    if _notes_hash(judged_set, notes)[0] != notes_hash:
        return None  # a co-sign of a policy change came or went: settle again
    node = chain.follow(value["path"], cwd)
    if node is None:
        return None
    return State(node, frozenset(_key(k) for k in value["revoked"]), judged_set)


def _key(openssh: str) -> PublicKey:
    algorithm, b64 = openssh.split(" ", 2)[:2]
    return PublicKey(algorithm, sshsig.unb64(b64))


def _notes_hash(judged: Iterable[tuple[str, str]], notes: Notes
                ) -> tuple[str, list[tuple[str, str]]]:
    """A hash of the attestations that reach the policy changes `judged` ((commit, digest)), and
    the list itself: the only notes a boundary's state depends on."""
    h = hashlib.sha256()
    ordered = sorted(judged)
    for sha, change in ordered:
        for att in sorted(matched(sha, change, notes.by_digest, notes.by_commit),
                          key=lambda a: (a.value, a.note_commit)):
            h.update(json.dumps([sha, att.value, att.note_commit]).encode() + b"\n")
    return h.hexdigest(), ordered
