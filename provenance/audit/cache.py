"""What never changes for a commit, kept in sqlite in the git common dir between audits.

Cached: a commit's change digest, the paths its patch touches (and which are submodules) and its
policy-blob change (all functions of the commit id), its parsed trailers, and a signature's validity
over given statement bytes. Not AI fingerprints: finding them is cheaper than looking them up.
Every key holds the tool version and the digest algorithm version: a new one never reads an old answer.

Verdicts (one commit's judgement before cover co-signs of merges are applied, as its JSON report
line: `spool.Encoded`) are cached, except by a scan, under a key holding everything `judge` reads
besides the commit itself: the policy in force (its blob id or the external file's sha256, and its
source name), the trust root, every note attestation, the revoked key set, the policy-change
override, and the versions above. A verdict re-judged with cover approvals is cached under that
key plus the approvals. Verdicts of an older notes state or tool version are dropped when new ones
are written. The last range walked in full is kept as light rows (each commit's id, digest, policy
ids, number of children and parents, in walk order; a function of the resolved ids and the shallow
file), so a warm audit asks git for no order.

A cache that cannot be opened or written (read-only repository, corrupt file) is simply not used.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import marshal
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import provenance
from provenance.audit import spool
from provenance.audit.records import CoverApproval, Judgement, NoteAttestation
from provenance.detect import fingerprints
from provenance.git import git
from provenance.ssh import sshsig
from provenance.ssh.sshsig import InvalidSignature, PublicKey

FILE_NAME = "provenance-cache.sqlite"
# Bump when digest.digest_of_patch, the pinned diff options or a commit's facts change (2: a
# merge's paths are its own change's, and an evil merge's digest reads its hidden part).
DIGEST_ALGORITHM = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS facts (
    gen TEXT NOT NULL, sha TEXT NOT NULL, digest TEXT NOT NULL, paths TEXT NOT NULL,
    policy TEXT, trailers TEXT NOT NULL, PRIMARY KEY (sha, gen)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS memo (
    key BLOB PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
DROP TABLE IF EXISTS ranges;
CREATE TABLE IF NOT EXISTS light_rows (
    key BLOB NOT NULL, seq INTEGER NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (key, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS verdicts (
    sha TEXT NOT NULL, key BLOB NOT NULL, epoch BLOB NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (sha, key)) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Facts:
    """What the patch stream says about one commit, and its parsed trailers."""

    digest: str
    paths: tuple[str, ...]
    policy: tuple[str, ...] | None  # the policy file's ids in the patch ("index" line), if shown
    trailers: tuple[tuple[str, str], ...]
    gitlinks: tuple[str, ...] = ()  # the submodules among `paths`


def generation() -> str:
    """Part of every key: a new tool version or digest algorithm never reads an old answer."""
    return (f"{provenance.__version__}/py-{sys.version_info[0]}.{sys.version_info[1]}"
            f"/digest-{DIGEST_ALGORITHM}/fp-{fingerprints.table_version()}"
            f"/rules-{_rules_fingerprint()}")


@functools.lru_cache(maxsize=1)
def _rules_fingerprint() -> str:
    """A hash of the package's sources and data (the fingerprint table), every file of it (a list
    of the modules that decide verdicts went stale when modules were split): a fix to the rules or
    to how the stream reads a commit retires what was cached, even under the same version number.
    Each file's size and modification time, as Python decides whether the bytecode it runs is
    current: reading every source cost each audit and push ~15 ms."""
    h = hashlib.sha256()
    package = os.path.dirname(provenance.__file__ or "")
    try:
        for top, _, names in sorted(os.walk(package)):
            for name in sorted(n for n in names if n.endswith((".py", ".toml"))):
                st = os.stat(path := os.path.join(top, name))
                h.update(f"{os.path.relpath(path, package)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    except OSError:
        h.update(b"unreadable")  # e.g. a zipped install: the version still counts
    return h.hexdigest()[:16]


class Cache:
    """One open cache database; writes are batched and committed by `flush`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.gen = generation()
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._facts: list[tuple[str, str, str, str, str | None, str]] = []
        self._memo: dict[bytes, str] = {}
        self._epoch = b""
        self._verdict_rows: dict[bytes, bytes] = {}
        self._verdict_shas: set[str] = set()
        self._new_verdicts: list[tuple[str, bytes, bytes, bytes]] = []

    # -- per-commit facts

    def facts(self, shas: Sequence[str]) -> dict[str, Facts]:
        """The facts of those of `shas` that have them: one query per 500 commits."""
        found: dict[str, Facts] = {}
        for chunk, marks in _chunks(shas):
            for sha, change, paths, policy, trailers in self._db.execute(
                    "SELECT sha, digest, paths, policy, trailers FROM facts WHERE gen = ? AND "
                    f"sha IN ({marks})", (self.gen, *chunk)):
                names = json.loads(paths)  # {"paths", "gitlinks"}: a commit with submodules
                found[sha] = Facts(change, tuple(names["paths"] if type(names) is dict else names),
                                   None if policy is None else tuple(policy.split(",")),
                                   tuple((k, v) for k, v in json.loads(trailers)),
                                   tuple(names["gitlinks"]) if type(names) is dict else ())
        return found

    def put_facts(self, sha: str, facts: Facts) -> None:
        self._facts.append((
            self.gen, sha, facts.digest, json.dumps({"paths": facts.paths, "gitlinks": facts.gitlinks}
                                                    if facts.gitlinks else facts.paths),
            None if facts.policy is None else ",".join(facts.policy),
            json.dumps(facts.trailers)))
        if len(self._facts) >= 5000:
            self.flush()

    # -- memoised pure functions (signature validity, fingerprints)

    def _get(self, key: bytes) -> str | None:
        if key in self._memo:
            return self._memo[key]
        row = self._db.execute("SELECT value FROM memo WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _put(self, key: bytes, value: str) -> None:
        self._memo[key] = value
        if len(self._memo) >= 5000:
            self.flush()

    def _key(self, kind: str, *parts: bytes) -> bytes:
        h = hashlib.sha256(f"{kind}\0{self.gen}".encode())
        for p in parts:
            h.update(len(p).to_bytes(8, "big") + p)
        return h.digest()

    def verify(self, blob: bytes, message: bytes, namespace: str = sshsig.NAMESPACE) -> PublicKey:
        """`sshsig.verify`, answered from the cache when these exact bytes were checked before."""
        outcome = self.signature(blob, message, namespace)
        if outcome is None:
            try:
                outcome = _VERIFY(blob, message, namespace)
            except InvalidSignature as e:
                outcome = e
            self.learn_signature(blob, message, namespace, outcome)
        if isinstance(outcome, InvalidSignature):
            raise InvalidSignature(str(outcome))
        return outcome

    def signature(self, blob: bytes, message: bytes, namespace: str
                  ) -> PublicKey | InvalidSignature | None:
        """What checking these exact bytes gave before (the signer or the failure), or None."""
        hit = self._get(self._key("sig", namespace.encode(), message, blob))
        if hit is None:
            return None
        status, _, rest = hit.partition(":")
        if status == "bad":
            return InvalidSignature(rest)
        algorithm, _, b64 = rest.partition(" ")
        return PublicKey(algorithm, sshsig.unb64(b64))

    def learn_signature(self, blob: bytes, message: bytes, namespace: str,
                        outcome: PublicKey | InvalidSignature) -> None:
        """Remember what `sshsig.verify` gave for these bytes (checked here or on another thread)."""
        self._put(self._key("sig", namespace.encode(), message, blob),
                  f"bad:{outcome}" if isinstance(outcome, InvalidSignature)
                  else f"ok:{outcome.algorithm} {sshsig.b64(outcome.blob)}")

    def recall(self, kind: str, *parts: str) -> str | None:
        """A memoised answer of a pure function of `parts` (and of the tool version)."""
        return self._get(self._key(kind, *(p.encode() for p in parts)))

    def remember(self, value: str, kind: str, *parts: str) -> None:
        self._put(self._key(kind, *(p.encode() for p in parts)), value)

    # -- a warm walk: the light rows of the latest range walked in full, a chunk at a time

    def range_key(self, revs: Sequence[str], cwd: str | Path | None) -> tuple[bytes, list[str]]:
        """The key of a range's light rows, and the range's resolved ids ("TIP ^EXCLUDED..."). The
        key holds those ids and the shallow file: the neutral git dir sees no replace refs or
        grafts, so these fix the range's commits and their order."""
        resolved = git.resolve_revs(revs, cwd=cwd)
        return self.key_of_range(resolved, cwd), resolved

    def key_of_range(self, resolved: Sequence[str], cwd: str | Path | None) -> bytes:
        shallow = git.common_dir(cwd) / "shallow"
        return self._key("range", shallow.read_bytes() if shallow.exists() else b"",
                         *(r.encode() for r in resolved))

    def light_rows(self, key: bytes) -> tuple[int, Iterator[list[str]]] | None:
        """How many commits the range `key` has, and its rows ("SHA DIGEST POLICY-IDS|- CHILDREN
        m|- PARENT...", m: on the mainline; walk order) a chunk at a time; None unless a full walk
        stored all of them."""
        head = self._db.execute("SELECT value FROM light_rows WHERE key = ? AND seq = -1",
                                (key,)).fetchone()
        if head is None:
            return None
        chunks = self._db.execute(
            "SELECT value FROM light_rows WHERE key = ? AND seq >= 0 ORDER BY seq", (key,))
        return int(str(head[0]).split()[0]), (str(value).split("\n") for (value,) in chunks)

    def previous_range(self, cwd: str | Path | None
                       ) -> tuple[list[str], tuple[int, Iterator[list[str]]]] | None:
        """The resolved ids and light rows of the range stored last, if its key still holds for
        them here (the same shallow file)."""
        for key, value in self._db.execute(
                "SELECT key, value FROM light_rows WHERE seq = -1").fetchall():
            resolved = str(value).split()[1:]
            rows = self.light_rows(bytes(key))
            if resolved and rows is not None and self.key_of_range(resolved, cwd) == bytes(key):
                return resolved, rows
        return None

    def light_writer(self, key: bytes, resolved: Sequence[str], chunk: int) -> LightRows:
        return LightRows(self._db, key, resolved, chunk)

    def epoch(self, notes: Sequence[NoteAttestation]) -> bytes:
        """The part of every verdict key shared by one audit: tool versions and every note."""
        h = hashlib.sha256(f"epoch\0{self.gen}".encode())
        h.update(json.dumps([[n.value, n.note_commit, n.ai_assisted, n.assisted_by, n.grouped,
                              n.gone] for n in notes]).encode())  # one call: ~5x cheaper than one a note
        self._epoch = h.digest()
        return self._epoch

    @staticmethod
    def verdict_key(context: bytes, fields: str) -> bytes:
        """`context` (an epoch-derived key) and the NUL-separated fields of one verdict."""
        return hashlib.sha256(context + fields.encode("utf-8", "surrogateescape")).digest()

    def load_verdicts(self, shas: Sequence[str]) -> None:
        """Read every stored verdict of `shas` (any key), in place of those read before: one
        query for a chunk of a walk instead of one per commit."""
        self._verdict_rows = {}
        self._verdict_shas = set(shas)
        for chunk, marks in _chunks(shas):
            self._verdict_rows.update(self._db.execute(
                f"SELECT key, value FROM verdicts WHERE sha IN ({marks})", chunk))

    def verdict(self, sha: str, key: bytes) -> tuple[spool.Encoded, tuple[str, ...]] | None:
        """(encoded judgement, covers) stored for commit `sha` under `key`."""
        if sha in self._verdict_shas:
            value = self._verdict_rows.get(key)
        else:
            row = self._db.execute("SELECT value FROM verdicts WHERE sha = ? AND key = ?",
                                   (sha, key)).fetchone()
            value = None if row is None else bytes(row[0])
        return None if value is None else _decode_verdict(value)

    def put_verdict(self, sha: str, key: bytes, j: Judgement | spool.Encoded,
                    covers: tuple[str, ...]) -> None:
        # Not kept in memory: no walk asks twice for a key it wrote (1M verdicts would not fit).
        self._new_verdicts.append((sha, key, self._epoch, _encode_verdict(j, covers)))
        if len(self._new_verdicts) >= 5000:
            self.flush()

    def flush(self) -> None:
        if not self._facts and not self._memo and not self._new_verdicts:
            return
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO facts VALUES (?, ?, ?, ?, ?, ?)",
                                 self._facts)
            self._db.executemany("INSERT OR REPLACE INTO memo VALUES (?, ?)",
                                 list(self._memo.items()))
            if self._new_verdicts:  # verdicts of older notes or tool versions are never read again
                self._db.execute("DELETE FROM verdicts WHERE epoch != ?", (self._epoch,))
                self._db.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?)",
                                     self._new_verdicts)
            self._db.execute("COMMIT")
        self._facts.clear()
        self._memo.clear()
        self._new_verdicts.clear()

    def close(self) -> None:
        self.flush()
        self._db.close()


