"""The policy-relevant history of some tips, listed and settled: what audit/boundary.py answers
the policy in force with, from the trust root or from states known at commits it excludes.

The policy-relevant history (DESIGN §4, docs/performance.md) is every commit that changes
`.provenance.toml` against its first parent and every merge, with parents rewritten to the
nearest listed ancestors. Since commits whose state is known, one git process lists it, `git log
--full-history --parents -- .provenance.toml`; from the trust root, it is read from the one walk
of the whole history that found the default trust root (audit/whole_history.py). A
rewritten parent that is not listed is an excluded commit where the listing stops (an "exit"):
its state must be known (the trust root's, or one settled before). The policy chain is settled
over that small graph exactly as the full walk settles it (`chain.settle`, the same judge on the
same records and notes). A commit that is not listed has the state of the nearest listed commit
on its first-parent chain, or of the exit that chain leaves by.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from provenance.audit import whole_history
from provenance.audit.chain import ROOT, PolicyChain, settle
from provenance.audit.judge import judge
from provenance.audit.notes import Index, matched
from provenance.audit.records import CommitRecord
from provenance.audit.stream import NULL_OID, records_of
from provenance.git import git
from provenance.git.history import changed_path_filters
from provenance.policy.schema import POLICY_FILE
from provenance.ssh.sshsig import PublicKey


class State(NamedTuple):
    """What a commit's history settles: the policy in force (a node of the chain), the keys
    revoked by every policy adopted up to it (the root's included), and the policy changes judged
    up to it, (commit, digest): the only notes the answer depends on."""

    node: int
    revoked: frozenset[PublicKey]
    judged: frozenset[tuple[str, str]]


class Node(NamedTuple):
    """One listed commit: its rewritten parents, and the policy ids when it changes the policy
    against its (rewritten) first parent."""

    parents: tuple[str, ...]
    change: tuple[str, str] | None


Resolve = Callable[[str], "State | None"]  # an exit's state; None: not known


def root_state(chain: PolicyChain) -> State:
    return State(ROOT, chain.revoked_by(ROOT), frozenset())


class Settled:
    """The listed commits of some tips, settled, and how to answer any commit of their history."""

    def __init__(self, nodes: Mapping[str, Node], states: Mapping[str, State],
                 anchor: _Anchor, resolve: Resolve) -> None:
        self.nodes, self.states, self.anchor, self.resolve = nodes, states, anchor, resolve

    def at(self, sha: str) -> State | None:
        """The state at `sha` (a commit of the listed tips' history, or an exit); None when its
        first-parent chain leaves by an exit whose state is not known."""
        if sha in self.states:
            return self.states[sha]
        found = self.anchor(sha)
        return self.states[found] if isinstance(found, str) else found


class _Anchor:
    """The nearest listed commit on a commit's first-parent chain (itself when listed), or the
    state of the exit the chain leaves the listing by (a root commit: the trust root's)."""

    def __init__(self, listed: Mapping[str, object], exclude: Sequence[str], resolve: Resolve,
                 start: State, cwd: str | Path | None,
                 first_parent: Mapping[str, str | None] | None) -> None:
        self.listed, self.exclude, self.resolve, self.start = listed, exclude, resolve, start
        self.cwd, self.first_parent = cwd, first_parent

    def __call__(self, sha: str) -> str | State | None:
        if sha in self.listed:
            return sha
        if self.first_parent is not None:
            return self._walked(sha, self.first_parent)
        last: list[str] | None = None
        # Most first-parent chains meet a merge within a few commits: read only that far. Only
        # the trust root is excluded: past it, nothing is listed and everything has its state.
        for line in git.stream([*git.BOUNDED_MEMORY_CONFIG, "rev-list", "--first-parent",
                                "--parents", sha, *(f"^{x}" for x in self.exclude), "--"],
                               cwd=self.cwd, pinned=True):
            found, *last = line.decode().split()
            if found in self.listed:
                return found
        if last is None:  # `sha` itself is excluded
            return self.resolve(sha)
        return self.resolve(last[0]) if last else self.start  # a root commit: no policy before

    def _walked(self, sha: str, first_parent: Mapping[str, str | None]) -> str | State | None:
        """The chain read from the commits walked (a range's, or the whole history's):
        `rev-list --first-parent` marks only first parents of the excluded commits as excluded,
        so it would walk on past a commit that a cached commit reaches by a merge, into history
        this listing left out."""
        at = sha
        while at in first_parent and at not in self.listed:
            parent = first_parent[at]
            if parent is None:
                return self.start  # a root commit: no policy before
            at = parent
        return at if at in self.listed else self.resolve(at)


def _range(tips: Sequence[str], exclude: Sequence[str], cwd: str | Path | None
           ) -> tuple[dict[str, str | None], list[str]]:
    """The commits of `tips` but not of `exclude`, each with its first parent (None: a root
    commit), and the excluded parents they have (the range's edge)."""
    first_parent: dict[str, str | None] = {}
    parents: set[str] = set()
    for line in git.text([*git.BOUNDED_MEMORY_CONFIG, "rev-list", "--parents", *tips,
                          *(f"^{x}" for x in exclude), "--"], cwd=cwd, pinned=True).splitlines():
        sha, *others = line.split()
        first_parent[sha] = others[0] if others else None
        parents.update(others)
    return first_parent, sorted(parents.difference(first_parent))


def settle_history(
    chain: PolicyChain, tips: Sequence[str], exclude: Sequence[str], resolve: Resolve,
    revoked: frozenset[PublicKey], notes: tuple[Index, Index], cwd: str | Path | None,
) -> Settled | None:
    """The history of `tips` but not of `exclude` (the trust root and commits whose state
    `resolve` knows), settled on `chain` (which grows). None: it leaves by an exit whose state
    `resolve` does not know."""
    start = root_state(chain)
    first_parent: Mapping[str, str | None] | None
    if len(exclude) > 1:  # more than the trust root: a range since commits `resolve` knows
        first_parent, edge = _range(tips, exclude, cwd)
        # Every excluded parent named: git keeps a merge only between "relevant" commits (the
        # range's, or excluded ones named on its command line), and would drop a merge with the
        # policy of a named parent, though it differs from its first parent's (rev-list.c).
        exclude = list(dict.fromkeys([*exclude, *edge]))
        nodes = listing(tips, exclude, cwd)
        # A root commit without the policy would be dropped from its children's rewritten
        # parents, shifting them; excluded, it is kept as a parent outside the walk, in force:
        # the root's policy (as the full walk has it).
        bare = [sha for sha, parent in first_parent.items() if parent is None and sha not in nodes]
        if bare:
            nodes = listing(tips, [*exclude, *bare], cwd)
    elif changed_path_filters(cwd):  # git skips most trees: pruned walks cost less
        first_parent = None
        nodes, bare = _pruned(tips, exclude, cwd)
        exclude = [*exclude, *bare]
    else:  # the whole history since the trust root, from one walk of it
        nodes, first_parent, bare = _from_whole(tips, exclude, cwd)
    known = dict.fromkeys(bare, start)

    def outside(sha: str) -> State | None:
        return known[sha] if sha in known else resolve(sha)

    anchor = _Anchor(nodes, exclude, outside, start, cwd, first_parent)
    states: dict[str, State] = {}
    for sha in {p for node in nodes.values() for p in node.parents if p not in nodes}:
        exit_state = outside(sha)
        if exit_state is None:
            return None
        states[sha] = exit_state
    order = parents_first(nodes)  # git's listing is by date: own_changes needs parents first
    changed = [sha for sha in order if nodes[sha].change is not None]
    records = {raw.sha: raw for raw in records_of(changed, cwd)}
    by_digest, by_commit = notes
    for sha in order:
        node = nodes[sha]
        parents = [states[p] for p in node.parents]
        base = parents[0] if parents else start
        keys, judged = _union(start, parents)
        if node.change is None:
            states[sha] = State(base.node, keys, judged)
            continue
        raw = records[sha]
        new = node.change[1]
        new_blob = None if new.strip("0") == "" else new
        policy_blob = new_blob or NULL_OID
        others = _other_parents(raw, node, anchor, states)
        if others is None:
            return None
        inherited = chain.fast_forward(base.node, policy_blob, others)
        j = judge(raw._replace(policy_blob=policy_blob), chain.policies[base.node],
                  matched(sha, raw.digest, by_digest, by_commit), revoked,
                  policy_change_authorized=True if inherited is not None else None)
        after, _ = settle(chain, base.node, new_blob, inherited, j, sha, cwd)
        if after not in (base.node, inherited):  # adopted here: its revocations count from here
            keys = keys | chain.revoked_by(after)
        states[sha] = State(after, keys, judged | {(sha, raw.digest)})
    return Settled(nodes, states, anchor, outside)


def _pruned(tips: Sequence[str], exclude: Sequence[str], cwd: str | Path | None
            ) -> tuple[dict[str, Node], list[str]]:
    """The policy-relevant graph of `tips ^exclude` (the trust root) from git's path-limited
    listing, and the root commits without the policy, where changed-path filters make that
    cheaper than the whole walk. A root commit without the policy would be dropped from its
    children's rewritten parents, shifting them; excluded, it is kept as a parent outside the
    walk, in force: the root's policy (as the full walk has it). Finding them takes a walk of
    its own, on the other core."""
    roots: list[str] = []
    finder = threading.Thread(target=lambda: roots.extend(git.text(
        [*git.BOUNDED_MEMORY_CONFIG, "rev-list", "--max-parents=0", *tips,
         *(f"^{x}" for x in exclude), "--"], cwd=cwd, pinned=True).split()))
    finder.start()
    nodes = listing(tips, exclude, cwd)
    finder.join()
    bare = [r for r in roots if r not in nodes]  # a root holding the policy is listed
    return (listing(tips, [*exclude, *bare], cwd) if bare else nodes), bare


def _from_whole(tips: Sequence[str], exclude: Sequence[str], cwd: str | Path | None
                ) -> tuple[dict[str, Node], Mapping[str, str | None], list[str]]:
    """The policy-relevant graph of `tips ^exclude` (the trust root) as `listing` gives it, with
    each commit's first parent and the root commits without the policy, from one walk: the
    one that found the default trust root when it covers `tips`, else `tips ^exclude`'s.

    Listed: every merge and every commit that changes the policy against its first parent (a
    merge with one parent in the history is listed too: its other parents' revocations count).
    A listed commit's parents are the nearest listed commits on their first-parent chains, or
    the commit outside the history (or the root without the policy) each chain leaves by; no
    parent is dropped or merged with another, so a merge's parents map one to one."""
    history = whole_history.covering(tips, cwd)
    region: Collection[str]
    if history is not None:
        gone = whole_history.reachable(history, exclude, frozenset())  # the trust root's history
        region = whole_history.reachable(history, tips, gone)
    else:
        history = whole_history.read(tips, exclude, cwd)
        region = history.first.keys()
    first = history.first
    changes = {sha: change for sha in history.changes
               if sha in region and (change := _change(*history.changes[sha])) is not None}
    listed = {sha for sha in history.merges if sha in region} | changes.keys()
    ends: dict[str, str] = {}  # an unlisted commit -> where its first-parent chain leaves

    def rewritten(parent: str) -> str:
        path, at = [], parent
        while at in region and at not in listed and at not in ends:
            below = first[at]
            if below is None:  # a root commit without the policy: an exit, in the root's state
                break
            path.append(at)
            at = below
        at = ends.get(at, at)
        for sha in path:
            ends[sha] = at
        return at

    nodes = {sha: Node(tuple(rewritten(p) for p in history.parents(sha)), changes.get(sha))
             for sha in listed}
    bare = [sha for sha in history.roots if sha in region and sha not in listed]
    return nodes, _Within(first, region), bare


class _Within(Mapping[str, "str | None"]):
    """The first parents of the commits of `region` (a view: the anchor asks a few)."""

    def __init__(self, first: Mapping[str, str | None], region: Collection[str]) -> None:
        self.first, self.region = first, region

    def __getitem__(self, sha: str) -> str | None:
        if sha not in self.region:
            raise KeyError(sha)
        return self.first[sha]

    def __contains__(self, sha: object) -> bool:
        return sha in self.region

    def __iter__(self) -> Iterator[str]:
        return iter(self.region)

    def __len__(self) -> int:
        return len(self.region)


def _change(old: str, new: str, status: str) -> tuple[str, str] | None:
    """A `--raw` line's change of the policy: (old blob, new blob), None for a change of mode
    alone; a change of type is, as its patch shows it, a deletion then a new file."""
    if status.startswith("T"):
        new = "0" * len(old)
    return (old, new) if old != new else None


def _union(start: State, parents: Sequence[State]) -> tuple[frozenset[PublicKey],
                                                             frozenset[tuple[str, str]]]:
    """The revoked keys and judged changes of a commit's whole history: its parents'."""
    if not parents:
        return start.revoked, start.judged
    keys, judged = parents[0].revoked, parents[0].judged
    for other in parents[1:]:
        if other.revoked is not keys:
            keys = keys | other.revoked
        if other.judged is not judged:
            judged = judged | other.judged
    return keys, judged


def _other_parents(raw: CommitRecord, node: Node, anchor: _Anchor, states: Mapping[str, State]
                   ) -> Iterable[int] | None:
    """The policies in force at a merge's parents other than the first, as the full walk sees
    them. Rewriting keeps a merge's parents in order and drops only duplicates (parents whose
    nearest listed ancestor is the same), so a merge keeping all its parents, or only one, maps
    them directly; an octopus that lost some asks for each."""
    real = raw.parents[1:]
    if len(node.parents) == len(raw.parents):
        return [states[q].node for q in node.parents[1:]]
    if len(node.parents) == 1:
        return [states[node.parents[0]].node] * len(real)
    out = []
    for q in real:
        found = anchor(q)
        state = states[found] if isinstance(found, str) else found
        if state is None:
            return None
        out.append(state.node)
    return out


def listing(tips: Sequence[str], exclude: Sequence[str], cwd: str | Path | None
            ) -> dict[str, Node]:
    """The policy-relevant history of `tips` (not of `exclude`): one `git log`, no diffs but the
    policy file's against the first parent. `--topo-order`: in git's date order, path limiting
    rewrites parents wrongly when commits share a timestamp (a rebase, a fast script), and the
    policy in force differed from the full walk's; with a commit-graph it costs more (measured
    6.8 s against 0.44 s at 100k commits), a price for the right answer."""
    out = git.run([*git.BOUNDED_MEMORY_CONFIG, "log", "--full-history", "--topo-order", "--parents",
                   "--diff-merges=first-parent", "--raw", "--no-abbrev", "--format=%x00%H %P",
                   *tips, *(f"^{x}" for x in exclude), "--", POLICY_FILE], cwd=cwd, pinned=True)
    nodes: dict[str, Node] = {}
    for entry in out.decode("utf-8", "surrogateescape").split("\0")[1:]:
        head, _, rest = entry.partition("\n")
        sha, *parents = head.split()
        change = None
        for line in rest.splitlines():
            if line.startswith(":") and line.endswith(f"\t{POLICY_FILE}"):
                change = _change(*line.split()[2:5])
        nodes[sha] = Node(tuple(parents), change)
    return nodes


def parents_first(nodes: Mapping[str, Node]) -> list[str]:
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
