"""`resign`: renew your own declarations whose change digest went stale (a conflicted rebase)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provenance.commands import cosign
from provenance.git import git
from provenance.record import change as change_mod
from provenance.record import identity
from provenance.wire import declaration, note


@dataclass(frozen=True)
class Renewal:
    commit: str
    renewed: bool  # your declaration was renewed in a note
    stale_cosigners: tuple[str, ...]  # co-signs only their signers can renew


def _stale_cosigners(message: str, note_lines: list[str], digest: str) -> tuple[str, ...]:
    values = [v for k, v in _fields(message, note_lines) if k == "provenance-signature"]
    out = set()
    for v in values:
        parts = v.split()
        if len(parts) >= 4 and parts[1] == "cosign" and parts[3] != digest:
            out.add(parts[2])
    return tuple(sorted(out))


def _fields(message: str, note_lines: list[str]) -> list[tuple[str, str]]:
    from provenance.wire import trailers

    pairs = [(k.lower(), v) for k, v in trailers.parse(message)]
    for line in note_lines:
        k, _, v = line.partition(":")
        pairs.append((k.strip().lower(), v.strip()))
    return pairs


def _note_declaration_valid(note_lines: list[str], change: change_mod.Change) -> bool:
    """A declare signature in the note that verifies for the commit's current change."""
    from provenance.ssh import sshsig
    from provenance.wire.statement import MalformedSignature, parse_signature_value

    fields = _fields("", note_lines)
    assisted = tuple(v for k, v in fields if k == "assisted-by")
    for key, value in fields:
        if key != "provenance-signature":
            continue
        try:
            sig = parse_signature_value(value)
            blob = sshsig.unb64(sig.signature_b64)
        except (MalformedSignature, sshsig.InvalidSignature):
            continue
        if sig.role != "declare" or sig.change != change.digest:
            continue
        for ai in (True, False):
            stmt = declaration.statement_for(change=change.digest, author=change.author_email,
                                             signer=sig.signer, ai=ai, assisted_by=assisted,
                                             policy_blob=change.policy_blob)
            try:
                sshsig.verify(blob, stmt.to_bytes())
                return True
            except sshsig.InvalidSignature:
                continue
    return False


def resign(range_: str | None, cwd: str | Path | None = None) -> list[Renewal]:
    me = identity.signer(identity.read_config(cwd)).email
    spec = [range_] if range_ else ["HEAD", "--not", "--remotes"]
    commits = git.text(["rev-list", "--no-merges", "-i", "--fixed-strings", f"--author=<{me}>", *spec],
                       cwd=cwd).split()
    renewals = []
    for commit in commits:
        change = change_mod.committed_change(commit, cwd)
        message = git.commit_message(commit, cwd=cwd).decode("utf-8", "surrogateescape")
        declared = declaration.read(message)
        note_lines = note.read(commit, cwd)
        note_valid = _note_declaration_valid(note_lines, change)
        valid = declaration.valid_signature(declared, change=change.digest,
                                            author=change.author_email, policy_blob=change.policy_blob)
        stale = _stale_cosigners(message, note_lines, change.digest)
        renewed = False
        if valid is None and not note_valid and (declared.ai_values or declared.declare_sigs):
            ai = bool(declared.ai) or any(ln.lower() == "ai-assisted: yes" for ln in note_lines)
            att = cosign.build_declaration(commit, ai, declared.assisted_by, cwd=cwd)
            cosign.store_as_note(att, cwd)
            renewed = True
        if renewed or stale:
            renewals.append(Renewal(commit, renewed, stale))
    return renewals
