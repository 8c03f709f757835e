"""One streamed `git log -p --cc` over a range, parsed into commits (and the cache in front of it).

Parents come before children; each commit's patch is digested as it streams past, and the paths
and the policy file's blob ids are read from the same patch, so nothing is buffered per commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from provenance import cache, digest, git, trailers
from provenance.errors import ProvenanceError
from provenance.policy import POLICY_FILE

_START = b"\x00\x00C "
_END = b"\x00END\x00\n"
# NUL never occurs in names or messages; the end marker sits on a line of its own (the `%n`).
LOG_FORMAT = "%x00%x00C %H%x00%P%x00%an%x00%ae%x00%cn%x00%ce%x00%at%x00%B%n%x00END%x00"
NULL_OID = "0" * 40


@dataclass(frozen=True)
class RawCommit:
    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    committer_name: str
    committer_email: str
    author_time: int
    message: str
    digest: str
    paths: tuple[str, ...]
    policy_ids: tuple[str, ...] | None = None  # the policy file's `index` ids when the patch shows it
    trailers: tuple[tuple[str, str], ...] | None = None  # parsed, when they came from the cache


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


def _patch_lines(it: Iterator[bytes], holder: list[bytes | None], paths: list[str],
                 policy_ids: list[tuple[str, ...]]) -> Iterator[bytes]:
    """Lines of one commit's patch, from holder[0] up to the next commit; leave that in holder."""
    cur = holder[0]
    in_policy = False
    while cur is not None and not cur.startswith(_START):
        if cur.startswith(b"diff --"):
            path = path_of_header(cur)
            in_policy = path == POLICY_FILE
            if path is not None:
                paths.append(path)
        elif in_policy and cur.startswith(b"index "):
            # "index OLD..NEW [mode]", or "index P1,P2..NEW" for a combined diff
            old, _, new = cur.split()[1].decode().partition("..")
            policy_ids.append((*old.split(","), new))
            in_policy = False
        yield cur
        cur = next(it, None)
    holder[0] = cur


def parse_log(lines: Iterable[bytes]) -> Iterator[RawCommit]:
    """Split the `LOG_FORMAT` + patch stream into commits, digesting each patch as it streams by."""
    it = iter(lines)
    line = next(it, None)
    while line is not None:
        if not line.startswith(_START):
            line = next(it, None)
            continue
        head = [line[len(_START):]]
        while (line := next(it, None)) is not None and line != _END:
            head.append(line)
        fields = b"".join(head).split(b"\x00", 7)
        if len(fields) != 8:
            raise ProvenanceError("unexpected output from git log (commit header)")
        line = next(it, None)
        if line == b"\n":
            line = next(it, None)
        paths: list[str] = []
        policy_ids: list[tuple[str, ...]] = []
        holder = [line]
        change = digest.digest_of_patch(_patch_lines(it, holder, paths, policy_ids))
        line = holder[0]
        dec = [f.decode("utf-8", "surrogateescape") for f in fields]
        yield RawCommit(
            sha=dec[0], parents=tuple(dec[1].split()), author_name=dec[2], author_email=dec[3],
            committer_name=dec[4], committer_email=dec[5],
            author_time=int(dec[6]) if dec[6].isdigit() else 0,
            message=dec[7].removesuffix("\n"), digest=change, paths=tuple(paths),
            policy_ids=policy_ids[0] if policy_ids else None,
        )


def _log_config() -> list[str]:
    # `git log` (unlike diff-tree) reads diff.orderFile and rejects the empty value that pins it
    # for plumbing; an empty order file given on the command line means "no reordering".
    config = [c for c in git.PINNED_DIFF_CONFIG if not c.startswith("diff.orderFile")]
    return [c for i, c in enumerate(config) if not (c == "-c" and config[i + 1:i + 2] == ["-c"])]


def log_stream(revs: Sequence[str], cwd: str | Path | None) -> Iterator[RawCommit]:
    """One pinned `git log -p --cc` over `revs`, parents before children."""
    args = [
        *_log_config(), "log", f"--format={LOG_FORMAT}", "-p", "--cc", "--root", "-O/dev/null",
        *git.PINNED_DIFF_OPTIONS, "--topo-order", "--reverse", "--no-notes", "--end-of-options",
        *git.resolve_revs(revs, cwd=cwd), "--",
    ]
    # Pinned: runs in a neutral git dir (no attributes), so revisions are resolved here first.
    return parse_log(git.stream(args, cwd=cwd, pinned=True))


def _with_facts(raw: RawCommit, facts: cache.Facts) -> RawCommit:
    return replace(raw, digest=facts.digest, paths=facts.paths, policy_ids=facts.policy,
                   trailers=facts.trailers)


def _facts(raw: RawCommit) -> cache.Facts:
    parsed = tuple(trailers.parse(raw.message))
    return cache.Facts(raw.digest, raw.paths, raw.policy_ids, parsed)


def cached_stream(revs: Sequence[str], cwd: str | Path | None, db: cache.Cache | None
                  ) -> Iterator[RawCommit]:
    """`log_stream`, but only the commits the cache does not know go through the patch stream.

    The others come from one `git log` without `-p` (messages and identities only) and the cache.
    """
    if db is None:
        yield from log_stream(revs, cwd)
        return
    order = git.text(["rev-list", "--topo-order", "--reverse", "--end-of-options", *revs, "--"],
                     cwd=cwd).split()
    missing = db.missing(order)
    if len(missing) == len(order):
        for raw in log_stream(revs, cwd):
            facts = _facts(raw)
            db.put_facts(raw.sha, facts)
            yield replace(raw, trailers=facts.trailers)
        return
    todo = [s for s in order if s in missing]
    del order
    fresh = parse_log(git.stream(
        [*_log_config(), "log", f"--format={LOG_FORMAT}", "-p", "--cc", "--root",
         *git.PINNED_DIFF_OPTIONS, "--no-notes", "--no-walk=unsorted", "--stdin"],
        cwd=cwd, stdin_lines=(s.encode() + b"\n" for s in todo), pinned=True))
    headers = parse_log(git.stream(
        ["log", f"--format={LOG_FORMAT}", "--topo-order", "--reverse", "--no-notes",
         "--end-of-options", *revs, "--"], cwd=cwd))
    for head in headers:
        known = db.facts(head.sha) if head.sha not in missing else None
        if known is not None:
            yield _with_facts(head, known)
            continue
        got = next(fresh, None)
        if got is None or got.sha != head.sha:
            raise ProvenanceError("git log and git rev-list disagree on the order of commits")
        facts = _facts(got)
        db.put_facts(got.sha, facts)
        yield replace(got, trailers=facts.trailers)
