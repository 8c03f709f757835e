"""`review`: the AI-assisted changes to critical paths that still need your co-sign."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provenance import identity, policy_source
from provenance.audit import walk
from provenance.errors import ProvenanceError

NEEDS_YOU = ("missing-cosign", "unauthorized-policy-change")


@dataclass(frozen=True)
class Pending:
    commit: str
    author: str
    evidence: tuple[str, ...]
    reasons: tuple[str, ...]  # the violation messages you can resolve


def pending_for_signer(range_: str | None, cwd: str | Path | None = None) -> list[Pending]:
    signer = identity.signer(identity.read_config(cwd))
    pol = policy_source.load_current("HEAD", cwd=cwd)
    me = pol.person_by_email(signer.email)
    if me is None:
        raise ProvenanceError(f"{signer.email or 'you'} is not a person in the policy at HEAD")
    roles_for = {r.name: r.cosign_roles for r in pol.rules}
    result = walk.audit(range_, None, None, cwd)
    pending = []
    for j in result.judgements:
        if j.author.lower() in me.emails:
            continue  # nobody co-signs their own change
        reasons = tuple(
            v.message for v in j.violations if v.code in NEEDS_YOU and (
                (v.code == "missing-cosign" and me.roles & roles_for.get(v.rule or "", frozenset()))
                or (v.code == "unauthorized-policy-change" and me.roles & pol.policy_change_roles)
            )
        )
        if reasons:
            pending.append(Pending(j.commit, j.author, j.evidence, reasons))
    return pending
