"""What a commit's trailers and notes declare, and whether their signatures hold.

Pure, like judge.py: the signatures of one commit checked against one policy and the revoked keys.
judge.py turns what this finds into verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import NamedTuple

from provenance.audit.records import CommitRecord, NoteAttestation
from provenance.policy.schema import Person, Policy
from provenance.ssh import sshsig
from provenance.ssh.sshsig import InvalidSignature, PublicKey
from provenance.wire import trailers
from provenance.wire.statement import (
    KEY_AI_ASSISTED,
    KEY_ASSISTED_BY,
    KEY_SIGNATURE,
    MalformedSignature,
    Statement,
    parse_ai_assisted,
    parse_signature_value,
)

VALID = "valid"
# Verdicts a later valid attestation of the same role by the same signer supersedes: the
# `--amend -m` correction, a `resign`, a re-sign after a key rotation or revocation.
_SUPERSEDABLE = frozenset({"stale-signature", "invalid-signature", "revoked-key", "unknown-key"})


class Attestation(NamedTuple):
    """One signature value and what became of it (a NamedTuple: one is built per signature)."""

    source: str  # "trailer" | "note"
    role: str  # "declare" | "cosign" | "?" (unparseable)
    signer: str  # lower-cased; "?" when unparseable
    status: str  # VALID or a verdict code
    reason: str  # why it is not valid ("" when valid)
    key: PublicKey | None = None
    person: Person | None = None
    ai_assisted: bool | None = None  # declare: the value the signature covers
    with_covers: bool = False  # cosign: verified with the merge's `covers` lines



def _statements(
    record: CommitRecord, role: str, change: str, signer: str,
    declared: Sequence[bool], assisted_by: Sequence[str],
) -> list[tuple[Statement, bool | None, bool]]:
    """Every statement this signature may cover: (statement, ai-assisted, with covers)."""
    author = record.author_email.lower()
    if role == "declare":
        return [
            (Statement(role, change, author, signer, ai_assisted=v, assisted_by=tuple(assisted_by),
                       policy=record.policy_blob), v, False)
            for v in declared
        ]
    out: list[tuple[Statement, bool | None, bool]] = []
    if record.covers:
        out.append((Statement(role, change, author, signer, policy=record.policy_blob,
                              covers=record.covers), None, True))
    out.append((Statement(role, change, author, signer, policy=record.policy_blob), None, False))
    return out


def _check(
    record: CommitRecord, policy: Policy, revoked: frozenset[PublicKey], source: str, value: str,
    declared: Sequence[bool], assisted_by: Sequence[str],
) -> Attestation:
    try:
        line = parse_signature_value(value)
    except MalformedSignature as e:
        parts = value.split()
        role = parts[1] if len(parts) > 1 and parts[1] in ("declare", "cosign") else "?"
        signer = parts[2].lower() if len(parts) > 2 else "?"
        return Attestation(source, role, signer, "invalid-signature", f"malformed: {e}")
    try:
        blob = sshsig.unb64(line.signature_b64)
    except InvalidSignature as e:
        return Attestation(source, line.role, line.signer, "invalid-signature", str(e))
    key: PublicKey | None = None
    value_ok: bool | None = None
    covers_ok = False
    for stmt, v, with_covers in _statements(
        record, line.role, line.change, line.signer, declared, assisted_by
    ):
        try:
            key = sshsig.verify(blob, stmt.to_bytes())
        except InvalidSignature:
            continue
        value_ok, covers_ok = v, with_covers
        break
    person = policy.person_by_key(key) if key is not None else None
    att = Attestation(source, line.role, line.signer, VALID, "", key, person, value_ok, covers_ok)
    if key is None:
        return _with(att, "invalid-signature", "the signature does not verify over this commit's "
                     "statement (forged, or the declaration/policy/author it covers differs)")
    if line.change != record.digest:
        return _with(att, "stale-signature", f"it signs change {line.change[:19]}…, the commit's "
                     f"change is {record.digest[:19]}… (content changed after signing, or copied)")
    if key in revoked:
        return _with(att, "revoked-key", f"key {key.fingerprint()} is revoked")
    if person is None:
        return _with(att, "unknown-key", f"key {key.fingerprint()} is not in the policy")
    if not _has_email(person, line.signer):
        return _with(att, "unknown-key", f"key {key.fingerprint()} belongs to {person.name}, "
                     f"not to {line.signer}")
    if line.role == "declare" and not is_author(person, record.author_email):
        return _with(att, "signer-not-author", f"declared by {line.signer}, but the author is "
                     f"{record.author_email}")
    return att


def _with(att: Attestation, status: str, reason: str) -> Attestation:
    return att._replace(status=status, reason=reason)


def _has_email(person: Person, email: str) -> bool:
    """Whether lower-cased `email` is one of the person's emails, compared case-insensitively."""
    # A loaded policy stores its emails lower-cased, so the tuple look-up almost always answers.
    return email in person.emails or any(e.lower() == email for e in person.emails)


def is_author(person: Person, author_email: str) -> bool:
    return _has_email(person, author_email.lower())


_AI_ASSISTED, _ASSISTED_BY, _SIGNATURE = (
    KEY_AI_ASSISTED.lower(), KEY_ASSISTED_BY.lower(), KEY_SIGNATURE.lower())


