"""A scan's stream: commits read in git's own order, paths from `--raw`, no patches.

A scan (`audit --policy` with no notes) judges every commit by one policy that history cannot
change, so it needs no parents-before-children order. It reads one `git log --raw` in git's default
order (newest first), which git prints as it walks, with no listing before it and no batches:
git produces on one core while the judge consumes on the other. Merges come with their combined
patches from a second `git log --merges` over the same range, in the same order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from provenance import cache, git
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
from provenance.policy import POLICY_FILE

# git's delta-base cache at 32 MB instead of 16: `git log --raw` over 100k commits takes 2.3 s
# instead of 3.0 (as without a limit) and stays near 110 MB instead of 285.
SCAN_MEMORY_CONFIG = (*git.BOUNDED_MEMORY_CONFIG, "-c", "core.deltaBaseCacheLimit=32m")


HOLD = 256  # commits held behind a merge until its policy blobs come, in one round trip


def scan_stream(revs: Sequence[str], cwd: str | Path | None, db: cache.Cache | None
                ) -> Iterator[CommitRecord]:
    """The commits of `revs`, newest first (`git log` order), with their paths and policy ids
    from `--raw` lines and `UNKNOWN` digests; merges with their `--cc` patches digested and, as
    their `policy_ids`, the policy file's blob in the first parent and in the merge (a clean
    merge that takes the other side's policy changes it, and its patch does not show that).

    Commits that need more than the stream gives are held with the commits after them, so that
    the order stays git's: a merge, up to `HOLD` commits, until its policy blobs are looked up
    together; a commit whose message holds a `Provenance-Signature`, up to `BATCH`, until one
    patch stream (or the cache) has given the digests the judge checks signatures against."""
    ends = ["--end-of-options", *git.resolve_revs(revs, cwd=cwd), "--"]
    log = [*git.PINNED_DIFF_CONFIG, *SCAN_MEMORY_CONFIG, "log", f"--format={LOG_FORMAT}"]
    git.neutral_dir(cwd)  # made once, before two processes would both make it
    held: list[CommitRecord] = []
    signed = False
    with git.object_lookups(cwd) as lookup_all, contextlib.closing(parse_log(git.stream(
            [*log, "--merges", "-p", "--cc", *git.PINNED_DIFF_OPTIONS, *ends], cwd=cwd,
            pinned=True, by_line=False))) as merged, \
            contextlib.closing(parse_log(git.stream(
                [*log, "--root", "--raw", *RAW_OPTIONS, *ends], cwd=cwd, pinned=True,
                by_line=False), patches=False)) as raws:
        for raw in raws:
            if len(raw.parents) > 1:  # `log --raw` shows no diff for a merge
                got = next(merged, None)
                if got is None or got.sha != raw.sha:
                    raise ProvenanceError("two git streams disagree on the order of commits")
                raw = got
            needs_digest = raw.digest == UNKNOWN and SIGNATURE_MARK in raw.message
            if not (held or needs_digest or len(raw.parents) > 1):
                yield raw
                continue
            held.append(raw)
            signed = signed or needs_digest
            if len(held) >= (BATCH if signed else HOLD):
                yield from _completed(held, cwd, db, lookup_all)
                held, signed = [], False
        yield from _completed(held, cwd, db, lookup_all)


def _completed(held: list[CommitRecord], cwd: str | Path | None, db: cache.Cache | None,
               lookup_all: Callable[[Sequence[str]], list[str | None]]) -> list[CommitRecord]:
    """`held` with the merges' policy blobs and the signed commits' digests filled in."""
    merges = [i for i, r in enumerate(held) if len(r.parents) > 1 and r.policy_ids is None]
    blobs = lookup_all([f"{sha}:{POLICY_FILE}" for i in merges
                        for sha in (held[i].parents[0], held[i].sha)])
    for n, i in enumerate(merges):
        held[i] = held[i]._replace(policy_ids=tuple(b or NULL_OID for b in blobs[2 * n:2 * n + 2]))
    signed = [r.sha for r in held if r.digest == UNKNOWN and SIGNATURE_MARK in r.message]
    if not signed:
        return held
    got = (cached_batch("".join(s + "\n" for s in signed).encode(), cwd, db) if db is not None
           else records_of(signed, cwd))
    full = {r.sha: r for r in got}
    return [full.get(r.sha, r) for r in held]
