"""What never changes for a commit, kept in sqlite in the git common dir between audits.

Cached: a commit's change digest, the paths its patch touches and its policy-blob change (all
functions of the commit id), its parsed trailers, AI fingerprints (a function of the identities and
message, and of the fingerprint table), and a signature's validity over given statement bytes. Every
key holds the tool version and the digest algorithm version, so a new version never reads an old
answer. Verdicts are never cached: they depend on the policy in force, on notes that arrive later and
on revocations found anywhere in the walk, so every audit judges again (which is cheap once the
patch stream and the signature checks are gone).

A cache that cannot be opened or written (read-only repository, corrupt file) is simply not used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import provenance
from provenance import detect, sshsig
from provenance.sshsig import InvalidSignature, PublicKey

FILE_NAME = "provenance-cache.sqlite"
DIGEST_ALGORITHM = 1  # bump when digest.digest_of_patch or the pinned diff options change
_SCHEMA = """
CREATE TABLE IF NOT EXISTS facts (
    gen TEXT NOT NULL, sha TEXT NOT NULL, digest TEXT NOT NULL, paths TEXT NOT NULL,
    policy TEXT, trailers TEXT NOT NULL, PRIMARY KEY (sha, gen)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS memo (
    key BLOB PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Facts:
    """What the patch stream says about one commit, and its parsed trailers."""

    digest: str
    paths: tuple[str, ...]
    policy: tuple[str, ...] | None  # the policy file's ids in the patch ("index" line), if shown
    trailers: tuple[tuple[str, str], ...]


def generation() -> str:
    """Part of every key: a new tool version or digest algorithm never reads an old answer."""
    return f"{provenance.__version__}/digest-{DIGEST_ALGORITHM}/fp-{detect.table_version()}"


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

    # -- per-commit facts

    def facts(self, sha: str) -> Facts | None:
        row = self._db.execute(
            "SELECT digest, paths, policy, trailers FROM facts WHERE sha = ? AND gen = ?",
            (sha, self.gen)).fetchone()
        if row is None:
            return None
        return Facts(row[0], tuple(json.loads(row[1])),
                     None if row[2] is None else tuple(row[2].split(",")),
                     tuple((k, v) for k, v in json.loads(row[3])))

    def missing(self, shas: list[str]) -> set[str]:
        """The commits of `shas` with no facts yet."""
        found: set[str] = set()
        for i in range(0, len(shas), 500):
            chunk = shas[i:i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self._db.execute(
                f"SELECT sha FROM facts WHERE gen = ? AND sha IN ({marks})", (self.gen, *chunk)))
        return {s for s in shas if s not in found}

    def put_facts(self, sha: str, facts: Facts) -> None:
        self._facts.append((
            self.gen, sha, facts.digest, json.dumps(facts.paths),
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
        key = self._key("sig", namespace.encode(), message, blob)
        hit = self._get(key)
        if hit is not None:
            status, _, rest = hit.partition(":")
            if status == "bad":
                raise InvalidSignature(rest)
            algorithm, _, b64 = rest.partition(" ")
            return PublicKey(algorithm, sshsig.unb64(b64))
        try:
            signer = _VERIFY(blob, message, namespace)
        except InvalidSignature as e:
            self._put(key, f"bad:{e}")
            raise
        self._put(key, f"ok:{signer.algorithm} {sshsig.b64(signer.blob)}")
        return signer

    def commit_signals(
        self, author_name: str, author_email: str, message: str,
        committer_name: str = "", committer_email: str = "",
    ) -> list[detect.Signal]:
        """`detect.commit_signals`, answered from the cache for the same identities and message."""
        args = (author_name, author_email, message, committer_name, committer_email)
        key = self._key("fp", *(a.encode("utf-8", "surrogateescape") for a in args))
        hit = self._get(key)
        if hit is not None:
            return [detect.Signal(*s) for s in json.loads(hit)]
        found = _SIGNALS(*args)
        self._put(key, json.dumps([[s.tool, s.evidence, s.strength, s.model] for s in found]))
        return found

    def flush(self) -> None:
        if not self._facts and not self._memo:
            return
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO facts VALUES (?, ?, ?, ?, ?, ?)",
                                 self._facts)
            self._db.executemany("INSERT OR REPLACE INTO memo VALUES (?, ?)",
                                 list(self._memo.items()))
            self._db.execute("COMMIT")
        self._facts.clear()
        self._memo.clear()

    def close(self) -> None:
        self.flush()
        self._db.close()


_VERIFY = sshsig.verify
_SIGNALS = detect.commit_signals


def open_cache(common_dir: Path) -> Cache | None:
    """The repository's cache, or None when it cannot be used."""
    try:
        return Cache(common_dir / FILE_NAME)
    except (sqlite3.Error, OSError):
        return None


@contextlib.contextmanager
def memoised(cache: Cache | None) -> Iterator[None]:
    """For the length of one walk, answer `sshsig.verify` and `detect.commit_signals` from `cache`.

    The judge is pure and calls both by module attribute; both are pure functions of their
    arguments (and of the tool version, which is in every key), so answering them from the cache
    changes no verdict. The originals are always restored.
    """
    if cache is None:
        yield
        return
    saved = sshsig.verify, detect.commit_signals
    sshsig.verify = cache.verify
    detect.commit_signals = cache.commit_signals
    try:
        yield
    finally:
        sshsig.verify, detect.commit_signals = saved
        with contextlib.suppress(sqlite3.Error):
            cache.flush()
