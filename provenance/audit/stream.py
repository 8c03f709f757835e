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
from provenance.policy.schema import POLICY_FILE
from provenance.wire import digest, trailers

_START = b"\x00\x00C "
_END = b"\x00END\x00\n"
# NUL never occurs in names or messages; the end marker sits on a line of its own (the `%n`).
LOG_FORMAT = "%x00%x00C %H%x00%P%x00%an%x00%ae%x00%cn%x00%ce%x00%at%x00%B%n%x00END%x00"
NULL_OID = "0" * 40
UNKNOWN = ""  # the digest of a commit streamed without its patch: nothing needed it
SIGNATURE_MARK = "Provenance-Signature"  # a message holding it may need its digest


def _unquote(data: bytes) -> tuple[bytes, bytes]:
    """Decode one C-quoted string at the start of `data` (git's quote_c_style); return the rest."""
    simple = {b"a": 7, b"b": 8, b"t": 9, b"n": 10, b"v": 11, b"f": 12, b"r": 13, b'"': 34,
              b"\\": 92}
    out = bytearray()
    i = 1
    while i < len(data):
        c = data[i:i + 1]
        if c == b'"':
            return bytes(out), data[i + 1:]
        if c == b"\\":
            nxt = data[i + 1:i + 2]
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            out.append(int(data[i + 1:i + 4], 8) & 0xFF)
            i += 4
            continue
        out += c
        i += 1
    return bytes(out), b""


