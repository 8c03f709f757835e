"""One commit under one policy -> verdicts. Pure: no git, no history, no I/O.

The walk (walk.py) decides which policy is in force, which notes and cover co-signs reach a
commit and which keys are revoked; this module only applies the rules of docs/verdicts.md, to
what declarations.py finds in the commit's trailers and notes.
"""

from __future__ import annotations

from collections.abc import Sequence

from provenance.audit.declarations import Attestation, is_author, read_declarations
from provenance.audit.records import (
    CommitRecord,
    CoverApproval,
    Judgement,
    NoteAttestation,
    Violation,
)
from provenance.detect.signals import commit_signals
from provenance.policy.schema import Policy, Rule
from provenance.ssh.sshsig import PublicKey


def _short(sha: str) -> str:
    return sha[:12]


def _fix(role: str, sha: str, signer: str, declared: bool | None, unknown_key: str = "") -> str:
    """`unknown_key`: "unregistered" or "someone else's" when the verdict is unknown-key, where
    signing again with the same key would change nothing."""
    again = f"cosign {sha}" if role == "cosign" else \
        f"declare {sha} {'--ai' if declared else '--no-ai'}"
    if unknown_key == "unregistered":
        return (f"git provenance init   # run by {signer}: registers your signing key in "
                f".provenance.toml (a senior co-signs that commit); then rebase onto it, or sign "
                f"again (git provenance {again}) with a key the policy lists")
    if unknown_key:
        return (f"git provenance {again}   # run by {signer}, signing with your own key "
                "(git config provenance.signingKey), not someone else's")
    if role == "cosign":
        return f"git provenance cosign {sha}   # run by {signer}"
    if declared is None:
        return f"git provenance resign {sha}   # run by the author"
    return f"git provenance declare {sha} {'--ai' if declared else '--no-ai'}   # run by the author"



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
    found = read_declarations(record, policy, notes, revoked)
    # Bound once: each is read several times below, for every commit of a walk.
    declared, declared_yes, failed = found.declared, found.declared_yes, found.failed
    evidence = list(found.evidence)

    signals = (
        commit_signals(record.author_name, author, record.message,
                       record.committer_name, record.committer_email)
        if policy.detect_undeclared else []
    )
    if signals:
        evidence += [f"fingerprint: {s.evidence}" for s in signals]
    ai = declared_yes or bool(signals)
    # A merge's paths are its own change's (its tree against git's automatic merge): none, and it
    # is clean whatever its combined diff shows (nearby changes on both sides).
    clean_merge = len(record.parents) > 1 and not record.paths

    if found.removed:
        gone = found.removed[0]
        violations.append(Violation(
            "removed-declaration",
            f"a signed AI-Assisted: yes by {gone.signer} was in the history of "
            "refs/notes/provenance and is gone from the notes (deleted, edited or moved); the "
            "commit stays AI-assisted",
            f"git provenance declare {sha} --ai   # run by the author; or put the note line back"))
    if signals and not declared_yes:
        what = "declares no" if declared else "has no declaration"
        violations.append(Violation(
            "undeclared-ai", f"carries an AI fingerprint ({signals[0].evidence}) but {what}",
            f"git provenance declare {sha} --ai   # run by the author"))
    elif found.bad:
        violations.append(Violation(
            "missing-declaration", f"AI-Assisted value {found.bad[0]!r} is neither yes nor no",
            f"git provenance declare {sha} --ai   # or --no-ai; run by the author"))
    elif policy.declaration_required and not declared and not clean_merge:
        violations.append(Violation(
            "missing-declaration", "no AI-Assisted declaration (committed without the hooks?)",
            f"git provenance declare {sha} --ai   # or --no-ai; run by the author"))
    if found.trailer_yes and found.trailer_no and not found.note_values:
        violations.append(Violation(
            "conflicting-declaration", "declares both AI-Assisted: yes and AI-Assisted: no",
            f"git provenance declare {sha} --ai   # run by the author"))

    # -- signature verdicts that nothing superseded
    # The fixes never suggest --no-ai for an AI-assisted commit (nothing downgrades yes).
    for a in failed:
        violations.append(Violation(
            a.status, f"{a.role} signature by {a.signer} ({a.source}): {a.reason}",
            _fix(a.role, sha, a.signer, None if a.role != "declare" else ai,
                 "" if a.status != "unknown-key" else
                 "unregistered" if a.person is None else "someone else's")))
    if (policy.declaration_signed and declared and not found.author_declares
            and not found.removed and not any(a.role in ("declare", "?") for a in failed)):
        violations.append(Violation(
            "unsigned-declaration", "the declaration carries no valid signature by its author",
            f"git provenance declare {sha} {'--ai' if ai else '--no-ai'}"
            "   # run by the author"))

    # -- co-signs: distinct people, never the author
    cosigns = [a for a in found.valid if a.role == "cosign"] if found.valid else []
    approvals: list[tuple[PublicKey, str, str]] = [
        (a.key, a.signer, a.source) for a in cosigns if a.key is not None] if cosigns else []
    for c in cover_approvals:
        approvals.append((c.key, c.signer, f"co-sign of merge {_short(c.merge)}"))
    counted: set[str] = set()
    critical: dict[str, list[str]] = {}
    for name, hits in policy.critical_matches(record.paths, record.gitlinks).items():
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
        elif is_author(person, author):
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
