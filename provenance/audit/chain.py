"""The policy chain: every policy an audit put in force, each with the policy it was adopted from.

A commit is judged by the policy in force at its first parent. A commit that changes the policy
file puts the new policy in force only when co-signs valid under the previous one authorise it:
the previous policy is then the new one's *chain parent*. A merge takes another parent's policy
only as a fast-forward of the chain, when the policy in force at its first parent is on that
parent's chain (DESIGN §4, docs/policy.md); a merge that puts an older or foreign policy back
in force is a policy change of its own, judged under its first parent's policy.

Policies are numbered as they are adopted; 0 is the trust root's (or the `--policy` file's: a
chain of one). The same policy adopted from the same chain parent is one node, wherever in
history that happened, so two branches that made the same authorised change merge as equals; a
node is named by its blob (not by the commit that adopted it, which depends on the order a walk
meets the two), and identified across walks by the blobs from the root to it (`path`).
Every walk over history (the audit's, the boundary's in audit/boundary.py) settles a commit's
policy through `settle`, so that they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from provenance.audit.records import Judgement, Violation
from provenance.audit.spool import Encoded, decoded
from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.policy import schema
from provenance.policy.schema import POLICY_FILE, Policy
from provenance.ssh.sshsig import PublicKey

ROOT = 0


@dataclass
class PolicyChain:
    """The policies in force somewhere in one walk: node i is `policies[i]` (blob `blobs[i]`),
    adopted from node `parents[i]` (None: the root)."""

    policies: list[Policy]
    blobs: list[str | None]
    parents: list[int | None]
    _nodes: dict[tuple[str, int], int] = field(default_factory=dict)

    @classmethod
    def rooted(cls, policy: Policy, blob: str | None) -> PolicyChain:
        return cls([policy], [blob], [None])

    def copy(self) -> PolicyChain:
        return PolicyChain(list(self.policies), list(self.blobs), list(self.parents),
                           dict(self._nodes))

    def on_chain(self, node: int, tip: int) -> bool:
        """Whether `node` is `tip` or a policy that `tip` descends from by authorised changes."""
        at: int | None = tip
        while at is not None:
            if at == node:
                return True
            at = self.parents[at]
        return False

    def fast_forward(self, base: int, blob: str, others: Iterable[int]) -> int | None:
        """The first of `others` (the policies in force at a merge's other parents) that a merge
        whose first parent has `base` in force takes as it is: its blob is the merge's `blob` and
        `base` is on its chain. None: the merge changes the policy on its own."""
        for node in others:
            if self.blobs[node] == blob and self.on_chain(base, node):
                return node
        return None

    def adopt(self, blob: str, base: int, sha: str, cwd: str | Path | None) -> int | str:
        """The node of `blob` adopted from `base` at commit `sha`; a one-line reason (str) when
        that policy cannot be loaded."""
        known = self._nodes.get((blob, base))
        if known is not None:
            return known
        data = git.read_blobs([blob], cwd=cwd).get(blob, b"")
        try:
            new = schema.load_text(data, f"{POLICY_FILE} at {sha[:12]}")
        except ProvenanceError as e:
            return str(e)
        self.policies.append(replace(new, source=f"{POLICY_FILE} blob {blob[:12]}"))
        self.blobs.append(blob)
        self.parents.append(base)
        self._nodes[(blob, base)] = node = len(self.policies) - 1
        return node

    def path(self, node: int) -> tuple[str, ...]:
        """The blobs adopted from the root to `node`, oldest first: what identifies a node
        across walks (`follow` finds it again)."""
        steps: list[str] = []
        at: int | None = node
        while at is not None and at != ROOT:
            blob = self.blobs[at]
            assert blob is not None
            steps.append(blob)
            at = self.parents[at]
        return tuple(reversed(steps))

    def follow(self, path: Sequence[str], cwd: str | Path | None) -> int | None:
        """The node `path` names, adopting what this chain lacks; None if a policy on it no
        longer loads (it did when `path` was recorded: a cache from another tool version)."""
        at = ROOT
        for blob in path:
            step = self.adopt(blob, at, blob, cwd)
            if isinstance(step, str):
                return None
            at = step
        return at

    def revoked_by(self, node: int) -> frozenset[PublicKey]:
        return frozenset(r.key for r in self.policies[node].revoked)

    def revoked(self) -> frozenset[PublicKey]:
        """Every key revoked by a policy of this chain (each was authorised, or is the root)."""
        return frozenset(r.key for p in self.policies for r in p.revoked)


def settle(
    chain: PolicyChain, base: int, new_blob: str | None, inherited: int | None,
    j: Judgement | Encoded, sha: str, cwd: str | Path | None,
) -> tuple[int, Judgement | Encoded]:
    """The policy in force after commit `sha`, judged `j` with `base` in force before it: an
    authorised change puts the merge's fast-forward (`inherited`) or `new_blob` in force; an
    unusable new policy is a violation and leaves `base` in force."""
    if not j.policy_authorized:
        return base, j
    if inherited is not None:
        return inherited, j
    if new_blob is None:  # the policy file was deleted: the previous policy stays in force
        return base, j
    node = chain.adopt(new_blob, base, sha, cwd)
    if isinstance(node, int):
        return node, j
    bad = Violation("unauthorized-policy-change",
                    f"the co-signed policy is unusable, the previous one stays in force: {node}",
                    f"fix {POLICY_FILE} in a new commit and have it co-signed")
    j = decoded(j)  # a cached verdict is built into a judgement only here
    return base, j._replace(violations=(*j.violations, bad), policy_authorized=False)
