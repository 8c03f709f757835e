"""One streamed `git log -p --cc` over a range, parsed into commits (and the cache in front of it).

Parents come before children; each commit's patch is digested as it streams past, and the paths
and the policy file's blob ids are read from the same patch, so nothing is buffered per commit.
"""

from __future__ import annotations

import io
import re
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from provenance.audit import cache
from provenance.audit.records import CommitRecord
from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.git.merges import OwnChange, own_changes
from provenance.policy.schema import POLICY_FILE
from provenance.wire import digest, trailers
from provenance.wire.patch import (
    patch_gitlinks,
    path_of_header,
    raw_entries,
    raw_gitlinks,
    raw_paths,
)

_START = b"\x00\x00C "
_END = b"\x00END\x00\n"
# NUL never occurs in names or messages; the end marker sits on a line of its own (the `%n`).
LOG_FORMAT = "%x00%x00C %H%x00%P%x00%an%x00%ae%x00%cn%x00%ce%x00%at%x00%B%n%x00END%x00"
NULL_OID = "0" * 40
UNKNOWN = ""  # the digest of a commit streamed without its patch: nothing needed it
SIGNATURE_MARK = "Provenance-Signature"  # a message holding it may need its digest


# patch.DIFF_HEADER, found in `b"\n" + patch`: a pattern that starts with a literal is searched
# for fast, `^` is tried at every byte (21 -> 5.5 us a commit of the bench history).
_HEADER_AFTER_LF = re.compile(rb"\ndiff --[^\n]*")


def _patch_facts(patch: bytes, paths: list[str]) -> tuple[str, ...] | None:
    """Fill `paths` from the patch's `diff --` headers; the policy file's `index` ids, if shown."""
    policy_ids = None
    text = b"\n" + patch
    for header in _HEADER_AFTER_LF.finditer(text):
        path = path_of_header(header[0][1:])
        if path is None:
            continue
        paths.append(path)
        if path == POLICY_FILE and policy_ids is None:
            # "index OLD..NEW [mode]", or "index P1,P2..NEW" for a combined diff; none when only
            # the mode changed, so look no further than the next header.
            after = text[header.end():]
            extended = after[:m.start()] if (m := _HEADER_AFTER_LF.search(after)) else after
            index = re.search(rb"^index (\S+)", extended.split(b"\n@@", 1)[0], re.MULTILINE)
            if index is not None:
                old, _, new = index[1].decode().partition("..")
                policy_ids = (*old.split(","), new)
    return policy_ids


def _raw_facts(raw: bytes, paths: list[str]) -> tuple[str, ...] | None:
    """The same from `--raw` lines: the paths a patch would name, in the same order, and the
    policy file's ids."""
    policy_ids = None
    for entry in raw_entries(raw):
        path = entry.path
        # A type change is a deletion and a creation in a patch: two headers, one path.
        paths.extend((path, path) if entry.status == b"T" else (path,))
        if path == POLICY_FILE and policy_ids is None:
            policy_ids = (entry.old, entry.new)
    return policy_ids


