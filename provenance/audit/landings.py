"""Landings (DESIGN §11.3): a commit that fails on its own may be a forge's landing of a reviewed
source, and is then judged by the source's commits.

A landing L of a source head H is a commit whose tree is git's merge of H onto L's first parent
(`merge-tree --write-tree L^1 H`): what a squash, a rebase-merge pick or a merge train writes.
L is then judged by the commits of `H ^L^1` (their declarations, their co-signs, notes matched by
digest) under the policy in force at L^1, and is AI-assisted if any of them is. Content, not
claims: a request number only says where to look; the tree decides.

Tried only for the commits that fail on their own, after the walk: a clean history pays nothing.
Candidates for H, in order: the request its message names (`Title (#7)`, `Merge pull request #7`,
`See merge request group/project!7`), or the merge that brings it in names; a source head with
L's exact tree; the source commit with L's author, author date and message (a re-applied pick).
Source heads: `refs/pull/*/head`, `refs/merge-requests/*/head`, `provenance.landingRefs` globs.
"""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from provenance.audit.judge import judge
from provenance.audit.notes import Index, matched
from provenance.audit.records import (
    CommitRecord,
    Judgement,
    LandedFrom,
    NotLanded,
)
from provenance.audit.spool import Encoded, Judgements, decoded
from provenance.audit.stream import records_of
from provenance.audit.verdicts import Verdicts
from provenance.git import git, merges
from provenance.policy.schema import Policy
from provenance.ssh.sshsig import PublicKey

HEAD_REFS = ("refs/pull/*/head", "refs/merge-requests/*/head")
CONFIG_KEY = "provenance.landingRefs"
_GITHUB = re.compile(r"\(#(\d+)\)|^Merge pull request #(\d+) from ")
_GITLAB = re.compile(r"^See merge request \S*!(\d+)\s*$", re.M)
_END = "\x00END\x00"  # what `%x00END%x00` prints: the end of a record (messages hold no NUL)


def request_of(message: str) -> str | None:
    """The request a message names: "#7" (GitHub, Gitea: `Title (#7)` in the subject, or
    `Merge pull request #7 from …`) or "!7" (GitLab: `See merge request group/project!7`)."""
    gitlab = _GITLAB.findall(message)
    if gitlab:
        return f"!{gitlab[-1]}"
    found = _GITHUB.findall(message.split("\n", 1)[0])
    return f"#{found[-1][0] or found[-1][1]}" if found else None


def head_ref(request: str) -> str:
    """Where a forge keeps a request's head: refs/pull/N/head (#N), refs/merge-requests/N/head."""
    kind, number = request[0], request[1:]
    return f"refs/pull/{number}/head" if kind == "#" else f"refs/merge-requests/{number}/head"


class Head(NamedTuple):
    ref: str
    sha: str
    tree: str


def source_heads(cwd: str | Path | None) -> list[Head]:
    """The source heads here: requests' heads, and the refs `provenance.landingRefs` globs name."""
    globs = git.text(["config", "--get-all", CONFIG_KEY], cwd=cwd, check=False).split()
    out = git.text(["for-each-ref", "--format=%(objectname) %(objecttype) %(tree) %(refname)",
                    "refs/pull/", "refs/merge-requests/", *globs], cwd=cwd)
    heads = []
    for line in out.splitlines():
        sha, kind, tree, ref = line.split(" ", 3)
        if kind == "commit" and any(fnmatch.fnmatchcase(ref, g) for g in (*HEAD_REFS, *globs)):
            heads.append(Head(ref, sha, tree))
    return heads


class Info(NamedTuple):
    tree: str
    parents: tuple[str, ...]
    author: tuple[str, str, str]  # name, email, date (seconds): a re-applied pick keeps them
    message: str


def _infos(shas: Iterable[str], cwd: str | Path | None) -> dict[str, Info]:
    listed = "".join(s + "\n" for s in dict.fromkeys(shas)).encode()
    out = git.run(["log", "--no-walk=unsorted", "--stdin",
                   "--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%at%x00%B%x00END%x00"],
                  cwd=cwd, input=listed, pinned=True).decode("utf-8", "surrogateescape")
    found = {}
    for record in out.split(_END)[:-1]:
        sha, tree, parents, name, email, when, message = record.lstrip("\n").split("\x00", 6)
        found[sha] = Info(tree, tuple(parents.split()), (name, email, when), message)
    return found