def trailers_read(message: str) -> tuple[tuple[str, str], ...]:
    """The trailers of `message`, or () when it holds none that `judge` reads.

    `judge` reads only AI-Assisted values and, with a signature, Assisted-by; a message without
    either key name anywhere (in any case) has no such trailer, and most commits of an unadopted
    history are such messages: parsing their trailers was a quarter of a scan's time."""
    lowered = message.lower()
    if _AI_ASSISTED not in lowered and _SIGNATURE not in lowered:
        return ()
    return tuple(trailers.parse(message))


class Declarations(NamedTuple):
    """What a commit's trailers and notes declare, and what became of their signatures (the judge
    reads it by name; a NamedTuple because one is built per commit)."""

    evidence: tuple[str, ...]  # one line per declaration found, for the report
    bad: Sequence[str]  # AI-Assisted values that are neither yes nor no
    trailer_yes: bool
    trailer_no: bool
    note_values: AbstractSet[bool]  # what valid notes (or the author's stale "yes") declare
    valid: Sequence[Attestation]
    failed: Sequence[Attestation]  # not valid, and not superseded by a valid one
    author_declares: Sequence[Attestation]  # valid declare signatures
    declared: bool  # by a trailer, a valid note, or a valid declare signature in the trailers
    declared_yes: bool  # ... as AI-assisted: nothing downgrades yes


# Most commits of an unadopted history: no trailer `judge` reads, no note. Shared: immutable.
_NOTHING_DECLARED = Declarations((), (), False, False, frozenset(), (), (), (), False, False)


def read_declarations(record: CommitRecord, policy: Policy, notes: Sequence[NoteAttestation],
                      revoked: frozenset[PublicKey]) -> Declarations:
    """Read the declarations of `record`'s trailers and `notes`, checking every signature."""
    by_key: dict[str, list[str]] = {}  # lower-cased trailer key -> values
    parsed_trailers = record.trailers
    for key, value in parsed_trailers if parsed_trailers is not None else trailers_read(
            record.message):
        by_key.setdefault(key.lower(), []).append(value)
    if not by_key and not notes:
        return _NOTHING_DECLARED
    evidence: list[str] = []

    # -- the trailer declaration
    trailer_values = by_key.get(_AI_ASSISTED, [])
    parsed = [parse_ai_assisted(v) for v in trailer_values]
    bad = [v for v, p in zip(trailer_values, parsed, strict=True) if p is None]
    trailer_yes, trailer_no = True in parsed, False in parsed
    declared_options = [p for p in (True, False) if p in parsed] or [True, False]

    # -- every signature, trailers first
    assisted_by = by_key.get(_ASSISTED_BY, [])
    atts = [
        _check(record, policy, revoked, "trailer", v, declared_options, assisted_by)
        for v in by_key.get(_SIGNATURE, ())
    ] if by_key else []
    for note in notes:
        att = _check(record, policy, revoked, "note", note.value, (True, False), note.assisted_by)
        if att.status != VALID and note.note_commit != record.sha:
            # Reached only through an equal change digest: it attests another commit (another
            # author, another policy) with the same diff. It counts if it verifies here; if it
            # does not, it is not about this commit and is no violation of it.
            continue
        atts.append(att)
    valid: list[Attestation] = []
    failed: list[Attestation] = []
    author_declares: list[Attestation] = []
    if atts:  # most commits of an unadopted history have none
        valid = [a for a in atts if a.status == VALID]
        valid_keys = {(a.role, a.signer) for a in valid}
        failed = [
            a for a in atts
            if a.status != VALID
            and not (a.status in _SUPERSEDABLE and (a.role, a.signer) in valid_keys)
        ]
        author_declares = [a for a in valid if a.role == "declare"]

    # -- declarations: nothing ever downgrades yes
    for v, present in ((True, trailer_yes), (False, trailer_no)):
        if present:
            signers = sorted({a.signer for a in author_declares
                              if a.source == "trailer" and a.ai_assisted is v})
            how = f"signed by {', '.join(signers)}" if signers else "unsigned"
            evidence.append(f"declared {'yes' if v else 'no'} (trailer, {how})")
    note_values: set[bool] = set()
    for a in atts:
        if a.source != "note" or a.role != "declare" or a.ai_assisted is None:
            continue
        if a.status == VALID:
            note_values.add(a.ai_assisted)
        # A stale "yes" by the author still counts: the content was AI-assisted when signed.
        elif (a.status == "stale-signature" and a.ai_assisted and a.person is not None
              and a.key not in revoked and is_author(a.person, record.author_email)):
            note_values.add(True)
        else:
            continue
        evidence.append(f"declared {'yes' if a.ai_assisted else 'no'} (note, signed by "
                        f"{a.signer}{'' if a.status == VALID else ', stale'})")
    trailer_declared = trailer_yes or trailer_no
    declared = trailer_declared or bool(note_values) or (bool(author_declares) and any(
        a.source == "trailer" for a in author_declares))
    declared_yes = trailer_yes or True in note_values or (bool(author_declares) and any(
        a.ai_assisted is True for a in author_declares))
    return Declarations(tuple(evidence), bad, trailer_yes, trailer_no, note_values, valid, failed,
                        author_declares, declared, declared_yes)