def _records(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """The stream cut into commits, each starting with `_START`, whatever the blocks' sizes.

    Per block rather than per line: a commit costs a few `find`s, not a Python step per line,
    and the commits a block completes leave the buffer together (one move, not one each)."""
    buf = bytearray()
    search_from = 1
    for block in blocks:
        buf += block
        start = 0
        with memoryview(buf) as view:  # one copy a commit (bytearray slices copy twice)
            while (at := buf.find(_START, search_from)) >= 0:
                yield bytes(view[start:at])
                start, search_from = at, at + 1
        del buf[:start]
        search_from = max(1, len(buf) - len(_START) + 1)
    if buf:
        yield bytes(buf)


def parse_log(blocks: Iterable[bytes], *, patches: bool = True,
              own: Mapping[str, OwnChange] | None = None) -> Generator[CommitRecord, None, None]:
    """Split the `LOG_FORMAT` + patch stream into commits and digest each patch.

    A merge's paths are those of its own change: from `own` (`git.merges.own_changes` of the
    stream's merges; its digest reads the hidden part too, `digest.merge_part`), or, without
    `patches`, from the `--remerge-diff --raw` lines the stream holds instead of a patch (an
    octopus merge's come later, scan.scan_stream). Without `patches` the digest is `UNKNOWN`."""
    for record in _records(blocks):
        if not record.startswith(_START):
            continue
        end = record.find(b"\n" + _END)
        # One decode for the header: NUL never occurs inside a UTF-8 sequence, and
        # surrogateescape maps any other byte on its own, so decoding then splitting is the same.
        fields = record[len(_START):end + 1].decode("utf-8", "surrogateescape").split("\x00", 7)
        if end < 0 or len(fields) != 8:
            raise ProvenanceError("unexpected output from git (commit header)")
        body = record[end + 1 + len(_END):]
        if body.startswith(b"\n"):
            body = body[1:]
        paths: list[str] = []
        gitlinks: tuple[str, ...] = ()  # submodules among `paths`: rules see each as its directory
        sha, parents, author_name, author_email, committer_name, committer_email, stamp, \
            message = fields
        if " " not in parents:
            if patches:
                change = digest.digest_of_patch(io.BytesIO(body))
                policy_ids = _patch_facts(body, paths)
                # A one-parent patch names a submodule's mode: one C-speed look for most commits.
                gitlinks = patch_gitlinks(body) if b"160000" in body else ()
            else:
                change = UNKNOWN
                policy_ids = _raw_facts(body, paths)
                gitlinks = raw_gitlinks(body)
        elif patches:
            mine = own.get(sha) if own is not None else None
            if mine is None:  # judged on its --cc paths, an evil merge would pass
                raise ProvenanceError(f"git gave no own change for merge {sha}")
            policy_ids = _patch_facts(body, paths)
            change = digest.digest_of_patch(io.BytesIO(body + digest.merge_part(body, mine)))
            paths = list(raw_paths(mine.raw))
            gitlinks = raw_gitlinks(mine.raw)
        else:
            change, policy_ids = UNKNOWN, None
            paths = list(raw_paths(body))
            gitlinks = raw_gitlinks(body)
        yield CommitRecord(
            sha, tuple(parents.split()), author_name, author_email, committer_name,
            committer_email, int(stamp) if stamp.isdigit() else 0, message.removesuffix("\n"),
            change, tuple(paths), policy_ids, gitlinks=gitlinks,
        )


# One `diff-tree --stdin` per batch of commits: git keeps every object it parses, so one process
# over a whole history grows with it (a batch of 5,000 at 100k commits: ~50 MB with
# git.BOUNDED_MEMORY_CONFIG). The order comes from one `rev-list`. Output is byte-identical to
# `git log -p --cc --topo-order --reverse`.
BATCH = 5_000


class WalkOrder(NamedTuple):
    """The commits of a range, parents before children, as `rev-list --topo-order` lists them."""

    ids: bytes  # "ID\n" a commit: one object, 41 bytes a commit
    # Commits with two or more children in the range -> how many; every other commit has one
    # (or none: a tip). The walk forgets a commit once its last child has been judged.
    branching: dict[str, int]


def walk_order(revs: Sequence[str], cwd: str | Path | None) -> WalkOrder:
    """The order of `revs` with each branching commit's number of children (one `rev-list
    --children`)."""
    # Read as it comes, a block at a time: the listing itself is ~80 bytes a commit.
    pieces: list[bytes] = []
    branching: dict[str, int] = {}

    def take(lines: bytes) -> None:
        branching.update((sha.decode(), rest.count(b" ")) for sha, rest in _BRANCHING.findall(lines))
        pieces.append(_REST_OF_LINE.sub(b"", lines))

    tail = b""
    for block in git.stream([*git.BOUNDED_MEMORY_CONFIG, "rev-list", "--topo-order", "--reverse",
                             "--children", "--end-of-options", *git.resolve_revs(revs, cwd=cwd),
                             "--"], cwd=cwd, pinned=True, by_line=False):
        data = tail + block
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        take(data[:cut])
    if tail:
        take(tail + b"\n")
    ids = b"".join(pieces)
    pieces.clear()
    return WalkOrder(ids, branching)


_REST_OF_LINE = re.compile(rb" [^\n]*")
_BRANCHING = re.compile(rb"^(\S+)((?: \S+){2,})$", re.M)


def topo_order(revs: Sequence[str], cwd: str | Path | None) -> bytes:
    """The ids of `revs`, parents before children, one per line."""
    return walk_order(revs, cwd).ids


def _batches(order: bytes) -> Iterator[bytes]:
    width = order.find(b"\n") + 1  # every id of a repository has the same length
    if width:
        for i in range(0, len(order), width * BATCH):
            yield order[i:i + width * BATCH]


# The options of a stream without patches (a scan's `--raw`): --unified and --inter-hunk-context
# imply --patch, and with them every patch came too (5x the bytes, 3.5x git's time for a scan).
# `log --raw` abbreviates object ids unless told not to.
RAW_OPTIONS = (*(o for o in git.PINNED_DIFF_OPTIONS
                 if not o.startswith(("--unified", "--inter-hunk-context"))), "--no-abbrev")
_COMMANDS = {  # after the format: what each body needs
    "patch": ("diff-tree", "--stdin", "--always", "--root", "-r", "-p", "--cc",
              *git.PINNED_DIFF_OPTIONS),
    # Headers alone: `diff-tree -s` still diffs every tree (3.3 s for 100k commits), `log
    # --no-walk` prints the same bytes without (1.0 s).
    "none": ("log", "--no-walk=unsorted", "--stdin"),
}


def commit_lines(order: bytes, cwd: str | Path | None, *, body: str = "patch") -> Iterator[bytes]:
    """`LOG_FORMAT` and the `body` (pinned patch, or none) of each commit in `order`.

    Pinned: runs in a neutral git dir (no attributes), so `order` holds resolved ids."""
    command, *options = _COMMANDS[body]
    for batch in _batches(order):
        yield from git.stream(
            [*git.PINNED_DIFF_CONFIG, *git.BOUNDED_MEMORY_CONFIG, command, f"--format={LOG_FORMAT}",
             *options],
            cwd=cwd, stdin_lines=[batch], pinned=True, by_line=False)


def patch_records(order: bytes, cwd: str | Path | None, *, newest_first: bool = False
                  ) -> Iterator[CommitRecord]:
    """The commits of `order` (ids, one a line, in a topological order: parents first, or
    children first with `newest_first`) with their pinned patches digested and their merges' own
    changes: a batch at a time, the merges' own changes first (one process a batch; most merges
    have none, and a batch without merges costs git a commit parse each)."""
    for batch in _batches(order):
        own = _OwnChanges(batch, cwd, newest_first)  # git works on both while the walk judges
        yield from parse_log(commit_lines(batch, cwd), own=own)


class _OwnChanges(Mapping[str, OwnChange]):
    """`own_changes` of a batch, computed in a thread while the batch's patches stream: only a
    merge waits for it (on 10k commits with 472 merges: ~0.2 s of git time, hidden behind the
    patch stream's)."""

    def __init__(self, batch: bytes, cwd: str | Path | None, newest_first: bool) -> None:
        import threading  # deferred, as in git.stream

        self._found: dict[str, OwnChange] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(batch, cwd, newest_first),
                                        daemon=True)
        self._thread.start()

    def _run(self, batch: bytes, cwd: str | Path | None, newest_first: bool) -> None:
        try:
            self._found = own_changes(batch, cwd, newest_first=newest_first)
        except BaseException as e:  # raised where a merge asks, in the walk's thread
            self._error = e

    def _done(self) -> dict[str, OwnChange]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._found

    def __getitem__(self, sha: str) -> OwnChange:
        return self._done()[sha]

    def __iter__(self) -> Iterator[str]:
        return iter(self._done())

    def __len__(self) -> int:
        return len(self._done())


