"""What a commit declares: the decision, its signature, and the message file it is written in.

Shared by the commit hooks (`hooks`), the rewrite hooks (`rewrite`) and `declare REV`. The rules:
- a declaration still valid for the change's digest is never touched, whoever replays it;
- only the author re-signs; content replayed inside an agent session becomes AI-assisted;
- combining commits ORs their declarations; nothing downgrades yes to no.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from provenance.detect import fingerprints
from provenance.errors import ProvenanceError
from provenance.git import amend, git
from provenance.record import identity
from provenance.record import sources as sources_mod
from provenance.record.change import POLICY_FILE, Change, in_sequencer
from provenance.record.sources import may_carry_fingerprints
from provenance.wire import declaration, placement
from provenance.wire.statement import SignatureLine

TYPE_CHECKING = False  # not typing's: a commit hook imports this module (provenance/records.py)
if TYPE_CHECKING:
    from provenance.detect.signals import Signal  # imported where used: most commits never need it


def _policy_demands_signature() -> bool:
    """Whether the policy in force (at HEAD, else in the work tree) requires signed declarations."""
    blob = git.read_blob("HEAD", POLICY_FILE)
    if blob is None:
        path = git.toplevel() / POLICY_FILE
        if not path.exists():
            return False
        blob = path.read_bytes()
    from provenance.policy import schema

    return schema.load_text(blob, POLICY_FILE).declaration_signed


def may_show_agent(environ: Mapping[str, str]) -> bool:
    """False when no environment rule's conditions hold (the test `detect` applies first), so a
    commit outside an agent session skips importing `detect` and `dataclasses` (~10 ms)."""
    return any(fingerprints.conds_hold(r.conds, environ) for r in fingerprints.env_rules())


def decide(
    message: str, change: Change, environ: Mapping[str, str], *,
    config: dict[str, str] | None = None, comment_char: str = "#",
    kept_in: str = ".git/COMMIT_EDITMSG",
) -> str | None:
    """The corrected message, or None when it must stay exactly as it is.

    `config`: git's configuration when the caller has read it; `comment_char`: git's for this
    message; `kept_in`: where git keeps the message when a hook refuses the commit.
    """
    gathered = placement.gather(message, comment_char)
    declared = declaration.read(gathered, comment_char=comment_char)
    # Nothing downgrades yes: what the commit replaces or absorbs is OR-ed into its declaration.
    sources = sources_mod.read(change.folded)
    fixup_yes = sources.ai
    valid = declaration.valid_signature(
        declared, change=change.digest, author=change.author_email, policy_blob=change.policy_blob
    )
    if valid is not None and not (fixup_yes and declared.ai is False):
        return gathered if gathered != message else None

    env_signals: list[Signal] = []
    msg_signals: list[Signal] = []
    if may_show_agent(environ):
        from provenance.detect.signals import environment_signals  # deferred: see may_show_agent

        env_signals = [s for s in environment_signals(environ) if s.strength == "strong"]
    if may_carry_fingerprints(change.author_name, change.author_email, message):
        from provenance.detect.signals import commit_signals

        msg_signals = commit_signals(change.author_name, change.author_email, message)
    replayed = bool(declared.declare_sigs)
    if env_signals and declared.ai is False and True not in declared.ai_values and not replayed:
        raise ProvenanceError(
            f"refusing `AI-Assisted: no`: this commit is made inside an AI agent session "
            f"({env_signals[0].evidence}). Remove the line (the hook declares `yes`), or commit "
            f"outside the agent. Your message is kept in {kept_in}.",
            exit_code=1,
        )
    ai = bool(declared.ai or env_signals or msg_signals or fixup_yes)
    assisted = set(declared.assisted_by) | sources.assisted_by
    if ai and (env_signals or msg_signals):
        from provenance.detect.signals import assisted_by_value

        assisted |= {assisted_by_value(s) for s in env_signals + msg_signals}

    config = identity.read_config() if config is None else config
    signer = identity.signer(config)
    keep: list[SignatureLine] = []
    signature: SignatureLine | None = None
    may_sign = not replayed or signer.email == change.author_email
    if not may_sign:
        # Only the author re-signs a changed declaration; the audit will ask them to `resign`.
        if ai == declared.ai and len(set(declared.ai_values)) == 1:
            return None
        keep = list(declared.declare_sigs)
    elif signer.key:
        signature = sign_declaration(change, signer, ai=ai, assisted_by=assisted)
    elif _policy_demands_signature():
        raise ProvenanceError(identity.NO_KEY_HELP, exit_code=1)
    else:
        print("git-provenance: declared without a signature (no signing key)", file=sys.stderr)
    sigs = keep + ([signature] if signature else [])
    return declaration.rewrite(gathered, ai=ai, assisted_by=assisted, signatures=sigs,
                               comment_char=comment_char)


def sign_declaration(
    change: Change, signer: identity.Signer, *, ai: bool, assisted_by: set[str]
) -> SignatureLine:
    from provenance.ssh import signing, sshsig

    stmt = declaration.statement_for(
        change=change.digest, author=change.author_email, signer=signer.email, ai=ai,
        assisted_by=assisted_by, policy_blob=change.policy_blob,
    )
    blob = signing.sign(stmt.to_bytes(), identity.require_key(signer))
    return SignatureLine("declare", signer.email, change.digest, sshsig.b64(blob))


# ---- message files ----------------------------------------------------------------------------


def read_message(path: str) -> str:
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "surrogateescape")


def write_message(path: str, message: str) -> None:
    """Replace the file atomically: an interrupted hook leaves the old message whole."""
    tmp = path + ".provenance-tmp"
    with open(tmp, "wb") as f:
        f.write(message.encode("utf-8", "surrogateescape"))
    os.replace(tmp, path)


# ---- a correction after the commit exists ------------------------------------------------------


def store_correction(commit: str, new_message: str,
                     done: str = "declaration re-signed for the final content") -> None:
    """Record a corrected declaration: re-write HEAD when that is safe, else a signed note."""
    gitdir = git.dirs()[0]
    raw = git.run(["cat-file", "commit", commit])
    header = raw.partition(b"\n\n")[0]
    is_head = git.rev_parse("HEAD") == commit
    if is_head and not in_sequencer(gitdir) and b"\ngpgsig" not in header \
            and b"\nencoding " not in header:
        fixed = amend.amend_message(commit, new_message.encode("utf-8", "surrogateescape"))
        print(f"git-provenance: {done} ({fixed[:12]})",
              file=sys.stderr)
        return
    from provenance.wire import note

    d = declaration.read(new_message)
    # One line a declaration, its values with its signature (docs/spec.md 1.1).
    note.add_attestation(commit, [note.declaration_line(s, bool(d.ai), d.assisted_by)
                                  for s in d.declare_sigs])
    print(f"git-provenance: declaration of {commit[:12]} corrected in a note "
          "(refs/notes/provenance; publish it with `git provenance sync`)", file=sys.stderr)