class LightRows:
    """The light rows of one full walk, written a chunk at a time as the walk goes (a range's rows
    are ~16 MB at 100k commits: never one string). Only a complete set is ever read: the head row
    (seq -1: the number of rows and the range's resolved ids) is written last, and the rows of any
    other range are dropped then, so the file holds one range."""

    def __init__(self, db: sqlite3.Connection, key: bytes, resolved: Sequence[str],
                 chunk: int) -> None:
        self._db, self._key, self._resolved, self._size = db, key, " ".join(resolved), chunk
        self._chunk: list[str] = []
        self._seq = self._count = 0
        self._drop()  # rows a walk of this range left behind unfinished

    def add(self, line: str) -> None:
        self._chunk.append(line)
        if len(self._chunk) >= self._size:
            self._write()

    def close(self, complete: bool) -> None:
        """Keep the rows as the range's light rows when `complete`, else drop them."""
        if not complete:
            self._drop()
            return
        self._write()
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("INSERT OR REPLACE INTO light_rows VALUES (?, -1, ?)",
                             (self._key, f"{self._count} {self._resolved}"))
            self._db.execute("DELETE FROM light_rows WHERE key != ?", (self._key,))

    def _write(self) -> None:
        if self._chunk:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("INSERT OR REPLACE INTO light_rows VALUES (?, ?, ?)",
                                 (self._key, self._seq, "\n".join(self._chunk)))
            self._seq += 1
            self._count += len(self._chunk)
            self._chunk = []

    def _drop(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("DELETE FROM light_rows WHERE key = ?", (self._key,))


def _chunks(shas: Sequence[str]) -> Iterator[tuple[Sequence[str], str]]:
    for i in range(0, len(shas), 500):
        chunk = shas[i:i + 500]
        yield chunk, ",".join("?" * len(chunk))


# A verdict is stored as the judgement's JSON report line and what a walk reads of it (`spool.
# Encoded`), marshalled: a warm audit decodes one a commit and builds no judgement, and its JSON
# report copies the lines. marshal's format may change between Pythons: the generation names it.
def _encode_verdict(j: Judgement | spool.Encoded, covers: tuple[str, ...]) -> bytes:
    e = spool.encoded(j)
    approvals = [[c.merge, c.signer, c.key.algorithm, sshsig.b64(c.key.blob)]
                 for c in e.cover_approvals]
    return marshal.dumps([e.line, e.ai_assisted, e.critical, e.violations, e.missing_cosign,
                          e.policy_authorized, approvals, list(covers)])


def _decode_verdict(value: bytes) -> tuple[spool.Encoded, tuple[str, ...]]:
    line, ai, critical, violations, missing, authorized, approvals, covers = marshal.loads(value)
    return spool.Encoded(
        line, ai, critical, violations, missing, authorized,
        tuple(CoverApproval(m, s, PublicKey(a, sshsig.unb64(b))) for m, s, a, b in approvals)
        if approvals else ()), tuple(covers)


_VERIFY = sshsig.verify


def open_cache(common_dir: Path) -> Cache | None:
    """The repository's cache, or None when it cannot be used."""
    try:
        return Cache(common_dir / FILE_NAME)
    except (sqlite3.Error, OSError):
        return None


@contextlib.contextmanager
def memoised(cache: Cache | None) -> Iterator[None]:
    """For the length of one walk, answer `sshsig.verify` from `cache` (the judge calls it by module
    attribute; a pure function of its arguments and of the tool version, in every key: no verdict
    changes), then restore it. Fingerprints (`signals.commit_signals`) are not cached: finding them
    (~2 us a commit) is cheaper than a look-up, and storing one a commit made a first scan of 100k
    commits 1.5 s slower."""
    if cache is None:
        yield
        return
    saved = sshsig.verify
    sshsig.verify = cache.verify
    try:
        yield
    finally:
        sshsig.verify = saved
        with contextlib.suppress(sqlite3.Error):
            cache.flush()
