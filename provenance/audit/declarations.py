"""What a commit's trailers and notes declare, and whether their signatures hold.

Pure, like judge.py: the signatures of one commit checked against one policy and the revoked keys.
judge.py turns what this finds into verdicts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from typing import NamedTuple

from provenance.audit.records import CommitRecord, NoteAttestation
from provenance.policy.schema import Person, Policy
from provenance.ssh import sshsig
from provenance.ssh.sshsig import InvalidSignature, PublicKey
from provenance.wire import trailers
from provenance.wire.note import parse_declaration_value
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
    claims_yes: bool = False  # declare in a note: its line (or note) says yes, valid or not


# (ai-assisted, assisted-by values): a statement a declare signature may cover.
Option = tuple[bool, tuple[str, ...]]
# An old-style note lists every declaration's Assisted-by values on lines of their own: each
# signature covers some of them (two `declare --assisted-by` corrections, a line appended by
# anyone who can push notes). Every subset is tried, up to this many values (2 x 32 statements).
_MAX_SUBSET_VALUES = 5


def note_options(note: NoteAttestation) -> list[Option]:
    """The statements a note's declare signature may cover, the most likely first: a grouped
    line's own values (then the other yes/no, to tell an edited value from a forgery); an old
    note's values, then every subset of them."""
    if note.grouped:
        claimed = note.ai_assisted == ("yes",)
        return [(claimed, note.assisted_by), (not claimed, note.assisted_by)]
    values = tuple(sorted(set(note.assisted_by)))
    sets = [values]
    if 0 < len(values) <= _MAX_SUBSET_VALUES:
        sets += [c for r in range(len(values) - 1, -1, -1)
                 for c in itertools.combinations(values, r)]
    return [(v, s) for s in sets for v in (True, False)]


def _statements(
    record: CommitRecord, role: str, change: str, signer: str, options: Sequence[Option],
) -> Iterator[tuple[Statement, bool | None, bool]]:
    """Every statement this signature may cover: (statement, ai-assisted, with covers)."""
    author = record.author_email.lower()
    if role == "declare":
        for v, assisted_by in options:
            yield (Statement(role, change, author, signer, ai_assisted=v, assisted_by=assisted_by,
                             policy=record.policy_blob), v, False)
        return
    if record.covers:
        yield (Statement(role, change, author, signer, policy=record.policy_blob,
                         covers=record.covers), None, True)
    yield (Statement(role, change, author, signer, policy=record.policy_blob), None, False)


