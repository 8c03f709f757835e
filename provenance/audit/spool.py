"""The judgements of one walk, in walk order, held in memory up to a limit and on disk past it.

A 100k-commit audit holds ~100 MB of judgements; 1M would not fit the memory budget. Past
`in_memory` judgements every one is written, `marshal`led, to an unnamed temporary file (gone when
the process ends) and only its offset stays in memory: 12 bytes a commit. The counts a report's
summary needs are kept as judgements arrive (5 bytes a commit), so that reading them back from
disk happens once, for the report itself.
"""

from __future__ import annotations

import marshal
import tempfile
from array import array
from collections.abc import Iterator, Sequence
from typing import IO, Any, NamedTuple, overload

from provenance import sshsig
from provenance.audit.records import CoverApproval, Judgement, Violation
from provenance.sshsig import PublicKey

IN_MEMORY = 20_000
_AI, _CRITICAL = 1, 2  # bits of a judgement's entry in `Judgements._flags`


class Summary(NamedTuple):
    commits: int
    ai_assisted: int
    critical: int  # commits touching a critical path under a rule that applies to them
    violations: int


def summary(js: Sequence[Judgement]) -> Summary:
    """The counts of `js`: kept as they arrived for `Judgements`, one pass over anything else."""
    if isinstance(js, Judgements):
        return js.summary()
    return Summary(len(js), sum(j.ai_assisted for j in js), sum(bool(j.critical_paths) for j in js),
                   sum(len(j.violations) for j in js))


def flagged(js: Sequence[Judgement]) -> Iterator[Judgement]:
    """The judgements of `js` with violations, in order; a spilled list reads only those back."""
    if isinstance(js, Judgements):
        yield from js.flagged()
    else:
        yield from (j for j in js if j.violations)


def plain(js: Sequence[Judgement]) -> Iterator[list[Any]]:
    """`to_plain` of each of `js`, in order; a spilled list is read back without building them."""
    if isinstance(js, Judgements):
        yield from js.plain()
    else:
        yield from map(to_plain, js)


def to_plain(j: Judgement) -> list[Any]:
    """A judgement as lists, strings, bools and None (what JSON and marshal both hold)."""
    return [
        j.commit, j.author, j.ai_assisted, list(j.evidence),
        {rule: list(paths) for rule, paths in j.critical_paths.items()}, list(j.cosigners),
        [[v.code, v.message, v.fix, v.rule, list(v.paths)] for v in j.violations],
        j.policy_change, j.policy_authorized,
        [[c.merge, c.signer, c.key.algorithm, sshsig.b64(c.key.blob)] for c in j.cover_approvals],
    ]


def from_plain(plain: Sequence[Any]) -> Judgement:
    commit, author, ai, evidence, critical, cosigners, violations, change, authorized, \
        approvals = plain
    return Judgement(
        commit, author, ai, tuple(evidence), {r: list(p) for r, p in critical.items()},
        tuple(cosigners),
        tuple(Violation(c, m, f, r, tuple(p)) for c, m, f, r, p in violations) if violations else (),
        change, authorized,
        tuple(CoverApproval(m, s, PublicKey(a, sshsig.unb64(b))) for m, s, a, b in approvals)
        if approvals else (),
    )


class Judgements(Sequence[Judgement]):
    """A list of judgements that `append`s and replaces (`j[i] = new`), spilling to disk."""

    def __init__(self, in_memory: int | None = None) -> None:
        self._limit = IN_MEMORY if in_memory is None else in_memory
        self._memory: list[Judgement] = []
        self._file: IO[bytes] | None = None
        self._offsets = array("Q")
        self._sizes = array("I")
        self._end = 0
        self._writing = True
        self._flags = array("B")  # per judgement: _AI | _CRITICAL
        self._violations = array("I")  # per judgement: how many

    def summary(self) -> Summary:
        flags = self._flags
        return Summary(len(flags), sum(f & _AI for f in flags),
                       sum(f & _CRITICAL for f in flags) // _CRITICAL, sum(self._violations))

    def flagged(self) -> Iterator[Judgement]:
        for index, count in enumerate(self._violations):
            if count:
                yield self[index]

    def _count(self, index: int, j: Judgement) -> None:
        flag = (_AI if j.ai_assisted else 0) | (_CRITICAL if j.critical_paths else 0)
        if index == len(self._flags):
            self._flags.append(flag)
            self._violations.append(len(j.violations))
        else:
            self._flags[index], self._violations[index] = flag, len(j.violations)

    def reverse(self) -> None:
        """Reverse the order in place (only the offsets move when on disk)."""
        for entries in (self._memory, self._offsets, self._sizes, self._flags, self._violations):
            entries.reverse()

    def __len__(self) -> int:
        return len(self._offsets) if self._file is not None else len(self._memory)

    def append(self, j: Judgement) -> None:
        self._count(len(self._flags), j)
        if self._file is None and len(self._memory) < self._limit:
            self._memory.append(j)
            return
        if self._file is None:
            self._spill()
        self._store(len(self._offsets), j)

    def __setitem__(self, index: int, j: Judgement) -> None:
        index = range(len(self))[index]  # IndexError and negative indices as a list has them
        self._count(index, j)
        if self._file is None:
            self._memory[index] = j
            return
        self._store(index, j)  # the old record stays in the file, unread

    @overload
    def __getitem__(self, index: int) -> Judgement: ...

    @overload
    def __getitem__(self, index: slice) -> list[Judgement]: ...

    def __getitem__(self, index: int | slice) -> Judgement | list[Judgement]:
        if self._file is None:
            return self._memory[index]
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        index = range(len(self))[index]
        return self._read(self._offsets[index], self._sizes[index])

    def plain(self) -> Iterator[list[Any]]:
        if self._file is None:
            yield from map(to_plain, self._memory)
            return
        for offset, size in zip(self._offsets, self._sizes, strict=True):
            yield self._read_plain(offset, size)

    def __iter__(self) -> Iterator[Judgement]:
        if self._file is None:
            yield from self._memory
            return
        for offset, size in zip(self._offsets, self._sizes, strict=True):
            yield self._read(offset, size)

    def _spill(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="provenance-judgements-")
        for i, j in enumerate(self._memory):
            self._store(i, j)
        self._memory = []

    def _store(self, index: int, j: Judgement) -> None:
        """Write `j` at the end of the file as entry `index` (a new last entry or a replacement)."""
        assert self._file is not None
        data = marshal.dumps(to_plain(j))
        if not self._writing:  # reads moved the position; writes always go to the end
            self._file.seek(self._end)
            self._writing = True
        self._file.write(data)
        if index == len(self._offsets):
            self._offsets.append(self._end)
            self._sizes.append(len(data))
        else:
            self._offsets[index], self._sizes[index] = self._end, len(data)
        self._end += len(data)

    def _read(self, offset: int, size: int) -> Judgement:
        return from_plain(self._read_plain(offset, size))

    def _read_plain(self, offset: int, size: int) -> list[Any]:
        assert self._file is not None
        self._file.seek(offset)
        self._writing = False
        loaded: list[Any] = marshal.loads(self._file.read(size))
        return loaded
