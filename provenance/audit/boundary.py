"""The policy in force at commits outside a range, computed from the trust root without judging
history: what a range audit (`A..B`), the pre-push gate and a server hook need at their boundary.

One git process lists the policy-relevant history (DESIGN §4, docs/performance.md): every commit
that changes `.provenance.toml` against its first parent and every merge, with parents rewritten
to the nearest listed ancestors, `git log --full-history --parents -- .provenance.toml`. The policy
chain is then settled over that small graph exactly as the full walk settles it (`chain.settle`,
the same judge on the same records and notes), so a range audit judges as the full audit would.
A commit that is not listed has the policy of the nearest listed commit on its first-parent
chain. Each answer is cached per commit, with what it depends on: the trust root, the revoked
keys it was computed with, the tool version, and the notes that reached the policy changes judged.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from provenance.audit import cache
from provenance.audit.chain import ROOT, PolicyChain, settle
from provenance.audit.judge import judge
from provenance.audit.notes import Index, matched
from provenance.audit.records import CommitRecord
from provenance.audit.stream import NULL_OID, records_of
from provenance.git import git
from provenance.policy.schema import POLICY_FILE
from provenance.ssh import sshsig
from provenance.ssh.sshsig import PublicKey

_KIND = "boundary-state"


class Outside(NamedTuple):
    """The policy in force at commits outside a range, as nodes of `chain`, and the keys revoked
    by every authorised policy of the history from the trust root to them."""

    chain: PolicyChain
    states: dict[str, int]
    revoked: frozenset[PublicKey]


class Notes(NamedTuple):
    by_digest: Index
    by_commit: Index


class _Node(NamedTuple):
    """One listed commit: its rewritten parents, and the policy ids when it changes the policy
    against its (rewritten) first parent."""

    parents: tuple[str, ...]
    change: tuple[str, str] | None


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
    notes: Notes, cwd: str | Path | None, db: cache.Cache | None,
) -> Outside:
    """The policy in force at each of `commits` (and the keys revoked up to them), settled over
    the history from `root` with the keys `revoked` rejected, on a copy of `chain` (rooted at
    `root`'s policy)."""
    chain = chain.copy()
    states: dict[str, int] = {}
    gone: set[PublicKey] = set()
    context = _context(root, revoked)
    missing = []
    for sha in dict.fromkeys(commits):
        hit = _recall(db, context, sha, notes, chain, cwd)
        if hit is None:
            missing.append(sha)
        else:
            states[sha], keys = hit
            gone |= keys
    if missing:
        walked = _walk(chain, root, missing, revoked, notes, cwd)
        for sha in missing:
            node, keys, judged = walked.at(sha)
            states[sha] = node
            gone |= keys
            if db is not None:
                db.remember(json.dumps({
                    "path": chain.path(node), "revoked": sorted(k.openssh() for k in keys),
                    "notes": _notes_hash(judged, notes)}), _KIND, context, sha)
    return Outside(chain, states, frozenset(gone))


def _context(root: str, revoked: frozenset[PublicKey]) -> str:
    return hashlib.sha256(json.dumps([root, sorted(k.openssh() for k in revoked)]).encode()
                          ).hexdigest()


def _recall(db: cache.Cache | None, context: str, sha: str, notes: Notes, chain: PolicyChain,
            cwd: str | Path | None) -> tuple[int, frozenset[PublicKey]] | None:
    stored = db.recall(_KIND, context, sha) if db is not None else None
    if stored is None:
        return None
    value = json.loads(stored)
    notes_hash, judged = value["notes"]
    if _notes_hash([tuple(j) for j in judged], notes)[0] != notes_hash:
        return None  # a co-sign of a policy change came or went: settle again
    node = chain.follow(value["path"], cwd)
    if node is None:
        return None
    return node, frozenset(_key(k) for k in value["revoked"])


def _key(openssh: str) -> PublicKey:
    algorithm, b64 = openssh.split(" ", 2)[:2]
    return PublicKey(algorithm, sshsig.unb64(b64))


def _notes_hash(judged: Sequence[tuple[str, str]], notes: Notes
                ) -> tuple[str, list[tuple[str, str]]]:
    """A hash of the attestations that reach the policy changes `judged` ((commit, digest)), and
    the list itself: the only notes a boundary's state depends on."""
    h = hashlib.sha256()
    for sha, change in sorted(judged):
        for att in sorted(matched(sha, change, notes.by_digest, notes.by_commit),
                          key=lambda a: (a.value, a.note_commit)):
            h.update(json.dumps([sha, att.value, att.note_commit]).encode() + b"\n")
    return h.hexdigest(), list(judged)


class _Walked:
    """The policy-relevant history, settled: a commit's policy, and what it depends on."""

    def __init__(self, nodes: Mapping[str, _Node], states: Mapping[str, int],
                 adopted: Mapping[str, int], judged: Mapping[str, str], chain: PolicyChain,
                 anchor: _Anchor) -> None:
        self.nodes, self.states, self.adopted, self.judged = nodes, states, adopted, judged
        self.chain, self.anchor = chain, anchor

    def at(self, sha: str) -> tuple[int, frozenset[PublicKey], list[tuple[str, str]]]:
        """(policy in force at `sha`, keys revoked by the policies adopted up to it, the policy
        changes judged up to it with their digests)."""
        start = self.anchor(sha)
        if start is None:
            return ROOT, self.chain.revoked_by(ROOT), []
        keys = set(self.chain.revoked_by(ROOT))
        judged = []
        seen, todo = {start}, [start]
        while todo:
            at = todo.pop()
            if at in self.adopted:
                keys |= self.chain.revoked_by(self.adopted[at])
            if at in self.judged:
                judged.append((at, self.judged[at]))
            for parent in self.nodes[at].parents:
                if parent in self.nodes and parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return self.states[start], frozenset(keys), judged


class _Anchor:
    """The nearest listed commit on a commit's first-parent chain (itself when listed): where the
    policy in force at it was last settled. None: none before the trust root's history."""

    def __init__(self, listed: Mapping[str, object], exclude: Sequence[str],
                 cwd: str | Path | None) -> None:
        self.listed, self.exclude, self.cwd = listed, exclude, cwd

    def __call__(self, sha: str) -> str | None:
        if sha in self.listed:
            return sha
        # Most first-parent chains meet a merge within a few commits: read only that far.
        for line in git.stream([*git.BOUNDED_MEMORY_CONFIG, "rev-list", "--first-parent", sha,
                                *(f"^{x}" for x in self.exclude), "--"], cwd=self.cwd, pinned=True):
            found = line.decode().strip()
            if found in self.listed:
                return found
        return None


def _walk(chain: PolicyChain, root: str, tips: Sequence[str], revoked: frozenset[PublicKey],
          notes: Notes, cwd: str | Path | None) -> _Walked:
    # A root commit without the policy would be dropped from its children's rewritten parents,
    # shifting them; excluded, it is kept as a parent outside the walk, in force: the root's policy
    # (as the full walk has it). Finding them takes a walk of its own, on the other core.
    roots: list[str] = []
    finder = threading.Thread(target=lambda: roots.extend(git.text(
        [*git.BOUNDED_MEMORY_CONFIG, "rev-list", "--max-parents=0", *tips, f"^{root}", "--"],
        cwd=cwd, pinned=True).split()))
    finder.start()
    nodes = _listing(tips, [root], cwd)
    finder.join()
    bare = [r for r in roots if r not in nodes]  # a root holding the policy is listed
    exclude = [root, *bare]
    if bare:
        nodes = _listing(tips, exclude, cwd)
    order = _parents_first(nodes)  # git's listing is by date: own_changes needs parents first
    changed = [sha for sha in order if nodes[sha].change is not None]
    records = {raw.sha: raw for raw in records_of(changed, cwd)}
    anchor = _Anchor(nodes, exclude, cwd)
    states: dict[str, int] = {}
    adopted: dict[str, int] = {}
    judged: dict[str, str] = {}
    for sha in order:
        node = nodes[sha]
        base = states.get(node.parents[0], ROOT) if node.parents else ROOT
        if node.change is None:
            states[sha] = base
            continue
        raw = records[sha]
        old, new = node.change
        new_blob = None if new.strip("0") == "" else new
        policy_blob = new_blob or NULL_OID
        others = _other_parents(raw, node, anchor, states)
        inherited = chain.fast_forward(base, policy_blob, others)
        j = judge(raw._replace(policy_blob=policy_blob), chain.policies[base],
                  matched(sha, raw.digest, notes.by_digest, notes.by_commit), revoked,
                  policy_change_authorized=True if inherited is not None else None)
        after, _ = settle(chain, base, new_blob, inherited, j, sha, cwd)
        states[sha] = after
        judged[sha] = raw.digest
        if after not in (base, inherited):
            adopted[sha] = after
    return _Walked(nodes, states, adopted, judged, chain, anchor)


def _other_parents(raw: CommitRecord, node: _Node, anchor: _Anchor, states: Mapping[str, int]
                   ) -> Iterable[int]:
    """The policies in force at a merge's parents other than the first, as the full walk sees
    them. Rewriting keeps a merge's parents in order and drops only duplicates (parents whose
    nearest listed ancestor is the same), so a merge keeping all its parents, or only one, maps
    them directly; an octopus that lost some asks for each."""
    real = raw.parents[1:]
    if len(node.parents) == len(raw.parents):
        listed = node.parents[1:]
    elif len(node.parents) == 1:
        listed = node.parents * len(real)
    else:
        listed = tuple(anchor(q) or "" for q in real)
    return (states.get(q, ROOT) for q in listed)


def _listing(tips: Sequence[str], exclude: Sequence[str], cwd: str | Path | None
             ) -> dict[str, _Node]:
    """The policy-relevant history of `tips` (not of `exclude`): one `git log`, no diffs but the
    policy file's against the first parent. `--topo-order`: in git's date order, path limiting
    rewrites parents wrongly when commits share a timestamp (a rebase, a fast script), and the
    policy in force differed from the full walk's; with a commit-graph it costs more (measured
    6.8 s against 0.44 s at 100k commits), a price for the right answer."""
    out = git.run([*git.BOUNDED_MEMORY_CONFIG, "log", "--full-history", "--topo-order", "--parents",
                   "--diff-merges=first-parent", "--raw", "--no-abbrev", "--format=%x00%H %P",
                   *tips, *(f"^{x}" for x in exclude), "--", POLICY_FILE], cwd=cwd, pinned=True)
    nodes: dict[str, _Node] = {}
    for entry in out.decode("utf-8", "surrogateescape").split("\0")[1:]:
        head, _, rest = entry.partition("\n")
        sha, *parents = head.split()
        change = None
        for line in rest.splitlines():
            if line.startswith(":") and line.endswith(f"\t{POLICY_FILE}"):
                old, new, status = line.split()[2:5]
                if status.startswith("T"):  # as its patch shows it: a deletion, then a new file
                    new = "0" * len(old)
                if old != new:  # not a change of mode alone
                    change = (old, new)
        nodes[sha] = _Node(tuple(parents), change)
    return nodes


def _parents_first(nodes: Mapping[str, _Node]) -> list[str]:
    """The listed commits, each after its listed parents (git's order is by date, which a
    committer's clock can get wrong)."""
    waiting = {sha: sum(p in nodes for p in set(node.parents)) for sha, node in nodes.items()}
    children: dict[str, list[str]] = {}
    for sha, node in nodes.items():
        for parent in set(node.parents):
            if parent in nodes:
                children.setdefault(parent, []).append(sha)
    ready = [sha for sha, n in waiting.items() if n == 0]
    order = []
    while ready:
        sha = ready.pop()
        order.append(sha)
        for child in children.get(sha, ()):
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    return order
