"""Console entry point. Hooks are dispatched before click is imported: commits wait on them."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def _nothing_changed(hook_type: str, args: Sequence[str]) -> bool:
    """The fast paths of install.py's shell hooks, for routes that call Python directly (pre-commit).

    True when prepare-commit-msg's recorded work is intact, so the full check can be skipped.
    Only the standard library's cheapest modules: this runs on every commit.
    """
    if hook_type not in ("commit-msg", "post-commit") or os.environ.get("PROVENANCE_SKIP"):
        return False
    import subprocess

    from provenance.hookstate import COMMIT_FACTS_FORMAT, NEXT_DECLARATION, STATE_COMMIT, STATE_MESSAGE

    def git(*cmd: str) -> bytes | None:
        proc = subprocess.run(["git", *cmd], capture_output=True)
        return proc.stdout if proc.returncode == 0 else None

    out = git("rev-parse", "--git-dir")
    if out is None:
        return False
    gitdir = out.decode().strip()
    try:
        if hook_type == "commit-msg":
            with open(args[0], "rb") as a, open(os.path.join(gitdir, STATE_MESSAGE), "rb") as b:
                return a.read() == b.read()
        with open(os.path.join(gitdir, STATE_COMMIT), "rb") as f:
            expected = f.read()
    except (OSError, IndexError):
        return False

    facts = git("-c", "log.showSignature=false", "log", "-1", "--no-notes",
                f"--format={COMMIT_FACTS_FORMAT}", "HEAD")
    if facts is None or facts.rstrip(b"\n") != expected.rstrip(b"\n"):
        return False
    for name in (STATE_COMMIT, STATE_MESSAGE, NEXT_DECLARATION):
        try:
            os.unlink(os.path.join(gitdir, name))
        except OSError:
            pass
    return True


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and args[0] == "hook" and not args[1].startswith("-"):
        if _nothing_changed(args[1], args[2:]):
            return 0
        from provenance import hooks
        from provenance.errors import error_handler

        with error_handler():
            return hooks.run_hook(args[1], args[2:], os.environ)
    from provenance.cli import cli

    return int(cli.main(args=args, prog_name="git-provenance", standalone_mode=True) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
