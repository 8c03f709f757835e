"""Which policy was in force where, read back from an audit's judgements.

The walk puts a commit's own policy in force after it exactly when its policy change is
authorised (`policy_authorized`; a co-signed policy that does not parse is not), and otherwise
keeps its first parent's (the trust root's outside the range). Replaying that rule over the
judgements answers "which keys were trusted at this commit" for the attestation's verifier and
the auditor's sample, without another walk. Held in memory: for the commands, not for the audit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from provenance.audit.walk import AuditResult
from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.policy import schema
from provenance.policy.schema import POLICY_FILE, Policy
from provenance.ssh.sshsig import PublicKey


@dataclass(frozen=True)
class PolicyChain:
    root_blob: str
    policies: dict[str, Policy]  # blob id -> policy, for every policy put in force
    after: dict[str, str]  # judged commit -> blob in force after it
    parents: dict[str, tuple[str, ...]]  # judged commit -> its parents
    revoked: frozenset[PublicKey]  # the walk's: revocation only grows, applied everywhere

    def in_force_after(self, commit: str) -> str:
        """The blob of the policy in force after `commit` (its own, if it changed it validly)."""
        return self.after.get(commit, self.root_blob)

    def judged_under(self, commit: str) -> str:
        """The blob of the policy `commit` was judged under: in force at its first parent."""
        parents = self.parents.get(commit, ())
        return self.in_force_after(parents[0]) if parents else self.root_blob



def _load(blobs: Iterable[str], cwd: str | Path | None) -> dict[str, Policy]:
    wanted = sorted(set(blobs))
    data = git.read_blobs(wanted, cwd=cwd)
    return {b: schema.load_text(data.get(b, b""), f"{POLICY_FILE} blob {b[:12]}") for b in wanted}


def replay(result: AuditResult, cwd: str | Path | None = None) -> PolicyChain:
    """The policy chain of `result`, an audit from a trust root (not of `--policy FILE`)."""
    if result.trust_root is None:
        raise ProvenanceError("an audit under --policy FILE has no policy chain")
    root_blob = git.rev_parse(f"{result.trust_root}:{POLICY_FILE}", cwd=cwd)
    if root_blob is None:
        raise ProvenanceError(f"the trust root {result.trust_root[:12]} holds no {POLICY_FILE}")
    listing = git.text(["rev-list", "--parents", *result.range.split(), "--"], cwd=cwd)
    parents = {line.split()[0]: tuple(line.split()[1:]) for line in listing.splitlines() if line}
    adopted = [j.commit for j in result.judgements if j.policy_change and j.policy_authorized]
    new_blobs: dict[str, str] = {}
    with git.object_lookup(cwd) as lookup:
        for sha in adopted:
            blob = lookup(f"{sha}:{POLICY_FILE}")
            if blob is not None:  # an authorised deletion keeps the previous policy in force
                new_blobs[sha] = blob
    after: dict[str, str] = {}
    for j in result.judgements:  # parents before children
        ps = parents.get(j.commit, ())
        after[j.commit] = new_blobs.get(j.commit, after.get(ps[0], root_blob) if ps else root_blob)
    return PolicyChain(root_blob, _load([root_blob, *new_blobs.values()], cwd), after, parents,
                       result.revoked)
