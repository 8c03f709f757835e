"""`cosign` and `declare REV`: signed attestations added after the fact, as notes or by amending."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provenance.errors import ProvenanceError
from provenance.git import amend, git
from provenance.record import change as change_mod
from provenance.record import declare, identity
from provenance.wire import note, trailers
from provenance.wire.statement import KEY_SIGNATURE, SignatureLine, Statement


@dataclass(frozen=True)
class Attestation:
    commit: str
    lines: tuple[str, ...]  # the note lines (or trailers) that carry it


def _commit(rev: str, cwd: str | Path | None) -> str:
    sha = git.rev_parse(f"{rev}^{{commit}}", cwd=cwd)
    if sha is None:
        raise ProvenanceError(f"{rev!r} does not name a commit")
    return sha


def merge_covers(commit: str, cwd: str | Path | None = None) -> tuple[str, ...]:
    """Digests of the commits a merge brings in (reachable from its other parents only)."""
    from provenance.wire import digest

    parents = git.text(["rev-list", "--parents", "-n", "1", commit], cwd=cwd).split()[1:]
    if len(parents) < 2:
        return ()
    brought = git.text(["rev-list", commit, f"^{parents[0]}"], cwd=cwd).split()
    return tuple(sorted({digest.of_commit(c, cwd=cwd) for c in brought if c != commit}))


def build_cosign(rev: str, *, covers: bool = True, cwd: str | Path | None = None) -> Attestation:
    """A co-sign by the configured signer: approves the change, not the wording of its declaration."""
    from provenance.ssh import signing, sshsig

    commit = _commit(rev, cwd)
    change = change_mod.committed_change(commit, cwd)
    if change.policy_blob:
        _refuse_unparseable_policy(commit, cwd)
    signer = identity.signer(identity.read_config(cwd))
    key = identity.require_key(signer)
    covered = merge_covers(commit, cwd) if covers else ()
    stmt = Statement(role="cosign", change=change.digest, author=change.author_email,
                     signer=signer.email, policy=change.policy_blob, covers=covered)
    blob = signing.sign(stmt.to_bytes(), key)
    line = SignatureLine("cosign", signer.email, change.digest, sshsig.b64(blob))
    return Attestation(commit, (f"{KEY_SIGNATURE}: {line.value()}",))


def _refuse_unparseable_policy(commit: str, cwd: str | Path | None) -> None:
    """A co-sign of a policy change approves the new policy; one that does not parse approves nothing."""
    from provenance.policy import schema

    data = git.read_blob(commit, schema.POLICY_FILE, cwd=cwd)
    if data is None:
        return  # deleted: the audit judges that as a policy change of its own
    try:
        schema.load_text(data, f"{commit[:12]}:{schema.POLICY_FILE}")
    except ProvenanceError as e:
        raise ProvenanceError(f"refusing to co-sign {commit[:12]}: its {schema.POLICY_FILE} does not "
                              f"parse ({e}); the author fixes it in a new commit") from None


def build_declaration(rev: str, ai: bool, assisted_by: tuple[str, ...] = (),
                      cwd: str | Path | None = None) -> Attestation:
    """An after-the-fact declaration by the author (web UI commits, agents that skipped hooks)."""
    commit = _commit(rev, cwd)
    change = change_mod.committed_change(commit, cwd)
    signer = identity.signer(identity.read_config(cwd))
    if signer.email != change.author_email:
        raise ProvenanceError(
            f"only the author ({change.author_email}) can declare {commit[:12]}; you are "
            f"{signer.email or 'unknown (set user.email)'}"
        )
    sig = declare.sign_declaration(change, signer, ai=ai, assisted_by=set(assisted_by))
    # One line: its values stay with its signature whatever else the note holds.
    return Attestation(commit, (note.declaration_line(sig, ai, assisted_by),))


def store_as_note(att: Attestation, cwd: str | Path | None = None) -> None:
    note.add_attestation(att.commit, list(att.lines), cwd=cwd)


def store_by_amending(att: Attestation, cwd: str | Path | None = None) -> str:
    """Add the attestation to HEAD's trailers; only for HEAD, and only when it is unpublished."""
    head = git.rev_parse("HEAD", cwd=cwd)
    if att.commit != head:
        raise ProvenanceError("--amend can only co-sign HEAD; use --note for older commits")
    listed = git.text(["for-each-ref", "--contains", head, "--format=%(symref)%00%(refname:short)",
                       "refs/remotes"], cwd=cwd)
    published = [name for symref, _, name in (ln.partition("\0") for ln in listed.splitlines())
                 if not symref]  # skip origin/HEAD, an alias of a real branch
    if published:
        raise ProvenanceError(
            f"{head[:12]} is already on {published[0]}: amending would rewrite published "
            "history; co-sign with --note instead"
        )
    message = git.commit_message(head, cwd=cwd).decode("utf-8", "surrogateescape")
    pairs = [tuple(line.split(": ", 1)) for line in att.lines]
    new = trailers.add(message, [(k, v) for k, v in pairs])
    return amend.amend_message(head, new.encode("utf-8", "surrogateescape"), cwd=cwd)