class Failed(NamedTuple):
    position: int  # of its judgement in the walk
    sha: str
    policy: Policy  # in force at its first parent
    key: bytes  # its own verdict's key (b"" without a cache)


class Landings:
    """What the walk tells about commits that fail on their own, and the landing pass after it."""

    def __init__(self, notes: tuple[Index, Index], revoked: frozenset[PublicKey], verdicts: Verdicts | None,
                 cwd: str | Path | None) -> None:
        self._by_digest, self._by_commit = notes
        self._revoked, self._verdicts, self._cwd = revoked, verdicts, cwd
        self._failed: dict[str, Failed] = {}
        self._bringer: dict[str, str] = {}  # a failing commit -> the merge that brings it in
        self._remote: str | None = None

    def saw(self, raw: CommitRecord, j: Judgement | Encoded, policy: Policy, key: bytes,
            position: int) -> None:
        """Called by the walk for a commit that fails, or a merge."""
        if j.violations:
            self._failed[raw.sha] = Failed(position, raw.sha, policy, key)
        for parent in raw.parents[1:]:
            if parent in self._failed:
                self._bringer[parent] = raw.sha

    def finish(self, judgements: Judgements) -> None:
        """Judge again, as landings, the failing commits whose source is here; note on those that
        name a request why they are not its landing."""
        if not self._failed:
            return
        heads = source_heads(self._cwd)
        infos = _infos([*self._failed, *self._bringer.values()], self._cwd)
        by_ref = {h.ref: h for h in heads}
        by_tree: defaultdict[str, list[str]] = defaultdict(list)
        for h in heads:
            by_tree[h.tree].append(h.sha)
        twins: dict[tuple[str, str, str, str], str] | None = None
        for f in self._failed.values():
            me = infos.get(f.sha)
            current = judgements[f.position]
            if me is None or not me.parents or not current.violations:
                continue  # a root lands nothing; a cover co-sign lifted it
            named = request_of(me.message)
            bringer = self._bringer.get(f.sha)
            request = named or (request_of(infos[bringer].message) if bringer in infos else None)
            candidates: list[tuple[str, str | None]] = []
            not_landed = None
            if request is not None:
                ref = head_ref(request)
                if ref in by_ref:
                    candidates.append((by_ref[ref].sha, request))
                else:
                    not_landed = NotLanded(request, None, f"names {request}, but {ref} is not here",
                                           f"git fetch {self.remote()} +{ref}:{ref}")
            candidates += [(sha, None) for sha in by_tree.get(me.tree, ())]
            if heads and not candidates:
                if twins is None:
                    twins = _twins(heads, [i.parents[0] for i in infos.values() if i.parents],
                                   self._cwd)
                twin = twins.get((*me.author, me.message))
                if twin is not None and twin != f.sha:
                    candidates.append((twin, None))
            for head, req in dict.fromkeys(candidates):
                outcome = self._judged(f, me, head, req, current, reasons=named is not None)
                if outcome.landed_from is not None:
                    judgements[f.position] = outcome
                    judgements.landed.append(f.position)
                    break
                not_landed = outcome.not_landed or not_landed
            else:
                if not_landed is not None:
                    judgements[f.position] = decoded(current)._replace(not_landed=not_landed)

    def remote(self) -> str:
        """The remote a fetch hint names: origin, or the only one there is."""
        if self._remote is None:
            remotes = git.text(["remote"], cwd=self._cwd).split()
            self._remote = "origin" if "origin" in remotes or not remotes else remotes[0]
        return self._remote

    def _judged(self, f: Failed, me: Info, head: str, request: str | None,
                own: Judgement, *, reasons: bool) -> Judgement:
        """`own` as the landing of `head`, or `own` with why not (cached either way)."""
        key = b""
        if self._verdicts is not None:
            key = self._verdicts.key(f.sha, f.key.hex(), "landing", head, request, str(reasons))
            hit = self._verdicts.db.verdict(f.sha, key)
            if hit is not None:
                return decoded(hit[0])
        result = self._landing(f, me, head, request, own, reasons=reasons)
        if self._verdicts is not None:
            self._verdicts.db.put_verdict(f.sha, key, result, ())
        return result

    def _landing(self, f: Failed, me: Info, head: str, request: str | None,
                 own: Judgement, *, reasons: bool) -> Judgement:
        ref = head_ref(request) if request else head[:12]
        where = f"{ref} ({head[:12]})" if request else ref

        def refused(why: str) -> Judgement:
            if request is None or not reasons:
                return own._replace(not_landed=None)
            return own._replace(not_landed=NotLanded(request, head, f"names {request}, but {why}"))

        first = me.parents[0]
        commits = git.text(["rev-list", "--topo-order", "--reverse", head, f"^{first}", "--"],
                           cwd=self._cwd, pinned=True).split()
        if not commits or f.sha in commits:
            return refused(f"{where} is already in its history, or holds it")
        tree, clean = merges.merged_tree(first, head, self._cwd)
        if not clean:
            return refused(f"git's merge of {where} onto its first parent {first[:12]} conflicts")
        if tree != me.tree:
            return refused(f"its tree is not git's merge of {where} onto its first parent "
                           f"{first[:12]}: it holds changes the request does not, or lacks some")
        sources = [self._judge(raw, f.policy) for raw in records_of(commits, self._cwd)]
        return landing(own, head, request, sources)

    def _judge(self, raw: CommitRecord, policy: Policy) -> Judgement:
        return judge(raw, policy, matched(raw.sha, raw.digest, self._by_digest, self._by_commit),
                     self._revoked)


