"""Signatures checked in a second process while the walk reads the commits before them.

An Ed25519 check is ~110 µs of OpenSSL (`openssl speed`: 9,588 verify/s on the 2-core bench
machine), longer than git takes to print a commit's patch. So the walk reads a window of commits
ahead, guesses the statements the judge will verify for each (the commit's own trailers and notes,
the policy file unchanged unless the patch shows it, no merge covers: the common case) and hands
them in batches to one worker process. When the judge calls `sshsig.verify` with those exact
bytes, the answer is waiting. A wrong guess changes nothing but a wasted check: whatever else the
judge asks is verified then.

A process, not a thread: cryptography releases the GIL during the check, but the Python around
each check needs it back, and two threads trading the GIL made the audit slower, not faster
(10k commits: 2.7 s against 2.1 s). The worker is `python -c "...serve()"` reading pickled
batches on stdin and answering on stdout in the same order (not multiprocessing, which re-imports
the parent's `__main__`). It costs ~0.1 s to start, so short audits (every hook and most tests)
never start one: only a walk past `START_AFTER` commits does. If it fails, the walk checks as it
goes, as it does without it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO

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

START_AFTER = 2000  # commits walked before a worker is worth its start-up
WINDOW = 256  # commits read ahead of the judge: enough to keep the worker busy, little memory
BATCH = 64  # commits' checks handed over at a time: one hand-over costs ~100 µs
_IN_FLIGHT = 8  # batches handed over and not answered: their answers (~5 KB each) fit a pipe
_PURE_VERIFY = sshsig.verify  # the function itself, whatever a cache puts in its place later
_Check = tuple[bytes, bytes]  # (signature blob, statement bytes)
_Outcome = tuple[str, bytes] | str  # (key algorithm, key blob), or why the check failed


class Prefetcher:
    """The worker process and the checks handed to it, by exact (blob, statement) bytes."""

    def __init__(self, db: cache.Cache | None) -> None:
        self._db = db
        self._worker: subprocess.Popen[bytes] | None = None
        self._broken = False
        self._sent: deque[list[_Check]] = deque()  # batches handed over, not yet answered
        self._answers: dict[_Check, _Outcome] = {}
        self._pending: set[_Check] = set()  # handed over, answer not read yet
        self._batch: list[_Check] = []
        self.inner: Callable[..., PublicKey] = sshsig.verify

    def verify(self, blob: bytes, message: bytes, namespace: str = sshsig.NAMESPACE) -> PublicKey:
        """`sshsig.verify`, with the answer from the worker when it was started there."""
        check = (blob, message)
        while check in self._pending and not self._broken:
            self._read_answers()
        found = self._answers.pop(check, None) if namespace == sshsig.NAMESPACE else None
        if found is None:
            return self.inner(blob, message, namespace)
        outcome = InvalidSignature(found) if isinstance(found, str) else PublicKey(*found)
        if self._db is not None:
            self._db.learn_signature(blob, message, namespace, outcome)
        if isinstance(outcome, InvalidSignature):
            raise outcome
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
                guesses = self._add(_guesses(raw, notes_of(raw))) if n >= START_AFTER else []
                window.append((raw, guesses))
            if raw is None or n % BATCH == BATCH - 1:
                self._hand_over()
            while len(window) > (WINDOW if raw is not None and n >= START_AFTER else 0):
                # The commit yielded before has been judged: its unused guesses can go.
                self._forget(done)
                out, done = window.popleft()
                yield out
        self._forget(done)

    def _add(self, checks: Iterable[_Check]) -> list[_Check]:
        added = []
        for check in checks:
            if check in self._pending or check in self._answers or check in self._batch or (
                    self._db is not None and self._db.signature(*check, sshsig.NAMESPACE) is not None):
                continue
            self._batch.append(check)
            added.append(check)
        return added

    def _hand_over(self) -> None:
        batch, self._batch = self._batch, []
        if not batch or self._broken:
            return
        while len(self._sent) >= _IN_FLIGHT:
            # Answers nobody asked for yet (a cached verdict needs none) are read here, so the
            # worker's output never fills its pipe while we block writing to its input.
            self._read_answers()
        try:
            if self._worker is None:
                self._worker = subprocess.Popen(
                    [sys.executable, "-c", "from provenance.audit.prefetch import serve; serve()"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            assert self._worker.stdin is not None
            pickle.dump(batch, self._worker.stdin)
            self._worker.stdin.flush()
        except OSError:
            self._broken = True
            return
        self._sent.append(batch)
        self._pending.update(batch)

    def _read_answers(self) -> None:
        """Read the answers to the oldest batch (the worker answers in order)."""
        assert self._worker is not None and self._worker.stdout is not None
        batch = self._sent.popleft()
        try:
            answers = pickle.load(self._worker.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            self._broken = True  # the walk checks the rest itself
            answers = []
        self._pending.difference_update(batch)
        self._answers.update(zip(batch, answers, strict=False))

    def _forget(self, checks: Iterable[_Check]) -> None:
        for check in checks:
            self._answers.pop(check, None)

    def close(self) -> None:
        if self._worker is not None:
            with contextlib.suppress(OSError):
                assert self._worker.stdin is not None
                self._worker.stdin.close()
            self._worker.kill()  # answers still in flight are not needed
            self._worker.wait()
            assert self._worker.stdout is not None
            self._worker.stdout.close()
        self._answers.clear()
        self._pending.clear()


def serve(source: IO[bytes] | None = None, sink: IO[bytes] | None = None) -> None:
    """The worker: for each batch of checks on stdin, the outcome of each, in order, on stdout."""
    source = source or sys.stdin.buffer
    sink = sink or sys.stdout.buffer
    while True:
        try:
            batch = pickle.load(source)
        except EOFError:
            return
        pickle.dump([_outcome(blob, message) for blob, message in batch], sink)
        sink.flush()


def _outcome(blob: bytes, message: bytes) -> _Outcome:
    """`sshsig.verify` as plain data that pickles cheaply: (algorithm, key blob) or the failure."""
    try:
        key = _PURE_VERIFY(blob, message)
    except InvalidSignature as e:
        return str(e)
    return key.algorithm, key.blob


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
