"""Old forks: commits a merge brings into the audited branch are also judged under the policy in
force where it lands them (DESIGN §11.2), so that a branch forked before a rule was added cannot
carry a change past that rule.

The audited branch is the first-parent chain of the audited tip, its *mainline*; it comes from
`git rev-list --first-parent --reverse`, a subsequence of the walk's own order, read in step
with the walk (`Mainline`), or from the light rows of a warm walk. For every other commit the walk
keeps a bit mask of the policies in force under it and under the commits below it that are not
on the mainline either, forgotten with the commit. A mainline merge whose other parents' masks
hold only its own first parent's policy brings in nothing to judge again (every merge, in a
history whose policy never changed); otherwise it is a *landing*, and once the walk is over the
commits it brings in are judged again under that policy: what they fail only there is added to
their own verdicts, saying where they land.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from provenance.audit.chain import PolicyChain
from provenance.audit.judge import judge
from provenance.audit.notes import Index, matched
from provenance.audit.records import CommitRecord, CoverApproval, Judgement
from provenance.audit.spool import Judgements
from provenance.audit.stream import NULL_OID, records_of
from provenance.git import git
from provenance.policy.schema import POLICY_FILE
from provenance.ssh.sshsig import PublicKey


def first_parent_ids(resolved: Sequence[str], cwd: str | Path | None) -> Iterator[str]:
    """The mainline of a range (resolved ids, "TIP ^EXCLUDED..."), oldest first, as git lists it."""
    for line in git.stream([*git.BOUNDED_MEMORY_CONFIG, "rev-list", "--first-parent", "--reverse",
                            *resolved, "--"], cwd=cwd, pinned=True):
        yield line.decode().strip()


class Mainline:
    """The mainline ids, consumed as the walk meets them (no set of ids is held)."""

    def __init__(self, ids: Iterable[str]) -> None:
        self._ids = iter(ids)
        self._next = next(self._ids, None)

    def passes(self, sha: str) -> bool:
        if sha != self._next:
            return False
        self._next = next(self._ids, None)
        return True


class Watch(NamedTuple):
    """How a walk tells the mainline and finds a commit's judgement again."""

    mainline: Mainline  # the ids git lists; records from light rows carry their own flag
    positions: Callable[[set[str]], Mapping[str, int]]
    excluded: Sequence[str]  # the range's exclusions (resolved ids, without "^")

    def on_mainline(self, raw: CommitRecord) -> bool:
        return raw.mainline if raw.mainline is not None else self.mainline.passes(raw.sha)


class Landing(NamedTuple):
    merge: str
    first_parent: str
    node: int  # the policy in force at the merge's first parent


class Forks:
    """What one walk keeps for the landings it meets."""

    def __init__(self) -> None:
        self.masks: dict[str, int] = {}  # a commit off the mainline -> the policies under it
        self.landings: list[Landing] = []

    def see(self, raw: CommitRecord, base: int, on_mainline: bool) -> None:
        """`raw`, judged with policy `base` in force at its first parent."""
        masks = self.masks
        if not on_mainline:
            mask = 1 << base
            for parent in raw.parents:
                mask |= masks.get(parent, 0)
            masks[raw.sha] = mask
        elif len(raw.parents) > 1:
            mask = 0
            for parent in raw.parents[1:]:
                mask |= masks.get(parent, 0)
            if mask & ~(1 << base):
                self.landings.append(Landing(raw.sha, raw.parents[0], base))

    def forget(self, sha: str) -> None:
        self.masks.pop(sha, None)


def judge_landings(
    judgements: Judgements, landings: Sequence[Landing], excluded: Sequence[str],
    positions: Callable[[set[str]], Mapping[str, int]], chain: PolicyChain,
    notes: tuple[Index, Index], revoked: frozenset[PublicKey],
    covered: Mapping[str, Sequence[CoverApproval]], cwd: str | Path | None,
) -> None:
    """Judge the commits each landing brings in (within the range: not reachable from `excluded`)
    again under the policy where it lands them; add what they fail only there to their verdicts
    (`positions` finds them in `judgements`)."""
    brought: dict[str, Landing] = {}
    for landing in landings:
        # Parents first (each landing's new commits are never ancestors of an earlier one's):
        # records_of remerges merges children first, on the history git has not cut yet.
        listed = git.text([*git.BOUNDED_MEMORY_CONFIG, "rev-list", "--topo-order", "--reverse",
                           landing.merge,
                           f"^{landing.first_parent}", *(f"^{x}" for x in excluded), "--"],
                          cwd=cwd, pinned=True).split()
        for sha in listed:
            if sha != landing.merge:
                brought.setdefault(sha, landing)  # each commit lands once: the first merge to
    if not brought:
        return
    where = positions(set(brought))
    by_digest, by_commit = notes
    records = list(records_of(list(brought), cwd))
    changes = _policy_changes(records, cwd)
    for raw in records:
        landing, at = brought[raw.sha], where[raw.sha]
        # A policy change it brings in is the merge's to authorise (DESIGN §11.2): not judged
        # here, but its statement names the new policy, so the record must too.
        there = judge(raw._replace(policy_blob=changes.get(raw.sha)), chain.policies[landing.node],
                      matched(raw.sha, raw.digest, by_digest, by_commit), revoked,
                      cover_approvals=covered.get(raw.digest, ()), policy_change_authorized=True)
        own = judgements[at]
        extra = _extra(own, there, landing.merge)
        if extra is not None:
            judgements[at] = extra


