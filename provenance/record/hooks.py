"""The hook entry points (`git-provenance hook TYPE ARGS...`), and the commit hooks themselves.

prepare-commit-msg declares and signs, commit-msg re-checks after the editor, post-commit corrects a
declaration the finished commit does not match; what a commit declares is decided in `declare`. A
commit waits for these three (80 ms for all of them), so the other hooks' modules are imported only
when they run: `rewrite` (post-rewrite, applypatch-msg) and `gate` (pre-push). What git tells each
hook is in docs/hooks.md.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.record.change import Change, _read_lines, committed_change, pending_change
from provenance.record.declare import decide, read_message, store_correction, write_message
from provenance.record.hookstate import (
    NEXT_DECLARATION,
    NOTES_CONFIGURED,
    STATE_COMMIT,
    STATE_MESSAGE,
    skip_requested,
)
from provenance.wire import declaration


def next_declaration(gitdir: Path) -> tuple[bool, tuple[str, ...]] | None:
    """The declaration `git provenance declare` set for the next commit, if any."""
    lines = _read_lines(gitdir / NEXT_DECLARATION)
    if not lines or lines[0] not in ("yes", "no"):
        return None
    return lines[0] == "yes", tuple(lines[1:])


# ---- what prepare-commit-msg leaves for the later hooks' fast paths ----------------------------


def clear_state(gitdir: Path) -> None:
    for name in (STATE_MESSAGE, STATE_COMMIT):
        (gitdir / name).unlink(missing_ok=True)


def record_state(gitdir: Path, message: str, change: Change) -> None:
    """Remember what this commit will be, so that the next hooks can tell nothing changed."""
    from provenance.wire import trailers
    from provenance.wire.statement import PROVENANCE_KEYS

    clear_state(gitdir)
    if not change.tree:
        return
    if not trailers.strip_for_emptiness(trailers.remove(message, set(PROVENANCE_KEYS))).strip():
        return  # commit-msg must run in full: it refuses a message of trailers only
    lines = [f"{change.tree} {' '.join(change.parents)}"]
    lines += [f"{k}: {v}" for k, v in trailers.parse(message) if k.lower() in PROVENANCE_KEYS]
    (gitdir / STATE_COMMIT).write_text("\n".join(lines) + "\n", errors="surrogateescape")
    (gitdir / STATE_MESSAGE).write_bytes(message.encode("utf-8", "surrogateescape"))


# ---- the hooks --------------------------------------------------------------------------------


def prepare_commit_msg(args: Sequence[str], environ: Mapping[str, str]) -> int:
    head = git.head()  # first: the same git process tells the git dir
    gitdir = git.git_dir()
    clear_state(gitdir)
    if skip_requested(environ) or not args:
        return 0
    if not (gitdir / NOTES_CONFIGURED).exists():  # a route without `install` (pre-commit): once
        from provenance.record.install import set_notes_config

        set_notes_config()
    path = Path(args[0])
    source = args[1] if len(args) > 1 else environ.get("PRE_COMMIT_COMMIT_MSG_SOURCE")
    message = read_message(path)
    explicit = next_declaration(gitdir)
    if explicit is not None and not declaration.read(message).ai_values:
        # As if the user had written the trailers: the usual checks (agent refusal) apply.
        message = declaration.rewrite(message, ai=explicit[0], assisted_by=explicit[1], signatures=())
    change = pending_change(source, environ, head)
    new = decide(message, change, environ)
    if new is None and explicit is not None:
        new = message
    if new is not None and new != read_message(path):
        write_message(path, new)
    record_state(gitdir, read_message(path), change)
    return 0


def commit_msg(args: Sequence[str], environ: Mapping[str, str]) -> int:
    """Re-check after the editor: the author may have changed the declaration."""
    if skip_requested(environ) or not args:
        return 0
    head = git.head()  # first: outside a repository it says so, and it tells the git dir
    path = Path(args[0])
    message = read_message(path)
    from provenance.wire import trailers
    from provenance.wire.statement import PROVENANCE_KEYS

    if not trailers.strip_for_emptiness(trailers.remove(message, set(PROVENANCE_KEYS))).strip():
        print("git-provenance: aborting commit: the message holds only provenance trailers",
              file=sys.stderr)
        return 1
    change = pending_change(None, environ, head)
    new = decide(message, change, environ)
    if new is not None and new != message:
        write_message(path, new)
    record_state(git.git_dir(), read_message(path), change)
    return 0


def post_commit(args: Sequence[str], environ: Mapping[str, str]) -> int:
    """Correct a declaration whose digest does not match the finished commit (`--amend -m`)."""
    if skip_requested(environ):
        return 0
    head = git.head()
    if head is None:
        return 0
    gitdir = git.git_dir()
    (gitdir / NEXT_DECLARATION).unlink(missing_ok=True)  # used by the commit just made
    clear_state(gitdir)
    message = git.commit_message(head).decode("utf-8", "surrogateescape")
    if not declaration.read(message).ai_values:
        return 0  # no declaration at all (PROVENANCE_SKIP): the audit will see it
    new = decide(message, committed_change(head), environ)
    if new is None or new == message:
        return 0
    store_correction(head, new)
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
