"""One commit under one policy -> verdicts. Pure: no git, no history, no I/O.

The walk (walk.py) decides which policy is in force, which notes and cover co-signs reach a
commit and which keys are revoked; this module only applies the rules of docs/verdicts.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import NamedTuple

from provenance import detect, sshsig, trailers
from provenance.audit.records import (
    CommitRecord,
    CoverApproval,
    Judgement,
    NoteAttestation,
    Violation,
)
from provenance.digest import EMPTY
from provenance.policy import Person, Policy, Rule
from provenance.sshsig import InvalidSignature, PublicKey
from provenance.statement import (
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


def _short(sha: str) -> str:
    return sha[:12]


def _fix(role: str, sha: str, signer: str, declared: bool | None) -> str:
    if role == "cosign":
        return f"git provenance cosign {sha}   # run by {signer}"
    if declared is None:
        return f"git provenance resign {sha}   # run by the author"
    return f"git provenance declare {sha} {'--ai' if declared else '--no-ai'}   # run by the author"


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
    if line.role == "declare" and not _is_author(person, record.author_email):
        return _with(att, "signer-not-author", f"declared by {line.signer}, but the author is "
                     f"{record.author_email}")
    return att


def _with(att: Attestation, status: str, reason: str) -> Attestation:
    return att._replace(status=status, reason=reason)


def _has_email(person: Person, email: str) -> bool:
    """Whether lower-cased `email` is one of the person's emails, compared case-insensitively."""
    # A loaded policy stores its emails lower-cased, so the tuple look-up almost always answers.
    return email in person.emails or any(e.lower() == email for e in person.emails)


def _is_author(person: Person, author_email: str) -> bool:
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


class _Declared(NamedTuple):
    """What a commit's trailers and notes declare, and what became of their signatures."""

    evidence: tuple[str, ...]
    bad: Sequence[str]  # AI-Assisted values that are neither yes nor no
    trailer_yes: bool
    trailer_no: bool
    note_values: AbstractSet[bool]  # what valid notes (or the author's stale "yes") declare
    valid: Sequence[Attestation]
    failed: Sequence[Attestation]  # not valid, and not superseded by a valid one
    author_declares: Sequence[Attestation]
    declared: bool
    declared_yes: bool


# Most commits of an unadopted history: no trailer `judge` reads, no note. Shared: immutable.
_NOTHING_DECLARED = _Declared((), (), False, False, frozenset(), (), (), (), False, False)


def _declarations(record: CommitRecord, policy: Policy, notes: Sequence[NoteAttestation],
                  revoked: frozenset[PublicKey]) -> _Declared:
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
              and a.key not in revoked and _is_author(a.person, record.author_email)):
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
    return _Declared(tuple(evidence), bad, trailer_yes, trailer_no, note_values, valid, failed,
                     author_declares, declared, declared_yes)