def path_of_header(line: bytes) -> str | None:
    """The path a `diff --git` / `diff --cc` / `diff --combined` header names."""
    text = line.rstrip(b"\n")
    if text.startswith(b"diff --git "):
        rest = text[len(b"diff --git "):]
        if rest.startswith(b'"'):
            raw = _unquote(rest)[0][2:]
        else:
            # No renames: "a/P b/P", both halves the same path.
            raw = rest[2:2 + (len(rest) - 5) // 2]
    elif text.startswith((b"diff --cc ", b"diff --combined ")):
        rest = text.split(b" ", 2)[2]
        raw = _unquote(rest)[0] if rest.startswith(b'"') else rest
    else:
        return None
    return raw.decode("utf-8", "surrogateescape")


_DIFF_HEADER = re.compile(rb"^diff --.*$", re.MULTILINE)


def _patch_facts(patch: bytes, paths: list[str]) -> tuple[str, ...] | None:
    """Fill `paths` from the patch's `diff --` headers; the policy file's `index` ids, if shown."""
    policy_ids = None
    for header in _DIFF_HEADER.finditer(patch):  # `^` after LF only: a lone CR is content
        path = path_of_header(header[0])
        if path is None:
            continue
        paths.append(path)
        if path == POLICY_FILE and policy_ids is None:
            # "index OLD..NEW [mode]", or "index P1,P2..NEW" for a combined diff; none when only
            # the mode changed, so look no further than the next header.
            after = patch[header.end():]
            extended = after[:m.start()] if (m := _DIFF_HEADER.search(after)) else after
            index = re.search(rb"^index (\S+)", extended.split(b"\n@@", 1)[0], re.MULTILINE)
            if index is not None:
                old, _, new = index[1].decode().partition("..")
                policy_ids = (*old.split(","), new)
    return policy_ids


# ":MODE MODE OLD NEW STATUS\tPATH"; one `findall` a commit rather than a Python step per line.
_RAW_LINE = re.compile(rb"^:[0-7]+ [0-7]+ ([0-9a-f]+) ([0-9a-f]+) ([A-Z])[0-9]*\t([^\n]*)$", re.M)


def _raw_facts(raw: bytes, paths: list[str]) -> tuple[str, ...] | None:
    """The same from `--raw` lines: the paths a patch would name, in the same order, and the
    policy file's ids."""
    policy_ids = None
    lines = _RAW_LINE.findall(raw)
    if len(lines) != raw.count(b"\n:") + raw.startswith(b":"):  # a path unread is a rule unapplied
        raise ProvenanceError("unexpected output from git (a --raw line)")
    for old, new, status, name in lines:
        path = (_unquote(name)[0] if name.startswith(b'"') else name).decode(
            "utf-8", "surrogateescape")
        # A type change is a deletion and a creation in a patch: two headers, one path.
        paths.extend((path, path) if status == b"T" else (path,))
        if path == POLICY_FILE and policy_ids is None:
            policy_ids = (old.decode(), new.decode())
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


def parse_log(blocks: Iterable[bytes], *, patches: bool = True
              ) -> Generator[CommitRecord, None, None]:
    """Split the `LOG_FORMAT` + patch stream into commits and digest each patch.

    Without `patches` the stream holds `--raw` lines instead and the digest is `UNKNOWN`; a
    merge's paths are left empty."""
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
        if patches:
            change = digest.digest_of_patch(io.BytesIO(body))
            policy_ids = _patch_facts(body, paths)
        elif " " in fields[1]:  # a merge: `--cc --raw` lists the files that differ from every
            # parent, more than its patch names (a file both sides changed, merged cleanly). None:
            # its patch is empty too; else it is read (scan.scan_stream).
            change, policy_ids = (UNKNOWN if body.strip() else digest.EMPTY), None
        else:
            change = UNKNOWN
            policy_ids = _raw_facts(body, paths)
        sha, parents, author_name, author_email, committer_name, committer_email, stamp, \
            message = fields
        yield CommitRecord(
            sha, tuple(parents.split()), author_name, author_email, committer_name,
            committer_email, int(stamp) if stamp.isdigit() else 0, message.removesuffix("\n"),
            change, tuple(paths), policy_ids,
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


def log_stream(revs: Sequence[str], cwd: str | Path | None, order: bytes | None = None
               ) -> Iterator[CommitRecord]:
    """Every commit of `revs` (or of `order`, its `walk_order` ids) with its pinned patch
    digested, parents before children."""
    return parse_log(commit_lines(topo_order(revs, cwd) if order is None else order, cwd))


def records_of(shas: Sequence[str], cwd: str | Path | None) -> Iterator[CommitRecord]:
    """The commits `shas` (each once), streamed with their patches digested."""
    if not shas:  # most walks have nothing to read again
        return iter(())
    return parse_log(commit_lines("".join(s + "\n" for s in dict.fromkeys(shas)).encode(), cwd))


def digests_of(shas: Sequence[str], cwd: str | Path | None) -> dict[str, str]:
    """The change digests of `shas` (commits a scan streamed without their patches)."""
    return {raw.sha: raw.digest for raw in records_of(shas, cwd)}


def _with_facts(raw: CommitRecord, facts: cache.Facts) -> CommitRecord:
    return raw._replace(digest=facts.digest, paths=facts.paths, policy_ids=facts.policy,
                        trailers=facts.trailers)


def _facts(raw: CommitRecord) -> cache.Facts:
    parsed = tuple(trailers.parse(raw.message))
    return cache.Facts(raw.digest, raw.paths, raw.policy_ids, parsed)


def cached_stream(revs: Sequence[str], cwd: str | Path | None, db: cache.Cache | None,
                  order: bytes | None = None) -> Iterator[CommitRecord]:
    """`log_stream`, but only the commits the cache does not know go through the patch stream.

    The others come from a second stream without patches (messages and identities only) and the
    cache. `order` (`walk_order` ids) limits the stream to those commits. A batch at a time, so
    that what is known and missing is never held for a whole history."""
    order = topo_order(revs, cwd) if order is None else order
    if db is None:
        yield from parse_log(commit_lines(order, cwd))
        return
    for batch in _batches(order):
        yield from cached_batch(batch, cwd, db)


def cached_batch(batch: bytes, cwd: str | Path | None, db: cache.Cache) -> Iterator[CommitRecord]:
    ids = batch.decode().split()
    known = db.facts(ids)
    db.load_verdicts(ids)  # the walk asks for each commit's verdict as the batch goes by
    if not known:  # nothing known: one stream, no headers pass
        for raw in parse_log(commit_lines(batch, cwd)):
            facts = _facts(raw)
            db.put_facts(raw.sha, facts)
            yield raw._replace(trailers=facts.trailers)
        return
    fresh = parse_log(commit_lines("".join(s + "\n" for s in ids if s not in known).encode(), cwd))
    for head in parse_log(commit_lines(batch, cwd, body="none")):
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
