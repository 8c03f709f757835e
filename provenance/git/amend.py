"""Re-writing HEAD's message: a corrected declaration or a co-sign in a trailer, on a commit
that is safe to amend (the callers decide that)."""

from __future__ import annotations

from provenance.git.git import run, text

TYPE_CHECKING = False  # not typing's, nor pathlib at run time: the commit hooks import this module
if TYPE_CHECKING:
    from pathlib import Path


def amend_message(commit: str, message: bytes, *, cwd: str | Path | None = None) -> str:
    """Point HEAD at a copy of `commit` (HEAD) with a new message; identities and dates kept."""
    fields = text(
        ["log", "-1", "--format=%T%x00%P%x00%an%x00%ae%x00%ad%x00%cn%x00%ce%x00%cd",
         "--date=raw", commit], cwd=cwd,
    ).split("\0")
    tree, parents = fields[0], fields[1].split()
    env = dict(zip(
        ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE",
         "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE"),
        fields[2:], strict=True,
    ))
    args = ["commit-tree", "--no-gpg-sign", tree]
    for p in parents:
        args += ["-p", p]
    new = run(args, cwd=cwd, input=message, env=env).decode().strip()
    run(["update-ref", "-m", "git-provenance: re-sign declaration", "HEAD", new, commit], cwd=cwd)
    return new
