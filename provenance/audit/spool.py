"""The judgements of one walk, in walk order, held in memory up to a limit and on disk past it.

A 100k-commit audit holds ~100 MB of judgements; 1M would not fit the memory budget. Past
`in_memory` judgements every one is written to an unnamed temporary file (gone when the process
ends) and only its offset stays in memory: 12 bytes a commit. It is written as the line the JSON
report prints for it: encoded as the walk goes, while git is still producing, so that the report
only copies lines. The counts a report's summary needs are kept as judgements arrive (5 bytes a
commit), so that reading them back from disk happens once, for the report itself.
"""

from __future__ import annotations

import json
import tempfile
from array import array
from collections.abc import Iterator, Sequence
from typing import IO, Any, NamedTuple, overload

from provenance.audit.records import CoverApproval, Judgement, LandedFrom, NotLanded, Violation
from provenance.ssh import sshsig
from provenance.ssh.sshsig import PublicKey

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


def lines(js: Sequence[Judgement]) -> Iterator[str]:
    """The JSON line of each of `js` (`to_doc`, encoded), in order; a spilled one as stored."""
    if isinstance(js, Judgements):
        yield from js.lines()
    else:
        for j in js:
            yield encode_line(to_doc(j))


# json.dumps builds an encoder per call; a line per commit shares this one (the same output).
encode_line = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


def to_doc(j: Judgement) -> dict[str, Any]:
    """A judgement as the JSON report's object for its commit (docs/audit-json.md), ready for
    `encode_line`: tuples stand for arrays (JSON reads them back as lists), nothing is copied.
    `landed_from` and `not_landed` are there only when they say something."""
    doc = {
        "commit": j.commit,
        "author": j.author,
        "ai_assisted": j.ai_assisted,
        "evidence": j.evidence,
        "critical_paths": j.critical_paths,
        "cosigners": j.cosigners,
        "policy_change": j.policy_change,
        "violations": [{"code": v.code, "message": v.message, "fix": v.fix, "rule": v.rule,
                        "paths": v.paths} for v in j.violations],
        "policy_authorized": j.policy_authorized,
        "cover_approvals": [{"merge": c.merge, "signer": c.signer, "key": c.key.openssh()}
                            for c in j.cover_approvals] if j.cover_approvals else [],
    }
    if j.landed_from is not None:
        landed = j.landed_from
        doc["landed_from"] = {"source": landed.source, "request": landed.request,
                              "commits": landed.commits, "verdicts": dict(landed.verdicts)}
    if j.not_landed is not None:
        doc["not_landed"] = j.not_landed._asdict()
    return doc


def from_doc(doc: dict[str, Any]) -> Judgement:
    return Judgement(
        doc["commit"], doc["author"], doc["ai_assisted"], tuple(doc["evidence"]),
        doc["critical_paths"], tuple(doc["cosigners"]),
        tuple(Violation(v["code"], v["message"], v["fix"], v["rule"], tuple(v["paths"]))
              for v in doc["violations"]),
        doc["policy_change"], doc["policy_authorized"],
        tuple(CoverApproval(c["merge"], c["signer"], _key(c["key"])) for c in doc["cover_approvals"]),
        _landed(doc.get("landed_from")),
        NotLanded(**doc["not_landed"]) if doc.get("not_landed") else None,
    )


def _landed(doc: dict[str, Any] | None) -> LandedFrom | None:
    if doc is None:
        return None
    return LandedFrom(doc["source"], doc["request"], tuple(doc["commits"]),
                      tuple((sha, tuple(codes)) for sha, codes in doc["verdicts"].items()))


def _key(openssh: str) -> PublicKey:
    """`PublicKey.openssh()` read back: a key that verified once, not parsed again."""
    algorithm, b64 = openssh.split(" ", 2)[:2]
    return PublicKey(algorithm, sshsig.unb64(b64))


class Encoded(NamedTuple):
    """A judgement as its JSON report line, with what a walk reads of it: a cached verdict is
    used as stored and built into a `Judgement` only when something asks for one."""

    line: str  # encode_line(to_doc(judgement))
    ai_assisted: bool
    critical: bool
    violations: int  # how many
    missing_cosign: bool  # one of them is missing-cosign (a later merge may lift it)
    policy_authorized: bool
    cover_approvals: tuple[CoverApproval, ...]


def encoded(j: Judgement | Encoded) -> Encoded:
    if isinstance(j, Encoded):
        return j
    return Encoded(encode_line(to_doc(j)), j.ai_assisted, bool(j.critical_paths),
                   len(j.violations), missing_cosign(j), j.policy_authorized, j.cover_approvals)


def decoded(j: Judgement | Encoded) -> Judgement:
    return from_doc(json.loads(j.line)) if isinstance(j, Encoded) else j


def missing_cosign(j: Judgement | Encoded) -> bool:
    if isinstance(j, Encoded):
        return j.missing_cosign
    for v in j.violations:  # a loop, not any(): every scanned commit has some
        if v.code == "missing-cosign":
            return True
    return False


