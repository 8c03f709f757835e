"""A scan's stream: commits read in git's own order, paths from `--raw`, no patches.

A scan (`audit --policy` with no notes) judges every commit by one policy that history cannot
change, so it needs no parents-before-children order. It reads one `git log --raw` in git's default
order (newest first), which git prints as it walks, with no listing before it and no batches:
git produces on one core while the judge consumes on the other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from provenance.audit import cache
from provenance.audit.records import CommitRecord
from provenance.audit.stream import (
    BATCH,
    LOG_FORMAT,
    NULL_OID,
    RAW_OPTIONS,
    SIGNATURE_MARK,
    UNKNOWN,
    cached_batch,
    parse_log,
    records_of,
)
from provenance.errors import ProvenanceError
from provenance.git import git, merges
from provenance.policy.schema import POLICY_FILE
from provenance.wire.patch import raw_gitlinks, raw_paths

HOLD = 256  # commits held behind a merge until its policy blobs come, in one round trip


class Unordered(Exception):
    """git's order showed a commit before one of its children (equal or skewed commit dates):
    a remerge-diff in that stream may be wrong (git.merges.own_changes). Scan in `topo` order."""


def scan_stream(revs: Sequence[str], cwd: str | Path | None, db: cache.Cache | None, *,
                topo: bool = False) -> Iterator[CommitRecord]:
    """The commits of `revs`, newest first (`git log` order), with their paths and policy ids
    from `--raw` lines and `UNKNOWN` digests. A merge's paths are its own change's (its
    `--remerge-diff --raw` lines) and, as its `policy_ids`, the policy file's blob in its first
    parent and in itself (a clean merge that takes the other side's policy changes it, and its
    patch does not show that).

    What the stream lacks is looked up for the commits that need it, which are held with the
    commits after them, so that the order stays git's, up to `HOLD` commits: the merges' policy
    blobs come in one round trip, and so do the own changes of octopus merges (remerge-diff
    skips them). A commit whose message holds a `Provenance-Signature` needs its patch's digest
    (the judge checks the signature against it): held with it, up to `BATCH` commits, as an
    adopted history would have them all.

    git's default order is children first unless commit dates are equal or skewed, and then
    remerge-diff may see a cut history: the parents the stream names but has already shown are
    asked of git at the end (one `rev-list`), and `Unordered` is raised when there are any."""
    held: list[CommitRecord] = []
    signed = False  # a signed commit is held: the window grows to a patch stream's batch
    waiting: set[str] = set()  # parents of the commits shown so far, not shown yet themselves
    with git.object_lookups(cwd) as lookup_all, \
            contextlib.closing(parse_log(scan_log(revs, cwd, topo=topo), patches=False)) as raws:
        for raw in raws:
            if not topo:
                waiting.discard(raw.sha)
                waiting.update(raw.parents)
            if not (held or len(raw.parents) > 1 or _needs_patch(raw)):
                yield raw
                continue
            held.append(raw)
            signed = signed or (raw.digest == UNKNOWN and SIGNATURE_MARK in raw.message)
            if len(held) >= (BATCH if signed else HOLD):
                yield from _completed(held, cwd, db, lookup_all)
                held, signed = [], False
        yield from _completed(held, cwd, db, lookup_all)
    if waiting and _in_range(waiting, revs, cwd):  # else the range's boundary: never shown
        raise Unordered


def _in_range(shas: set[str], revs: Sequence[str], cwd: str | Path | None) -> bool:
    exclude = [r for r in git.resolve_revs(revs, cwd=cwd) if r.startswith("^")]
    listed = "".join(line + "\n" for line in [*shas, *exclude]).encode()
    return bool(git.run(["rev-list", "-n1", "--stdin"], cwd=cwd, input=listed, pinned=True).strip())


def scan_log(revs: Sequence[str], cwd: str | Path | None, *, topo: bool = False
             ) -> Iterator[bytes]:
    """One `git log --raw --diff-merges=remerge` over `revs` in git's order (`topo`: children
    before parents, which git lists only once it has walked them all): `LOG_FORMAT` headers,
    `--raw` lines (for a two-parent merge, its own change's), no patch. remerge-diff writes the
    automatic merges' objects: into a scratch object directory."""
    ends = ["--end-of-options", *git.resolve_revs(revs, cwd=cwd), "--"]
    with merges.scratch_objects(cwd) as env:
        # git's own pack windows and delta-base cache, as the `git log --raw` the scan is measured
        # against: bounded ones (BOUNDED_MEMORY_CONFIG, a 32 MiB cache) kept it near 110 MB at 100k
        # commits instead of 285 (mostly the pack, mapped), but cost 4.6x its CPU on a million
        # commits' 800 MB pack, most of it remapping windows (docs/performance.md).
        yield from git.stream([*git.PINNED_DIFF_CONFIG, *merges.MERGE_CONFIG,
                               "log", f"--format={LOG_FORMAT}", "--root", "--raw",
                               "--diff-merges=remerge", *(("--topo-order",) if topo else ()),
                               *RAW_OPTIONS, *ends],
                              cwd=cwd, pinned=True, by_line=False, env=env)


def _needs_patch(raw: CommitRecord) -> bool:
    return raw.digest == UNKNOWN and SIGNATURE_MARK in raw.message


def _completed(held: list[CommitRecord], cwd: str | Path | None, db: cache.Cache | None,
               lookup_all: Callable[[Sequence[str]], list[str | None]]
               ) -> Iterator[CommitRecord]:
    """`held`, in order, with the merges' policy blobs and the patches' facts filled in. The
    patches stream as the walk judges: a window of signed commits is checked while git is still
    printing it, not after."""
    merges_held = [r for r in held if len(r.parents) > 1]
    blobs = lookup_all([f"{sha}:{POLICY_FILE}" for r in merges_held
                        for sha in (r.parents[0], r.sha)])
    policy_ids = {r.sha: tuple(b or NULL_OID for b in blobs[2 * n:2 * n + 2])
                  for n, r in enumerate(merges_held)}
    wanted = [r.sha for r in held if _needs_patch(r)]
    octopus = merges.own_changes([r.sha for r in merges_held if len(r.parents) > 2
                                  and not _needs_patch(r)], cwd, newest_first=True)
    patched = iter(()) if not wanted else (  # in git's order: children first
        cached_batch("".join(s + "\n" for s in wanted).encode(), cwd, db, newest_first=True)
        if db is not None else records_of(wanted, cwd, newest_first=True))
    for raw in held:
        if _needs_patch(raw):
            got = next(patched, None)
            if got is None or got.sha != raw.sha:
                raise ProvenanceError("two git streams disagree on the order of commits")
            raw = got
        elif raw.sha in octopus:
            own = octopus[raw.sha].raw
            raw = raw._replace(paths=raw_paths(own), gitlinks=raw_gitlinks(own))
        if raw.policy_ids is None and raw.sha in policy_ids:  # the --cc patch may name the ids
            raw = raw._replace(policy_ids=policy_ids[raw.sha])
        yield raw