def _twins(heads: Sequence[Head], exclude: Sequence[str], cwd: str | Path | None
           ) -> dict[tuple[str, str, str, str], str]:
    """The source heads' own commits by (author name, email, date, message): where a re-applied
    pick (rebase-merge, a cherry-pick onto a moved base) comes from."""
    listed = "".join(line + "\n" for line in [*(h.sha for h in heads), *(f"^{e}" for e in exclude)])
    out = git.run(["log", "--no-merges", "--stdin", "--format=%H%x00%an%x00%ae%x00%at%x00%B%x00END%x00"],
                  cwd=cwd, input=listed.encode(), pinned=True).decode("utf-8", "surrogateescape")
    found: dict[tuple[str, str, str, str], str] = {}
    for record in out.split(_END)[:-1]:
        sha, name, email, when, message = record.lstrip("\n").split("\x00", 4)
        found.setdefault((name, email, when, message), sha)
    return found


def landing(own: Judgement, head: str, request: str | None, sources: Sequence[Judgement]
            ) -> Judgement:
    """The landing's judgement from its sources': their violations (each naming its source
    commit) and the landing's own policy-change verdict; the trailers a forge copied into the
    landing are evidence, not judged."""
    critical: dict[str, set[str]] = defaultdict(set)
    for s in sources:
        for rule, paths in s.critical_paths.items():
            critical[rule].update(paths)
    via = f"{request} " if request else ""
    evidence = (f"landing of {via}{head[:12]}: judged by its {len(sources)} source commit(s)",
                *(f"source {s.commit[:12]}: {e}" for s in sources for e in s.evidence),
                *(f"copied into the landing, not judged: {e}" for e in own.evidence))
    violations = (*(v._replace(message=f"source commit {s.commit[:12]}: {v.message}")
                    for s in sources for v in s.violations),
                  *(v for v in own.violations if v.code == "unauthorized-policy-change"))
    return own._replace(
        ai_assisted=any(s.ai_assisted for s in sources), evidence=evidence,
        critical_paths={rule: sorted(paths) for rule, paths in critical.items()},
        cosigners=tuple(sorted({c for s in sources for c in s.cosigners})),
        violations=violations, cover_approvals=(), not_landed=None,
        landed_from=LandedFrom(head, request, tuple(s.commit for s in sources),
                               tuple((s.commit, tuple(sorted({v.code for v in s.violations})))
                                     for s in sources)))