def _counts(j: Judgement | Encoded) -> tuple[int, int]:
    """`Judgements`' entry for `j` in its flags (_AI | _CRITICAL) and its number of violations."""
    if isinstance(j, Encoded):
        critical, count = j.critical, j.violations
    else:
        critical, count = bool(j.critical_paths), len(j.violations)
    return (_AI if j.ai_assisted else 0) | (_CRITICAL if critical else 0), count


class Judgements(Sequence[Judgement]):
    """A list of judgements that `append`s and replaces (`j[i] = new`), spilling to disk. It takes
    `Encoded` ones too (cached verdicts) and gives back `Judgement`s."""

    def __init__(self, in_memory: int | None = None) -> None:
        self._limit = IN_MEMORY if in_memory is None else in_memory
        self._memory: list[Judgement | Encoded] = []
        self._file: IO[bytes] | None = None
        self._offsets = array("Q")
        self._sizes = array("I")
        self._end = 0
        self._writing = True
        self._flags = array("B")  # per judgement: _AI | _CRITICAL
        self._violations = array("I")  # per judgement: how many
        self.landed: list[int] = []  # the positions of landings (audit/landings.py)

    def summary(self) -> Summary:
        flags = self._flags
        return Summary(len(flags), sum(f & _AI for f in flags),
                       sum(f & _CRITICAL for f in flags) // _CRITICAL, sum(self._violations))

    def flagged(self) -> Iterator[Judgement]:
        for index, count in enumerate(self._violations):
            if count:
                yield self[index]

    def reverse(self) -> None:
        """Reverse the order in place (only the offsets move when on disk)."""
        for entries in (self._memory, self._offsets, self._sizes, self._flags, self._violations):
            entries.reverse()

    def __len__(self) -> int:
        return len(self._offsets) if self._file is not None else len(self._memory)

    def append(self, j: Judgement | Encoded) -> None:
        if self._file is None and len(self._memory) < self._limit:  # `_store`'s usual case
            flag, count = _counts(j)
            self._flags.append(flag)
            self._violations.append(count)
            self._memory.append(j)
            return
        self._store(len(self._flags), j)

    def __setitem__(self, index: int, j: Judgement | Encoded) -> None:
        self._store(range(len(self))[index], j)  # IndexError and negative indices as a list's

    def _store(self, index: int, j: Judgement | Encoded) -> None:
        """Put `j` at `index`: a new last entry or a replacement (whose old line stays in the
        file, unread). A file entry is written at the end, as its JSON line."""
        flag, count = _counts(j)
        if index == len(self._flags):
            self._flags.append(flag)
            self._violations.append(count)
        else:
            self._flags[index], self._violations[index] = flag, count
        file = self._file
        if file is None:
            if index < len(self._memory) or len(self._memory) < self._limit:
                if index == len(self._memory):
                    self._memory.append(j)
                else:
                    self._memory[index] = j
                return
            file = self._spill()
        line = j.line if isinstance(j, Encoded) else encode_line(to_doc(j))
        data = line.encode("utf-8", "surrogatepass")
        if not self._writing:  # reads moved the position; writes always go to the end
            file.seek(self._end)
            self._writing = True
        file.write(data)
        if index == len(self._offsets):
            self._offsets.append(self._end)
            self._sizes.append(len(data))
        else:
            self._offsets[index], self._sizes[index] = self._end, len(data)
        self._end += len(data)

    @overload
    def __getitem__(self, index: int) -> Judgement: ...

    @overload
    def __getitem__(self, index: slice) -> list[Judgement]: ...

    def __getitem__(self, index: int | slice) -> Judgement | list[Judgement]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        if self._file is None:
            return decoded(self._memory[index])
        index = range(len(self))[index]
        return from_doc(json.loads(self._read_line(self._offsets[index], self._sizes[index])))

    def lines(self) -> Iterator[str]:
        if self._file is None:
            for j in self._memory:
                yield j.line if isinstance(j, Encoded) else encode_line(to_doc(j))
            return
        for offset, size in zip(self._offsets, self._sizes, strict=True):
            yield self._read_line(offset, size)

    def __iter__(self) -> Iterator[Judgement]:
        if self._file is None:
            yield from map(decoded, self._memory)
            return
        for offset, size in zip(self._offsets, self._sizes, strict=True):
            yield from_doc(json.loads(self._read_line(offset, size)))

    def _spill(self) -> IO[bytes]:
        """Move the judgements held in memory to a new file (the one `_store` is placing makes
        the list one longer than the limit)."""
        file = self._file = tempfile.TemporaryFile(prefix="provenance-judgements-")
        held, self._memory = self._memory, []
        for i, j in enumerate(held):
            self._store(i, j)
        return file

    def _read_line(self, offset: int, size: int) -> str:
        assert self._file is not None
        self._file.seek(offset)
        self._writing = False
        return self._file.read(size).decode("utf-8", "surrogatepass")
