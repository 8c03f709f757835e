"""The hook entry points (`git-provenance hook TYPE ARGS...`), and the commit hooks themselves.

prepare-commit-msg declares and signs, commit-msg re-checks after the editor, post-commit corrects a
declaration the finished commit does not match; what a commit declares is decided in `declare`. A
commit waits for these three (80 ms for all of them), so the other hooks' modules are imported only
when they run: `rewrite` (post-rewrite, applypatch-msg) and `gate` (pre-push). What git tells each
hook is in docs/hooks.md.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.record import feedback, identity
from provenance.record.change import (
    Change,
    _read_lines,
    committed_change,
    in_sequencer,
    pending_change,
)
from provenance.record.declare import decide, read_message, store_correction, write_message
from provenance.record.hookstate import (
    NEXT_DECLARATION,
    NOTES_CONFIGURED,
    STATE_COMMIT,
    STATE_MESSAGE,
    skip_requested,
)
from provenance.wire import declaration, placement

TYPE_CHECKING = False  # not typing's: a commit hook imports this module (provenance/records.py)
if TYPE_CHECKING:
    from provenance.ssh.sshsig import PublicKey


def next_declaration(gitdir: str) -> tuple[bool, tuple[str, ...]] | None:
    """The declaration `git provenance declare` set for the next commit, if any."""
    lines = _read_lines(os.path.join(gitdir, NEXT_DECLARATION))
    if not lines or lines[0] not in ("yes", "no"):
        return None
    return lines[0] == "yes", tuple(lines[1:])


# ---- what prepare-commit-msg leaves for the later hooks' fast paths ----------------------------


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def clear_state(gitdir: str) -> None:
    for name in (STATE_MESSAGE, STATE_COMMIT):
        _unlink(os.path.join(gitdir, name))


def _only_declaration(message: str, comment_char: str) -> bool:
    """Nothing but a declaration, comments and blank lines: git would take it for empty."""
    from provenance.wire import trailers
    from provenance.wire.statement import PROVENANCE_KEYS

    gathered = placement.gather(message, comment_char)
    rest = trailers.remove(gathered, set(PROVENANCE_KEYS), comment_char=comment_char)
    return not trailers.strip_for_emptiness(rest, comment_char=comment_char).strip()


def record_state(gitdir: str, message: str, change: Change, comment_char: str = "#") -> None:
    """Remember what this commit will be, so that the next hooks can tell nothing changed."""
    from provenance.wire import trailers
    from provenance.wire.statement import PROVENANCE_KEYS

    clear_state(gitdir)
    if not change.tree:
        return
    if _only_declaration(message, comment_char):
        return  # commit-msg must run in full: it refuses a message of trailers only
    lines = [f"{change.tree} {' '.join(change.parents)}"]
    lines += [f"{k}: {v}" for k, v in trailers.parse(message) if k.lower() in PROVENANCE_KEYS]
    with open(os.path.join(gitdir, STATE_COMMIT), "w", errors="surrogateescape") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(gitdir, STATE_MESSAGE), "wb") as b:
        b.write(message.encode("utf-8", "surrogateescape"))


def _comment_char(config: dict[str, str], message: str, environ: Mapping[str, str]) -> str:
    # git tells hooks GIT_EDITOR=: when no editor runs.
    return placement.comment_char(config.get("core.commentchar"), message,
                                  edited=environ.get("GIT_EDITOR") != ":")


def _new_keys(before: str, after: str, comment_char: str) -> list[PublicKey]:
    """The keys of the declare signatures `after` carries and `before` did not: the hook's own."""
    old = set(declaration.read(before, comment_char=comment_char).declare_sigs)
    new = [s for s in declaration.read(after, comment_char=comment_char).declare_sigs
           if s not in old]
    if not new:
        return []
    from provenance.ssh import sshsig

    return [sshsig.decode_blob(sshsig.unb64(s.signature_b64)).public_key for s in new]


# ---- the hooks --------------------------------------------------------------------------------


