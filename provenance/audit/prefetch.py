"""Signatures checked on a second thread while the walk reads the commits before them.

An Ed25519 check is ~110 µs of OpenSSL, longer than git takes to print a commit's patch, and
cryptography releases the GIL while it runs. So the walk reads a window of commits ahead, guesses
the statements the judge will verify for each (the commit's own trailers and notes, the policy file
unchanged unless the patch shows it, no merge covers: the common case) and hands them to one
worker thread. When the judge calls `sshsig.verify` with those exact bytes, the answer is waiting.
A wrong guess changes nothing but a wasted check: whatever else the judge asks is verified then.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from provenance import cache, sshsig, trailers
from provenance.audit.judge import _statements
from provenance.audit.records import CommitRecord, NoteAttestation
from provenance.audit.stream import NULL_OID, RawCommit
from provenance.sshsig import InvalidSignature, PublicKey
from provenance.statement import (
    KEY_AI_ASSISTED,
    KEY_ASSISTED_BY,
    KEY_SIGNATURE,
    MalformedSignature,
    parse_ai_assisted,
    parse_signature_value,
)

WINDOW = 32  # commits read ahead of the judge: enough to keep the worker busy, little memory
_PURE_VERIFY = sshsig.verify  # the function itself, whatever a cache puts in its place later
_Check = tuple[bytes, bytes]  # (signature blob, statement bytes)


_Outcome = PublicKey | InvalidSignature
BATCH = 8  # commits' checks handed over at a time: one hand-over costs more than a dict look-up


class Prefetcher:
    """The worker thread and the checks handed to it, by exact (blob, statement) bytes."""

    def __init__(self, db: cache.Cache | None) -> None:
        self._db = db
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="provenance-verify")
        self._started: dict[_Check, Future[dict[_Check, _Outcome]]] = {}
        self._batch: list[_Check] = []
        self.inner: Callable[..., PublicKey] = sshsig.verify

    def verify(self, blob: bytes, message: bytes, namespace: str = sshsig.NAMESPACE) -> PublicKey:
        """`sshsig.verify`, with the answer from the worker when it was started there."""
        started = self._started.pop((blob, message), None) if namespace == sshsig.NAMESPACE else None
        if started is None:
            return self.inner(blob, message, namespace)
        outcome = started.result()[blob, message]
        if self._db is not None:
            self._db.learn_signature(blob, message, namespace, outcome)
        if isinstance(outcome, InvalidSignature):
            raise InvalidSignature(str(outcome))
        return outcome

    def ahead(self, stream: Iterable[RawCommit],
              notes_of: Callable[[RawCommit], Sequence[NoteAttestation]]) -> Iterator[RawCommit]:
        """`stream` with each commit's trailers parsed, its checks started a window early."""
        window: deque[tuple[RawCommit, list[_Check]]] = deque()
        done: list[_Check] = []
        for n, raw in enumerate(_ending_with_none(stream)):
            if raw is not None:
                if raw.trailers is None:
                    raw = raw._replace(trailers=tuple(trailers.parse(raw.message)))
                window.append((raw, self._add(_guesses(raw, notes_of(raw)))))
            if raw is None or n % BATCH == BATCH - 1:
                self._hand_over()
            while len(window) > (WINDOW if raw is not None else 0):
                # The commit yielded before has been judged: its unused guesses can go.
                self._forget(done)
                out, done = window.popleft()
                yield out
        self._forget(done)

    def _add(self, checks: Iterable[_Check]) -> list[_Check]:
        added = []
        for check in checks:
            if check in self._started or check in self._batch or (
                    self._db is not None and self._db.signature(*check, sshsig.NAMESPACE) is not None):
                continue
            self._batch.append(check)
            added.append(check)
        return added

    def _hand_over(self) -> None:
        if self._batch:
            future = self._pool.submit(_check_all, self._batch)
            for check in self._batch:
                self._started[check] = future
            self._batch = []

    def _forget(self, checks: Iterable[_Check]) -> None:
        for check in checks:
            self._started.pop(check, None)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._started.clear()


def _check_all(checks: Sequence[_Check]) -> dict[_Check, _Outcome]:
    """On the worker: `sshsig.verify` of each check, the signer or the failure."""
    out: dict[_Check, _Outcome] = {}
    for blob, message in checks:
        try:
            out[blob, message] = _PURE_VERIFY(blob, message)
        except InvalidSignature as e:
            out[blob, message] = e
    return out


def _ending_with_none(stream: Iterable[RawCommit]) -> Iterator[RawCommit | None]:
    yield from stream
    yield None


def _guesses(raw: RawCommit, notes: Sequence[NoteAttestation]) -> Iterator[_Check]:
    """The (blob, statement) pairs the judge will most likely verify for `raw`."""
    assert raw.trailers is not None
    values: dict[str, list[str]] = {KEY_AI_ASSISTED: [], KEY_ASSISTED_BY: [], KEY_SIGNATURE: []}
    for k, v in raw.trailers:
        for key, found in values.items():
            if k.lower() == key.lower():
                found.append(v)
    if not values[KEY_SIGNATURE] and not notes:
        return
    parsed = [parse_ai_assisted(v) for v in values[KEY_AI_ASSISTED]]
    declared = [p for p in (True, False) if p in parsed] or [True, False]
    changed = raw.policy_ids[-1] if raw.policy_ids is not None else None
    record = CommitRecord(
        sha=raw.sha, parents=raw.parents, author_name=raw.author_name,
        author_email=raw.author_email, committer_name=raw.committer_name,
        committer_email=raw.committer_email, author_time=raw.author_time, message=raw.message,
        trailers=raw.trailers, paths=raw.paths, digest=raw.digest,
        policy_blob=None if changed is None else (changed if changed.strip("0") else NULL_OID))
    asked = [(v, declared, values[KEY_ASSISTED_BY]) for v in values[KEY_SIGNATURE]]
    asked += [(n.value, [True, False], list(n.assisted_by)) for n in notes]
    for value, options, assisted_by in asked:
        try:
            line = parse_signature_value(value)
            blob = sshsig.unb64(line.signature_b64)
        except (MalformedSignature, InvalidSignature):
            continue
        for stmt, _, _ in _statements(record, line.role, line.change, line.signer, options,
                                      assisted_by):
            yield blob, stmt.to_bytes()


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may run on (Linux)
    except AttributeError:
        return os.cpu_count() or 1


@contextlib.contextmanager
def checking(db: cache.Cache | None) -> Iterator[Prefetcher | None]:
    """For the length of one walk, `sshsig.verify` answers from the worker's checks when it can.

    Put in place inside `cache.memoised`, so a check it did not start falls to the cache. On a
    single CPU a worker only adds hand-overs: None, and the walk checks as it goes."""
    if _cpus() < 2:
        yield None
        return
    prefetcher = Prefetcher(db)
    prefetcher.inner = sshsig.verify
    sshsig.verify = prefetcher.verify
    try:
        yield prefetcher
    finally:
        sshsig.verify = prefetcher.inner
        prefetcher.close()