def _policy_changes(records: Sequence[CommitRecord], cwd: str | Path | None) -> dict[str, str]:
    """The new policy blob (or the null id: deleted) of each of `records` that changes the policy
    file against its first parent, as the walk finds it."""
    names = [f"{sha}:{POLICY_FILE}" for raw in records for sha in (raw.sha, *raw.parents[:1])]
    blobs: dict[str, str | None] = {}
    with git.object_lookups(cwd) as lookup_all:
        for i in range(0, len(names), 300):  # a few hundred at a time: git's pipe holds their answers
            blobs.update(zip(names[i:i + 300], lookup_all(names[i:i + 300]), strict=True))
    changes = {}
    for raw in records:
        new = blobs[f"{raw.sha}:{POLICY_FILE}"]
        old = blobs[f"{raw.parents[0]}:{POLICY_FILE}"] if raw.parents else None
        if new != old:
            changes[raw.sha] = new or NULL_OID
    return changes


def _extra(own: Judgement, there: Judgement, merge: str) -> Judgement | None:
    """`own` with the violations of `there` it does not have (by code and rule); None if none."""
    known = {(v.code, v.rule) for v in own.violations}
    added = tuple(
        v._replace(message=f"{v.message} (under the policy in force where merge {merge[:12]} "
                           "lands it)")
        for v in there.violations if (v.code, v.rule) not in known)
    if not added:
        return None
    rules = {v.rule for v in added if v.rule}
    critical = {**own.critical_paths,
                **{r: p for r, p in there.critical_paths.items() if r in rules}}
    return own._replace(violations=(*own.violations, *added), critical_paths=critical,
                        ai_assisted=own.ai_assisted or there.ai_assisted)


def positions_in(order: bytes) -> Callable[[set[str]], dict[str, int]]:
    """Positions in a walk of `order` (`walk_order` ids, one a line)."""

    def find(wanted: set[str]) -> dict[str, int]:
        width = order.find(b"\n") + 1
        found = {}
        for n in range(len(order) // width if width else 0):
            sha = order[n * width:(n + 1) * width - 1].decode()
            if sha in wanted:
                found[sha] = n
        return found

    return find


def positions_of(walked: Callable[[], Iterable[str]]) -> Callable[[set[str]], dict[str, int]]:
    """Positions in a walk whose ids `walked()` lists again, in order (a warm walk's rows)."""

    def find(wanted: set[str]) -> dict[str, int]:
        return {sha: n for n, sha in enumerate(walked()) if sha in wanted}

    return find


def watch_order(resolved: Sequence[str], order: bytes, cwd: str | Path | None) -> Watch:
    """A full walk of `order` (`walk_order` ids of the range `resolved`)."""
    return Watch(Mainline(first_parent_ids(resolved, cwd)), positions_in(order),
                 _excluded(resolved))


def watch_rows(resolved: Sequence[str], stored: Callable[[], Iterable[str]],
               added: Sequence[Sequence[str]] = (), old_tip: str = "") -> Watch | None:
    """A warm walk: the ids of the stored light rows (`stored()` lists them again), whose records
    carry their mainline flag, then the commits `added` since `old_tip` ([id, *parents] each, in
    walk order). None when the new tip's first-parent chain does not pass the old tip: the
    stored flags would no longer say which commits are on the mainline."""
    chain: list[str] = []
    if added:
        parents = {sha: rest for sha, *rest in added}
        at: str | None = resolved[0]
        while at is not None and at in parents:
            chain.append(at)
            at = next(iter(parents[at]), None)
        if at != old_tip:
            return None
    new = [sha for sha, *_ in added]

    def walked() -> Iterator[str]:
        yield from stored()
        yield from new

    return Watch(Mainline(reversed(chain)), positions_of(walked), _excluded(resolved))


def _excluded(resolved: Sequence[str]) -> list[str]:
    return [r[1:] for r in resolved if r.startswith("^")]