def _check(
    record: CommitRecord, policy: Policy, revoked: frozenset[PublicKey], source: str, value: str,
    options: Sequence[Option],
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
    for stmt, v, with_covers in _statements(record, line.role, line.change, line.signer, options):
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


def _check_note(record: CommitRecord, policy: Policy, revoked: frozenset[PublicKey],
                note: NoteAttestation) -> Attestation:
    """A note's attestation; a declaration also says whether its line (or note) states yes."""
    if note.grouped and not note.ai_assisted:  # a Provenance-Declaration that does not parse
        parts = note.value.split()
        why = "malformed"
        try:
            parse_declaration_value(note.value)
        except MalformedSignature as e:
            why = f"malformed: {e}"
        return Attestation("note", "declare", parts[1].lower() if len(parts) > 1 else "?",
                           "invalid-signature", why,
                           claims_yes=len(parts) > 3 and parts[3].lower() == "yes")
    att = _check(record, policy, revoked, "note", note.value, note_options(note))
    if att.role != "declare":
        return att
    if note.grouped:
        claimed = note.ai_assisted == ("yes",)
        att = att._replace(claims_yes=claimed)
        if att.key is not None and att.ai_assisted is not claimed:
            signed = "yes" if att.ai_assisted else "no"
            return _with(att, "invalid-signature", f"the line reads {note.ai_assisted[0]}, but "
                         f"its signature is over {signed}: the value was edited")
        if att.key is None:
            return _with(att, "invalid-signature", "the signature does not verify over the "
                         "line's own values (edited, or forged)")
        return att
    return att._replace(claims_yes=any(parse_ai_assisted(v) for v in note.ai_assisted))


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


def _superseded(att: Attestation, said: dict[tuple[str, str], set[bool | None]]) -> bool:
    """Whether a valid attestation of the same role by the same signer replaces `att` (the
    `--amend -m` correction, a `resign`, a re-sign); a declaration of yes only by a valid yes:
    nothing downgrades yes."""
    values = said.get((att.role, att.signer))
    if values is None or att.status not in _SUPERSEDABLE:
        return False
    return True in values or not (att.role == "declare" and (att.claims_yes or att.ai_assisted))


class Declarations(NamedTuple):
    """What a commit's trailers and notes declare, and what became of their signatures (the judge
    reads it by name; a NamedTuple because one is built per commit)."""

    evidence: tuple[str, ...]  # one line per declaration found, for the report
    bad: Sequence[str]  # AI-Assisted values that are neither yes nor no
    trailer_yes: bool
    trailer_no: bool
    note_values: AbstractSet[bool]  # what notes declare: valid, the author's stale yes, broken yes
    valid: Sequence[Attestation]
    failed: Sequence[Attestation]  # not valid, and not superseded by a valid one
    author_declares: Sequence[Attestation]  # valid declare signatures
    declared: bool  # by a trailer, a valid note, or a valid declare signature in the trailers
    declared_yes: bool  # ... as AI-assisted: nothing downgrades yes
    removed: Sequence[Attestation] = ()  # valid yes declarations only the notes history holds


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
    assisted_by = tuple(by_key.get(_ASSISTED_BY, []))
    options = [(p, assisted_by) for p in (True, False) if p in parsed] or [
        (True, assisted_by), (False, assisted_by)]

    # -- every signature, trailers first
    atts = [
        _check(record, policy, revoked, "trailer", v, options)
        for v in by_key.get(_SIGNATURE, ())
    ] if by_key else []
    gone: list[NoteAttestation] = []
    for note in notes:
        if note.gone:
            gone.append(note)
            continue
        att = _check_note(record, policy, revoked, note)
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
        said: dict[tuple[str, str], set[bool | None]] = {}
        for a in valid:
            said.setdefault((a.role, a.signer), set()).add(a.ai_assisted)
        failed = [a for a in atts if a.status != VALID and not _superseded(a, said)]
        author_declares = [a for a in valid if a.role == "declare"]

    # -- declarations: nothing ever downgrades yes
    for v, present in ((True, trailer_yes), (False, trailer_no)):
        if present:
            signers = sorted({a.signer for a in author_declares
                              if a.source == "trailer" and a.ai_assisted is v})
            how = f"signed by {', '.join(signers)}" if signers else "unsigned"
            evidence.append(f"declared {'yes' if v else 'no'} (trailer, {how})")
    note_values: set[bool] = set()
    unanswered = {id(a) for a in failed}
    for a in atts:
        if a.source != "note" or a.role != "declare":
            continue
        if a.status == VALID and a.ai_assisted is not None:
            says, how = a.ai_assisted, ""
        # A stale "yes" by the author still counts: the content was AI-assisted when signed.
        elif (a.status == "stale-signature" and a.ai_assisted and a.person is not None
              and a.key not in revoked and is_author(a.person, record.author_email)):
            says, how = True, ", stale"
        # A broken "yes" (its signature does not hold for its values, or is not the author's)
        # is reported, and still counts: a line appended or edited never turns yes into no.
        elif id(a) in unanswered and (a.claims_yes or a.ai_assisted is True):
            says, how = True, f", {a.status}"
        else:
            continue
        note_values.add(says)
        evidence.append(f"declared {'yes' if says else 'no'} (note, signed by {a.signer}{how})")
    trailer_declared = trailer_yes or trailer_no
    declared = trailer_declared or bool(note_values) or (bool(author_declares) and any(
        a.source == "trailer" for a in author_declares))
    declared_yes = trailer_yes or True in note_values or (bool(author_declares) and any(
        a.ai_assisted is True for a in author_declares))
    removed: list[Attestation] = []
    if gone and not declared_yes:
        # A yes the author signed, once in the notes and gone from them (deleted, edited,
        # moved): the commit stays AI-assisted, and is reported.
        for note in gone:
            att = _check(record, policy, revoked, "note", note.value, note_options(note))
            if att.status == VALID and att.ai_assisted is True:
                removed.append(att)
                evidence.append(f"declared yes (notes history, signed by {att.signer}; gone "
                                "from the notes)")
                break
        declared, declared_yes = declared or bool(removed), bool(removed)
    return Declarations(tuple(evidence), bad, trailer_yes, trailer_no, note_values, valid, failed,
                        author_declares, declared, declared_yes, removed)


# --- one signature at a time, for the commands that show each (the auditor's sample) --------------

check_signature = _check  # a trailer's (or any) signature value under `options`
check_note = _check_note  # a note's attestation, with what its line claims
superseded = _superseded


def trailer_options(pairs: Sequence[tuple[str, str]]) -> list[Option]:
    """The statements a `declare` signature in these trailers may cover, as read_declarations
    tries them."""
    values = [v for k, v in pairs if k.lower() == _AI_ASSISTED]
    assisted_by = tuple(v for k, v in pairs if k.lower() == _ASSISTED_BY)
    parsed = [parse_ai_assisted(v) for v in values]
    return [(p, assisted_by) for p in (True, False) if p in parsed] or [
        (True, assisted_by), (False, assisted_by)]


def signed_statement(record: CommitRecord, value: str, options: Sequence[Option]
                     ) -> tuple[Statement, bytes] | None:
    """The statement the signature in `value` verifies over for `record`, with its SSHSIG blob
    (what `ssh-keygen -Y verify` needs to check it again), or None when it verifies over none."""
    try:
        line = parse_signature_value(value)
        blob = sshsig.unb64(line.signature_b64)
    except (MalformedSignature, InvalidSignature):
        return None
    for stmt, _, _ in _statements(record, line.role, line.change, line.signer, options):
        try:
            sshsig.verify(blob, stmt.to_bytes())
        except InvalidSignature:
            continue
        return stmt, blob
    return None