def log_stream(revs: Sequence[str], cwd: str | Path | None, order: bytes | None = None
               ) -> Iterator[CommitRecord]:
    """Every commit of `revs` (or of `order`, its `walk_order` ids) with its pinned patch
    digested, parents before children."""
    return patch_records(topo_order(revs, cwd) if order is None else order, cwd)


def records_of(shas: Sequence[str], cwd: str | Path | None, *, newest_first: bool = False
               ) -> Iterator[CommitRecord]:
    """The commits `shas` (each once, in a topological order as for `patch_records`), streamed
    with their patches digested."""
    if not shas:  # most walks have nothing to read again
        return iter(())
    return patch_records("".join(s + "\n" for s in dict.fromkeys(shas)).encode(), cwd,
                         newest_first=newest_first)


def digests_of(shas: Sequence[str], cwd: str | Path | None, *, newest_first: bool = False
               ) -> dict[str, str]:
    """The change digests of `shas` (as for `records_of`)."""
    return {raw.sha: raw.digest for raw in records_of(shas, cwd, newest_first=newest_first)}


def _with_facts(raw: CommitRecord, facts: cache.Facts) -> CommitRecord:
    return raw._replace(digest=facts.digest, paths=facts.paths, policy_ids=facts.policy,
                        trailers=facts.trailers, gitlinks=facts.gitlinks)


