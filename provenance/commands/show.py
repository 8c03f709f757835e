"""`show REV`: one commit's provenance, each signature checked against the commit's change."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from provenance.audit.declarations import note_options
from provenance.audit.notes import parse_note
from provenance.detect.signals import commit_signals
from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.policy import source
from provenance.record import change as change_mod
from provenance.ssh import sshsig
from provenance.wire import declaration, trailers
from provenance.wire.statement import KEY_SIGNATURE, MalformedSignature, Statement, parse_signature_value


@dataclass(frozen=True)
class SignatureCheck:
    origin: str  # "trailer" or "note"
    role: str
    signer: str
    status: str  # valid | stale | invalid | malformed
    detail: str
    key: str = ""  # fingerprint of the key that signed, when the blob decodes
    person: str = ""  # who the policy at the parent says holds that key


def _note_lines(commit: str) -> list[str]:
    out = git.run(["notes", "--ref=provenance", "show", commit], check=False)
    return out.decode("utf-8", "surrogateescape").splitlines()


def _check(value: str, origin: str, change: change_mod.Change,
           options: list[tuple[bool, tuple[str, ...]]], claimed: bool | None = None,
           ) -> SignatureCheck:
    """One signature against the commit; `options` are the (ai-assisted, assisted-by) statements
    a declaration may cover, `claimed` the value a grouped note line states."""
    try:
        sig = parse_signature_value(value)
    except MalformedSignature as e:
        return SignatureCheck(origin, "?", "?", "malformed", str(e))
    try:
        blob = sshsig.unb64(sig.signature_b64)
    except sshsig.InvalidSignature as e:
        return SignatureCheck(origin, sig.role, sig.signer, "malformed", str(e))
    for ai, assisted in options if sig.role == "declare" else [(False, ())]:
        stmt = Statement(
            role=sig.role, change=sig.change, author=change.author_email, signer=sig.signer,
            ai_assisted=ai if sig.role == "declare" else None,
            assisted_by=assisted if sig.role == "declare" else (), policy=change.policy_blob,
        )
        try:
            key = sshsig.verify(blob, stmt.to_bytes())
        except sshsig.InvalidSignature:
            continue
        if claimed is not None and ai is not claimed:
            return SignatureCheck(origin, sig.role, sig.signer, "invalid",
                                  f"the line reads {'yes' if claimed else 'no'}, the signature is "
                                  f"over {'yes' if ai else 'no'}: the value was edited",
                                  key.fingerprint())
        if sig.change != change.digest:
            return SignatureCheck(origin, sig.role, sig.signer, "stale",
                                  f"signed {sig.change[:19]}…, the change is now {change.digest[:19]}…",
                                  key.fingerprint())
        return SignatureCheck(origin, sig.role, sig.signer, "valid", "signature verifies",
                              key.fingerprint())
    return SignatureCheck(origin, sig.role, sig.signer, "invalid",
                          "signature does not verify over this commit's statement")


def _note_checks(commit: str, change: change_mod.Change) -> list[SignatureCheck]:
    """Every attestation of the commit's note: signature lines, and declaration lines that carry
    their own values."""
    checks = []
    for att in parse_note(commit, "\n".join(_note_lines(commit))):
        if att.grouped and not att.ai_assisted:
            parts = att.value.split()
            checks.append(SignatureCheck("note", "declare", parts[1] if len(parts) > 1 else "?",
                                         "malformed", "a Provenance-Declaration that does not parse"))
            continue
        claimed = att.ai_assisted == ("yes",) if att.grouped else None
        checks.append(_check(att.value, "note", change, note_options(att), claimed))
    return checks


def inspect(rev: str) -> dict[str, object]:
    commit = git.rev_parse(f"{rev}^{{commit}}")
    if commit is None:
        raise ProvenanceError(f"{rev!r} does not name a commit")
    change = change_mod.committed_change(commit)
    message = git.commit_message(commit).decode("utf-8", "surrogateescape")
    declared = declaration.read(message)
    ai_options = [declared.ai] if declared.ai is not None else [True, False]
    checks = [
        _check(v, "trailer", change, [(ai, declared.assisted_by) for ai in ai_options])
        for k, v in trailers.parse(message) if k.lower() == KEY_SIGNATURE.lower()
    ]
    checks += _note_checks(commit, change)
    parent = git.rev_parse(f"{commit}^")
    pol = source.load_at(parent) if parent else None
    if pol is not None:
        checks = [_with_person(c, pol) for c in checks]
    signals = commit_signals(change.author_name, change.author_email, message)
    fine = any(c.origin == "trailer" and c.role == "declare" and c.status == "valid" for c in checks)
    return {
        "commit": commit,
        "author": f"{change.author_name} <{change.author_email}>",
        "change": change.digest,
        "ai_assisted": {True: "yes", False: "no", None: "undeclared"}[declared.ai],
        "assisted_by": list(declared.assisted_by),
        "fingerprints": [s.evidence for s in signals],
        "policy_change": change.policy_blob,
        "signatures": [asdict(c) for c in checks],
        "landing": _landing(commit, message, fine),
    }


def _landing(commit: str, message: str, fine: bool) -> dict[str, object] | None:
    """The audit's word on `commit` as a landing (audit/landings.py): its source and each source
    commit's verdict, or why it is not one. Asked only of a commit that names a request, or whose
    own declaration does not verify while source heads are here: `show` stays a quick look."""
    from provenance.audit import landings, walk

    if landings.request_of(message) is None and (fine or not landings.source_heads(None)):
        return None
    try:
        js = walk.audit(commit, None, None).judgements
    except ProvenanceError:
        return None  # no policy, a shallow clone: nothing to say about landings
    j = js[len(js) - 1] if len(js) else None
    if j is None or j.commit != commit:
        return None
    if j.landed_from is not None:
        landed = j.landed_from
        return {"source": landed.source, "request": landed.request, "commits": list(landed.commits),
                "verdicts": {sha: list(codes) for sha, codes in landed.verdicts}}
    if j.not_landed is not None:
        return {"not_landed": j.not_landed._asdict()}
    return None


def _with_person(check: SignatureCheck, pol: object) -> SignatureCheck:
    from provenance.policy.schema import Policy

    assert isinstance(pol, Policy)
    if not check.key:
        return check
    for person in pol.people:
        if any(k.fingerprint() == check.key for k in person.keys):
            return SignatureCheck(**{**asdict(check), "person": f"{person.name} <{person.emails[0]}>"})
    return SignatureCheck(**{**asdict(check), "person": "(key not in the policy)"})


def render(rev: str, fmt: str) -> str:
    info = inspect(rev)
    if fmt == "json":
        return json.dumps(info, indent=2) + "\n"
    lines = [
        f"commit      {info['commit']}",
        f"author      {info['author']}",
        f"change      {info['change']}",
        f"ai-assisted {info['ai_assisted']}",
    ]
    for v in info["assisted_by"]:  # type: ignore[attr-defined]
        lines.append(f"assisted-by {v}")
    for f in info["fingerprints"]:  # type: ignore[attr-defined]
        lines.append(f"fingerprint {f}")
    if info["policy_change"]:
        lines.append(f"policy      changed to blob {info['policy_change']}")
    sigs: list[dict[str, str]] = info["signatures"]  # type: ignore[assignment]
    if not sigs:
        lines.append("signatures  none")
    for s in sigs:
        who = f" [{s['key']}{' ' + s['person'] if s['person'] else ''}]" if s["key"] else ""
        lines.append(f"{s['origin']:<7} {s['role']:<7} {s['signer']}: {s['status']} ({s['detail']}){who}")
    landing: dict[str, Any] | None = info["landing"]  # type: ignore[assignment]
    if landing and "not_landed" in landing:
        lines.append(f"not landed  {landing['not_landed']['reason']}")
        if landing["not_landed"]["fetch"]:
            lines.append(f"fetch       {landing['not_landed']['fetch']}")
    elif landing:
        via = f"{landing['request']} " if landing["request"] else ""
        lines.append(f"landing     of {via}{landing['source']}: judged by its source commits")
        for sha, codes in landing["verdicts"].items():
            lines.append(f"source      {sha} {'/'.join(codes) or 'ok'}")
    return "\n".join(lines) + "\n"