def prepare_commit_msg(args: Sequence[str], environ: Mapping[str, str]) -> int:
    head = git.head()  # first: the same git process tells the git dir
    gitdir = git.dirs()[0]
    clear_state(gitdir)
    if skip_requested(environ) or not args:
        return 0
    if not os.path.exists(os.path.join(gitdir, NOTES_CONFIGURED)):  # a route without `install`
        from provenance.record.install import set_notes_config  # (pre-commit): once

        set_notes_config()
    path = args[0]
    source = args[1] if len(args) > 1 else environ.get("PRE_COMMIT_COMMIT_MSG_SOURCE")
    original = message = read_message(path)
    config = identity.read_config()
    cc = _comment_char(config, message, environ)
    explicit = next_declaration(gitdir)
    if explicit is not None and not declaration.read(message, comment_char=cc).ai_values:
        # As if the user had written the trailers: the usual checks (agent refusal) apply.
        message = declaration.rewrite(message, ai=explicit[0], assisted_by=explicit[1],
                                      signatures=(), comment_char=cc)
    change = pending_change(source, environ, head)
    replay = in_sequencer(gitdir)
    if not replay:
        feedback.check_staged_policy(change, args[0])
    new = decide(message, change, environ, config=config, comment_char=cc, kept_in=args[0])
    final = new if new is not None else message
    if environ.get("GIT_EDITOR") != ":":
        final = placement.for_editor(final, cc)
    if final != original:
        write_message(path, final)
    record_state(gitdir, final, change, cc)
    if not replay:
        signer = identity.signer(config).email
        ai = declaration.read(final, comment_char=cc).ai is True
        feedback.print_lines([feedback.cosign_needed(change, ai)] + [
            feedback.key_warning(key, signer, change) for key in _new_keys(original, final, cc)])
    return 0


def commit_msg(args: Sequence[str], environ: Mapping[str, str]) -> int:
    """Re-check after the editor: the author may have changed the declaration, or typed the
    subject where it glued to it."""
    if skip_requested(environ) or not args:
        return 0
    head = git.head()  # first: outside a repository it says so, and it tells the git dir
    path = args[0]
    message = read_message(path)
    config = identity.read_config()
    cc = _comment_char(config, message, environ)
    if _only_declaration(message, cc):
        print("git-provenance: aborting commit: the message holds only provenance trailers",
              file=sys.stderr)
        return 1
    change = pending_change(None, environ, head)
    new = decide(message, change, environ, config=config, comment_char=cc, kept_in=args[0])
    if new is not None and new != message:
        write_message(path, new)
    record_state(git.dirs()[0], read_message(path), change, cc)
    return 0


def post_commit(args: Sequence[str], environ: Mapping[str, str]) -> int:
    """Correct a declaration whose digest does not match the finished commit (`--amend -m`), or
    that ended up outside the final trailer block (`--no-verify` skipped commit-msg)."""
    if skip_requested(environ):
        return 0
    head = git.head()
    if head is None:
        return 0
    gitdir = git.dirs()[0]
    _unlink(os.path.join(gitdir, NEXT_DECLARATION))  # used by the commit just made
    clear_state(gitdir)
    message = git.commit_message(head).decode("utf-8", "surrogateescape")
    gathered = placement.gather(message)
    if not declaration.read(gathered).ai_values:
        return 0  # no declaration at all (PROVENANCE_SKIP): the audit will see it
    new = decide(message, committed_change(head), environ)
    if new is None or new == message:
        return 0
    store_correction(head, new, "declaration re-signed for the final content"
                     if new != gathered else "declaration moved to the message's trailer block")
    return 0


HOOKS = {
    "prepare-commit-msg": prepare_commit_msg,
    "commit-msg": commit_msg,
    "post-commit": post_commit,
}
OTHER_HOOKS = ("post-rewrite", "applypatch-msg", "pre-push", "pre-receive")


def run_hook(hook_type: str, args: Sequence[str], environ: Mapping[str, str]) -> int:
    func = HOOKS.get(hook_type)
    if func is not None:
        return func(args, environ)
    git.git_dir()  # outside a repository: "not a git repository", as every command says
    if hook_type in ("post-rewrite", "applypatch-msg"):
        from provenance.record import rewrite

        run = rewrite.post_rewrite if hook_type == "post-rewrite" else rewrite.applypatch_msg
        return run(args, environ)
    if hook_type == "pre-push":
        from provenance.record import gate

        return gate.run(args, environ, sys.stdin.read())
    if hook_type == "pre-receive":
        from provenance.record import prereceive

        return prereceive.run(args, environ, sys.stdin.read())
    raise ProvenanceError(f"unknown hook type {hook_type!r} (known: prepare-commit-msg, "
                          "commit-msg, post-commit, " + ", ".join(OTHER_HOOKS) + ")")
