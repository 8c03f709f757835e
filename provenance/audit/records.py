"""Small typed records that flow git -> judgement -> output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from provenance.ssh.sshsig import PublicKey

VERDICT_CODES = (
    "missing-declaration",
    "unsigned-declaration",
    "conflicting-declaration",
    "undeclared-ai",
    "invalid-signature",
    "unknown-key",
    "revoked-key",
    "signer-not-author",
    "stale-signature",
    "missing-cosign",
    "unauthorized-policy-change",
    "removed-declaration",
)


class CommitRecord(NamedTuple):
    """One commit as the stream reads it from git, and as the judge sees it once the walk has
    added what history decides (a NamedTuple: one is built per commit, and the walk copies it
    only for the rare commit that changes the policy or is a co-signed merge)."""

    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    committer_name: str
    committer_email: str
    author_time: int
    message: str  # decoded with surrogateescape
    digest: str  # wire.digest of the commit; "" when a scan did not need it
    # Paths in the commit's own patch; for a merge, those of its own change: its tree against
    # git's automatic merge of its parents (git/merges.py), not its combined diff's.
    paths: tuple[str, ...]
    # The policy file's ids when the diff shows it: the first parent's, (other parents',) the new.
    # A scan gives every merge (first parent's, the merge's), looked up (scan.scan_stream).
    policy_ids: tuple[str, ...] | None = None
    # Parsed trailers (from the cache); None: the judge parses those it reads (declarations.trailers_read).
    trailers: tuple[tuple[str, str], ...] | None = None
    policy_blob: str | None = None  # new policy blob id when the commit changes the policy file
    covers: tuple[str, ...] = ()  # merges: digests of the commits they bring in (when needed)
    # From the cache's light rows: no message, identities or paths, so only a cached verdict
    # can judge it (a miss sends the audit to a full walk).
    light: bool = False
    # On the audited tip's first-parent chain (audit/forks.py): from the light rows; None when
    # the walk reads it from git.
    mainline: bool | None = None
    # The submodules (gitlinks, on either side) among `paths`: a rule matches each as its
    # directory (policy/gitlink.py); the names stay git's, as the digest reads them.
    gitlinks: tuple[str, ...] = ()


@dataclass(frozen=True)
class NoteAttestation:
    """One attestation found in a note: a `Provenance-Signature` line with the note's declaration
    lines, or a `Provenance-Declaration` line, which carries its own values (`grouped`)."""

    value: str  # the signature value, as a `Provenance-Signature` line writes it
    note_commit: str  # the commit the note hangs on (notes match by digest, wherever they hang)
    ai_assisted: tuple[str, ...] = ()  # `AI-Assisted:` values in the same note (grouped: its own)
    assisted_by: tuple[str, ...] = ()  # `Assisted-by:` values in the same note (grouped: its own)
    grouped: bool = False  # a `Provenance-Declaration` line: the values above are its own
    gone: bool = False  # only in the notes ref's history: once attested, no longer in the notes


class Violation(NamedTuple):  # NamedTuples here: built per commit, ~4x faster than frozen dataclasses
    code: str
    message: str
    fix: str
    rule: str | None = None
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class CoverApproval:
    """A valid co-sign of merge `merge` whose `covers` lines approve the commits it brings in."""

    merge: str
    signer: str
    key: PublicKey


class LandedFrom(NamedTuple):
    """A landing's source (DESIGN §11.3): the commit's tree is git's merge of `source` onto its
    first parent, and it is judged by the source's commits (`H ^L^1`, parents first)."""

    source: str  # the source head's commit
    request: str | None  # "#7" (GitHub, Gitea), "!7" (GitLab), or None: found by tree or author
    commits: tuple[str, ...]
    verdicts: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (source commit, its verdict codes)


class NotLanded(NamedTuple):
    """Why a commit that names a request is not judged as its landing."""

    request: str | None
    source: str | None  # the request's head, when it is here
    reason: str
    fetch: str | None = None  # the command that brings the head here, when it is absent


class Judgement(NamedTuple):
    commit: str
    author: str
    ai_assisted: bool
    evidence: tuple[str, ...]
    critical_paths: dict[str, list[str]]  # rule -> paths (no default: a shared dict would be one)
    cosigners: tuple[str, ...] = ()  # emails of the people whose co-signs counted
    violations: tuple[Violation, ...] = ()
    policy_change: bool = False  # the commit changes the policy file
    policy_authorized: bool = False  # ... and that change is authorised
    cover_approvals: tuple[CoverApproval, ...] = ()  # merges: co-signs covering brought-in commits
    landed_from: LandedFrom | None = None  # a landing, judged by its source's commits
    not_landed: NotLanded | None = None  # names a request, but is not its landing
