"""Console entry point. Hooks are dispatched before click is imported: commits wait on them."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

TYPE_CHECKING = False  # not typing's: importing typing costs ~3 ms, and main.py runs on every commit
if TYPE_CHECKING:
    from typing import NoReturn


def _git(*args: str) -> bytes | None:
    """stdout of a successful `git ARGS`, else None; stderr is discarded.

    posix_spawn rather than subprocess, whose imports cost ~5 ms: this runs on every commit.
    """
    read_end, write_end = os.pipe()
    try:
        pid = os.posix_spawnp("git", ["git", *args], os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, write_end, 1),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ])
    except OSError:
        os.close(read_end)
        return None
    finally:
        os.close(write_end)
    with open(read_end, "rb") as f:
        out = f.read()
    return out if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 else None


def _nothing_changed(hook_type: str, args: Sequence[str]) -> bool:
    """The fast paths of install.py's shell hooks, for routes that call Python directly (pre-commit).

    True when prepare-commit-msg's recorded work is intact, so the full check can be skipped.
    Only the standard library's cheapest modules: this runs on every commit.
    """
    if hook_type not in ("commit-msg", "post-commit") or os.environ.get("PROVENANCE_SKIP"):
        return False
    from provenance.record.hookstate import COMMIT_FACTS_FORMAT, NEXT_DECLARATION, STATE_COMMIT, STATE_MESSAGE

    if hook_type == "commit-msg":
        # The message file lives in the git dir (COMMIT_EDITMSG, MERGE_MSG): no git process needed.
        try:
            with open(args[0], "rb") as a, \
                    open(os.path.join(os.path.dirname(args[0]), STATE_MESSAGE), "rb") as b:
                return a.read() == b.read()
        except (OSError, IndexError):
            return False

    gitdir = _plain_gitdir()
    if gitdir is None:
        out = _git("rev-parse", "--git-dir")
        if out is None:
            return False
        gitdir = out.decode().strip()
    try:
        with open(os.path.join(gitdir, STATE_COMMIT), "rb") as f:
            expected = f.read()
    except OSError:
        return False

    facts = _git("-c", "log.showSignature=false", "log", "-1", "--no-notes",
                f"--format={COMMIT_FACTS_FORMAT}", "HEAD")
    if facts is None or facts.rstrip(b"\n") != expected.rstrip(b"\n"):
        return False
    for name in (STATE_COMMIT, STATE_MESSAGE, NEXT_DECLARATION):
        try:
            os.unlink(os.path.join(gitdir, name))
        except OSError:
            pass
    return True


def _plain_gitdir() -> str | None:
    """`.git` when it is the git dir without asking git, else None. Hooks run at the top of the
    work tree, where it is unless the environment names another one (the same rule as
    install.py's post-commit fast path)."""
    if any(os.environ.get(v) for v in ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR")):
        return None
    return ".git" if os.path.isdir(".git") else None


def _start_commit_reads() -> None:
    """prepare-commit-msg's first git processes run while its modules import (git/env.py)."""
    from provenance.record.hookstate import NOTES_CONFIGURED, skip_requested

    if skip_requested(os.environ):
        return
    from provenance.git import env

    # Where the notes configuration is not marked as set, the hook sets it before it reads the
    # configuration: then that read waits for it.
    gitdir = _plain_gitdir()
    env.start_commit_reads(
        config=gitdir is not None and os.path.exists(os.path.join(gitdir, NOTES_CONFIGURED)))


# The hooks every commit waits for. Once one has returned, the process has nothing left to do.
_COMMIT_HOOKS = ("prepare-commit-msg", "commit-msg", "post-commit")


def _end_process(code: int) -> NoReturn:
    """Exit without the interpreter's clean-up: freeing every module (and cryptography's and
    OpenSSL's own clean-up) costs each commit several milliseconds. The commit hooks write their
    files with `with` blocks or whole-file writes and start no threads, so nothing is pending but
    the standard streams, flushed here."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """The `git-provenance` command. Without `argv` it owns the process (the console script, the
    hook scripts): a commit hook then ends it at once when done (`_end_process`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and args[0] == "hook" and not args[1].startswith("-"):
        if _nothing_changed(args[1], args[2:]):
            return 0
        if args[1] == "prepare-commit-msg":
            _start_commit_reads()
        from provenance import hashes
        from provenance.errors import error_handler

        if args[1] in _COMMIT_HOOKS:
            hashes.use_builtin()  # a commit hashes a few kilobytes: no libcrypto to load
        from provenance.git import env
        from provenance.record import hooks

        with error_handler():
            try:
                code = hooks.run_hook(args[1], args[2:], os.environ)
            finally:
                env.forget_started()
        if argv is None and args[1] in _COMMIT_HOOKS:
            _end_process(code)
        return code
    from provenance.cli import cli

    return int(cli.main(args=args, prog_name="git-provenance", standalone_mode=True) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