def _facts(raw: CommitRecord) -> cache.Facts:
    parsed = tuple(trailers.parse(raw.message))
    return cache.Facts(raw.digest, raw.paths, raw.policy_ids, parsed, raw.gitlinks)


def cached_stream(revs: Sequence[str], cwd: str | Path | None, db: cache.Cache | None,
                  order: bytes | None = None) -> Iterator[CommitRecord]:
    """`log_stream`, but only the commits the cache does not know go through the patch stream.

    The others come from a second stream without patches (messages and identities only) and the
    cache. `order` (`walk_order` ids) limits the stream to those commits. A batch at a time, so
    that what is known and missing is never held for a whole history."""
    order = topo_order(revs, cwd) if order is None else order
    if db is None:
        yield from patch_records(order, cwd)
        return
    for batch in _batches(order):
        yield from cached_batch(batch, cwd, db)


def cached_batch(batch: bytes, cwd: str | Path | None, db: cache.Cache, *,
                 newest_first: bool = False) -> Iterator[CommitRecord]:
    """`batch` (as for `patch_records`): the cache's facts, and the patch stream for the rest."""
    ids = batch.decode().split()
    known = db.facts(ids)
    db.load_verdicts(ids)  # the walk asks for each commit's verdict as the batch goes by
    if not known:  # nothing known: one stream, no headers pass
        for raw in patch_records(batch, cwd, newest_first=newest_first):
            facts = _facts(raw)
            db.put_facts(raw.sha, facts)
            yield raw._replace(trailers=facts.trailers)
        return
    fresh = patch_records("".join(s + "\n" for s in ids if s not in known).encode(), cwd,
                          newest_first=newest_first)
    for head in parse_log(commit_lines(batch, cwd, body="none"), patches=False):  # ids only
        if head.sha in known:
            yield _with_facts(head, known[head.sha])
            continue
        got = next(fresh, None)
        if got is None or got.sha != head.sha:
            raise ProvenanceError("two git streams disagree on the order of commits")
        facts = _facts(got)
        db.put_facts(got.sha, facts)
        yield got._replace(trailers=facts.trailers)


# ---- a warm audit: commits as the cache knows them -----------------------------------------------

CHUNK = 5000  # commits whose light rows and verdicts a light walk holds in memory at a time


class CacheMiss(Exception):
    """A light walk met a commit or verdict the cache does not hold: walk again in full."""


def light_stream(rows: tuple[int, Iterator[list[str]]], db: cache.Cache, branching: dict[str, int],
                 more_children: Mapping[str, int] | None = None) -> Iterator[CommitRecord]:
    """Ids, parents, digests and policy ids from the range's light rows (`Cache.light_rows`),
    nothing else; a chunk at a time, with the chunk's verdicts loaded and the chunk's branching
    commits put in `branching` (as in `WalkOrder.branching`), counting `more_children` too (the
    children a grown range adds)."""
    expected, chunks = rows
    more = more_children or {}
    seen = 0
    for lines in chunks:
        chunk = [line.split() for line in lines]
        db.load_verdicts([c[0] for c in chunk])
        for sha, _, _, children, *_ in chunk:
            total = int(children) + more.get(sha, 0)
            if total != 1:
                branching[sha] = total
        for sha, change, policy_ids, _, mainline, *parents in chunk:
            yield CommitRecord(sha, tuple(parents), "", "", "", "", 0, "", change, (),
                               None if policy_ids == "-" else tuple(policy_ids.split(",")),
                               light=True, mainline=mainline == "m")
        seen += len(chunk)
    if seen != expected:  # rows a concurrent walk of the same range was replacing: walk in full
        raise CacheMiss


def light_row(raw: CommitRecord, children: int, mainline: bool) -> str:
    """`raw` as a light row for `Cache.light_writer`."""
    return " ".join([raw.sha, raw.digest, ",".join(raw.policy_ids or ()) or "-", str(children),
                     "m" if mainline else "-", *raw.parents])
