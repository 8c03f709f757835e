"""A whole history read in one walk, for what a fresh clone has to know before its first push:
the default trust root and the policy-relevant graph from it (audit/policy_history.py).

One `git log` (git/history.py) gives every commit with its real parents and its changes to
`.provenance.toml` against its first parent; everything else is found here, in one pass each:
the default trust root (the earliest commit on HEAD's first-parent chain that changes the policy
and holds it, what `rev-list --first-parent HEAD -- .provenance.toml` answered with a walk of its
own), the root commits (a root without the policy stops a first-parent chain, as an excluded
commit does: `rev-list --max-parents=0` found them with a third walk) and the history the trust
root's own history leaves out. The walk a process made last is kept: the trust root found from
HEAD's history and the boundary settled from it read history once (docs/decisions.md, "A fresh
clone's first push walks the history once").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from provenance.git.history import commits_touching
from provenance.policy.schema import POLICY_FILE


class History(NamedTuple):
    """Every commit of `tips` but not of `exclude`: its first parent (None: a root commit), a
    merge's parents, and how a commit changes the policy against its first parent."""

    tips: tuple[str, ...]
    exclude: tuple[str, ...]
    first: dict[str, str | None]
    merges: dict[str, tuple[str, ...]]
    changes: dict[str, tuple[str, str, str]]  # (old blob, new blob, git's status letter)
    roots: tuple[str, ...]
    cwd: str | Path | None  # asked there: another repository may have cut the same history short

    def parents(self, sha: str) -> Iterable[str]:
        if sha in self.merges:
            return self.merges[sha]
        first = self.first[sha]
        return () if first is None else (first,)


_last: list[History] = []  # the walk this process made last: a history is a function of its tips


def read(tips: Sequence[str], exclude: Sequence[str], cwd: str | Path | None) -> History:
    """The history of `tips` (object ids) but not of `exclude`: the last one read when it is the
    same question, else one walk."""
    key = (tuple(tips), tuple(exclude))
    if _last and (_last[0].tips, _last[0].exclude, _last[0].cwd) == (*key, cwd):
        return _last[0]
    out = commits_touching([*tips, *(f"^{x}" for x in exclude)], POLICY_FILE, cwd)
    first: dict[str, str | None] = {}
    merges: dict[str, tuple[str, ...]] = {}
    changes: dict[str, tuple[str, str, str]] = {}
    roots: list[str] = []
    lines = out.decode("ascii", "surrogateescape").split("\n")
    width = lines[0].find(" ")  # 40 (SHA-1) or 64 (SHA-256)
    sha = ""
    for line in lines:
        if len(line) == 2 * width + 1:  # most commits: one parent
            sha = line[:width]
            first[sha] = line[width + 1:]
        elif line.startswith(":"):
            if line.endswith(f"\t{POLICY_FILE}"):
                old, new, status = line.split()[2:5]
                changes[sha] = (old, new, status)
        elif line:
            sha, *parents = line.split()
            first[sha] = parents[0] if parents else None
            if not parents:
                roots.append(sha)
            elif len(parents) > 1:
                merges[sha] = tuple(parents)
    _last[:] = [History(*key, first, merges, changes, tuple(roots), cwd)]
    return _last[0]


def covering(tips: Sequence[str], cwd: str | Path | None) -> History | None:
    """The last history read here, when nothing was excluded from it and it holds `tips` (and
    so their whole history); None otherwise."""
    last = _last[0] if _last else None
    if last and last.cwd == cwd and not last.exclude and all(t in last.first for t in tips):
        return last
    return None


def default_root(head: str, cwd: str | Path | None) -> str | None:
    """The earliest commit on `head`'s first-parent chain that changes the policy against its
    first parent (a root commit: holds it) and holds it after; None: there is none."""
    history = read([head], [], cwd)
    changed = []
    at: str | None = head
    while at is not None:
        if at in history.changes:
            changed.append(at)
        at = history.first[at]
    for sha in reversed(changed):
        if history.changes[sha][1].strip("0"):
            return sha
    return None


def reachable(history: History, starts: Iterable[str], stop: set[str] | frozenset[str]
              ) -> set[str]:
    """The commits of `history` reachable from `starts`, not passing through `stop`."""
    first, merges = history.first, history.merges
    seen = set(stop)
    todo = list(starts)
    while todo:
        at: str | None = todo.pop()
        while at is not None and at not in seen and at in first:  # down a first-parent chain
            seen.add(at)
            if at in merges:
                todo.extend(merges[at][1:])
            at = first[at]
    return seen.difference(stop)