def judge(
    record: CommitRecord,
    policy: Policy,
    notes: Sequence[NoteAttestation],
    revoked: frozenset[PublicKey],
    *,
    cover_approvals: Sequence[CoverApproval] = (),
    policy_change_authorized: bool | None = None,
) -> Judgement:
    """Judge one commit. `notes` are the attestations matched to it (by digest or by the commit they
    hang on); `cover_approvals` are valid co-signs of merges whose `covers` list this change;
    `policy_change_authorized` overrides the policy-change check (inherited by a merge, or an
    external policy file)."""
    sha, author = record.sha, record.author_email
    violations: list[Violation] = []
    declared_by, bad, trailer_yes, trailer_no, note_values, valid, failed, author_declares, \
        declared, declared_yes = _declarations(record, policy, notes, revoked)
    evidence = list(declared_by)

    signals = (
        detect.commit_signals(record.author_name, author, record.message,
                              record.committer_name, record.committer_email)
        if policy.detect_undeclared else []
    )
    if signals:
        evidence += [f"fingerprint: {s.evidence}" for s in signals]
    ai = declared_yes or bool(signals)
    clean_merge = len(record.parents) > 1 and record.digest == EMPTY

    if signals and not declared_yes:
        what = "declares no" if declared else "has no declaration"
        violations.append(Violation(
            "undeclared-ai", f"carries an AI fingerprint ({signals[0].evidence}) but {what}",
            f"git provenance declare {sha} --ai   # run by the author"))
    elif bad:
        violations.append(Violation(
            "missing-declaration", f"AI-Assisted value {bad[0]!r} is neither yes nor no",
            f"git provenance declare {sha} --ai   # or --no-ai; run by the author"))
    elif policy.declaration_required and not declared and not clean_merge:
        violations.append(Violation(
            "missing-declaration", "no AI-Assisted declaration (committed without the hooks?)",
            f"git provenance declare {sha} --ai   # or --no-ai; run by the author"))
    if trailer_yes and trailer_no and not note_values:
        violations.append(Violation(
            "conflicting-declaration", "declares both AI-Assisted: yes and AI-Assisted: no",
            f"git provenance declare {sha} --ai   # run by the author"))

    # -- signature verdicts that nothing superseded
    for a in failed:
        violations.append(Violation(
            a.status, f"{a.role} signature by {a.signer} ({a.source}): {a.reason}",
            _fix(a.role, sha, a.signer, None if a.role != "declare" else declared_yes)))
    if (policy.declaration_signed and declared and not author_declares
            and not any(a.role in ("declare", "?") for a in failed)):
        violations.append(Violation(
            "unsigned-declaration", "the declaration carries no valid signature by its author",
            f"git provenance declare {sha} {'--ai' if declared_yes else '--no-ai'}"
            "   # run by the author"))

    # -- co-signs: distinct people, never the author
    cosigns = [a for a in valid if a.role == "cosign"] if valid else []
    approvals: list[tuple[PublicKey, str, str]] = [
        (a.key, a.signer, a.source) for a in cosigns if a.key is not None] if cosigns else []
    for c in cover_approvals:
        approvals.append((c.key, c.signer, f"co-sign of merge {_short(c.merge)}"))
    counted: set[str] = set()
    critical: dict[str, list[str]] = {}
    for name, hits in policy.critical_matches(record.paths).items():
        rule = next(r for r in policy.rules if r.name == name)
        if rule.applies_to == "ai-assisted" and not ai:
            continue
        critical[name] = sorted({p for p, _ in hits})
        people, why_not = _count(policy, revoked, approvals, rule.cosign_roles, author)
        counted |= people
        if len(people) < rule.threshold:
            violations.append(_missing_cosign(sha, rule, hits, people, why_not, failed, ai))

    policy_change = record.policy_blob is not None
    authorized = False
    if policy_change:
        people, why_not = _count(
            policy, revoked, [(a.key, a.signer, a.source) for a in cosigns if a.key is not None],
            policy.policy_change_roles, author)
        authorized = len(people) >= policy.policy_change_threshold
        if policy_change_authorized is not None:
            authorized = policy_change_authorized
        if not authorized:
            roles = "/".join(sorted(policy.policy_change_roles))
            got = "; ".join(why_not) or "no valid co-sign"
            violations.append(Violation(
                "unauthorized-policy-change",
                f"changes {policy.source} with {len(people)} of {policy.policy_change_threshold} "
                f"co-sign(s) by {roles} people under the previous policy ({got})",
                f"git provenance cosign {sha}   # run by a {roles} of the previous policy"))
        else:
            counted |= people

    return Judgement(
        commit=sha, author=author, ai_assisted=ai, evidence=tuple(evidence),
        critical_paths=critical, cosigners=tuple(sorted(counted)), violations=tuple(violations),
        policy_change=policy_change, policy_authorized=policy_change and authorized,
        cover_approvals=tuple(
            CoverApproval(sha, a.signer, a.key) for a in cosigns
            if a.with_covers and a.key is not None) if cosigns else (),
    )


def _count(
    policy: Policy, revoked: frozenset[PublicKey], approvals: Sequence[tuple[PublicKey, str, str]],
    roles: frozenset[str], author: str,
) -> tuple[set[str], list[str]]:
    """Distinct people (by their first email) whose approvals count, and why the others do not."""
    people: set[str] = set()
    why_not: list[str] = []
    for key, signer, via in approvals:
        person = policy.person_by_key(key)
        if key in revoked:
            why_not.append(f"{signer} ({via}): key revoked")
        elif person is None or signer not in {e.lower() for e in person.emails}:
            why_not.append(f"{signer} ({via}): key not registered to them")
        elif _is_author(person, author):
            why_not.append(f"{signer} ({via}): is the author")
        elif not person.roles & roles:
            why_not.append(f"{signer} ({via}): not {'/'.join(sorted(roles))}")
        else:
            people.add(person.emails[0].lower())
    return people, why_not


def _missing_cosign(
    sha: str, rule: Rule, hits: Sequence[tuple[str, str]], people: set[str], why_not: list[str],
    failed: Sequence[Attestation], ai: bool,
) -> Violation:
    shown = ", ".join(f"{p} ({g})" for p, g in hits[:3]) + (" …" if len(hits) > 3 else "")
    kind = "AI-assisted change" if ai else "change"
    not_counted = why_not + [f"{a.signer}: {a.status}" for a in failed if a.role == "cosign"]
    signed = f"; not counted: {'; '.join(not_counted)}" if not_counted else ""
    roles = "/".join(sorted(rule.cosign_roles))
    return Violation(
        "missing-cosign",
        f"{kind} to rule {rule.name!r} paths {shown} has {len(people)} of {rule.threshold} "
        f"co-sign(s) by {roles} people{signed}",
        f"git provenance cosign {sha}   # run by a {roles} who is not the author",
        rule=rule.name, paths=tuple(sorted({p for p, _ in hits})),
    )
