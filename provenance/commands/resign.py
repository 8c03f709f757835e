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
    from provenance.audit.declarations import note_options
    from provenance.audit.notes import parse_note
    from provenance.ssh import sshsig
    from provenance.wire.statement import MalformedSignature, parse_signature_value

    for att in parse_note("", "\n".join(note_lines)):
        try:
            sig = parse_signature_value(att.value)
            blob = sshsig.unb64(sig.signature_b64)
        except (MalformedSignature, sshsig.InvalidSignature):
            continue
        if sig.role != "declare" or sig.change != change.digest:
            continue
        for ai, assisted in note_options(att):
            stmt = declaration.statement_for(change=change.digest, author=change.author_email,
                                             signer=sig.signer, ai=ai, assisted_by=assisted,
                                             policy_blob=change.policy_blob)
            try:
                sshsig.verify(blob, stmt.to_bytes())
                return True
            except sshsig.InvalidSignature:
                continue
    return False


def _note_says_yes(note_lines: list[str]) -> bool:
    """Whether the note declares yes, in either form (nothing downgrades yes)."""
    from provenance.audit.notes import parse_note

    return any("yes" in (a.ai_assisted if a.grouped else ())
               for a in parse_note("", "\n".join(note_lines))) or any(
        ln.replace(" ", "").lower() == "ai-assisted:yes" for ln in note_lines)


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
            ai = bool(declared.ai) or _note_says_yes(note_lines)
            att = cosign.build_declaration(commit, ai, declared.assisted_by, cwd=cwd)
            cosign.store_as_note(att, cwd)
            renewed = True
        if renewed or stale:
            renewals.append(Renewal(commit, renewed, stale))
    return renewals
