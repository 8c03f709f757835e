"""Test support: what code forges write when they land a request, reproduced with real git.

`forges.plumbing` holds the commit data and the git plumbing the builders share, and the refs a
forge keeps for a request's head; `forges.github` and `forges.gitlab` build what each forge
writes for each landing method. Every rule, and where it comes from (documentation, source code,
or commits measured in public repositories), is in docs/landing.md's sources section and in the
docstrings here. Copies are unsigned: a forge's own `gpgsig` cannot be reproduced; tree,
parents, author, committer, dates and message bytes are written as the forge writes them.
Refs move only by compare-and-swap `update-ref`, so they never move on error. git >= 2.38.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from typing import NamedTuple


class Identity(NamedTuple):
    """A git identity: ``Name <email>``."""

    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class Stamp(NamedTuple):
    """A git timestamp: seconds since the epoch and a ``+hhmm`` offset."""

    seconds: int
    tz: str = "+0000"

    @property
    def git(self) -> str:
        """The raw form git accepts in ``GIT_*_DATE`` and writes in objects."""
        return f"{self.seconds} {self.tz}"


class CommitInfo(NamedTuple):
    """The parts of a commit object this module reads or writes."""

    oid: str
    tree: str
    parents: tuple[str, ...]
    author: Identity
    author_when: Stamp
    committer: Identity
    committer_when: Stamp
    message: bytes
    signed: bool


GITHUB = Identity("GitHub", "noreply@github.com")
"""Committer of GitHub squash / merge commits (the "web-flow" identity)."""

GITLAB = Identity("GitLab", "noreply@gitlab.com")
"""Committer GitLab uses when web-commit signing is on (GitLab.com, 17.x+)."""


class ForgeError(RuntimeError):
    """A forge would refuse this merge."""


class MergeConflict(ForgeError):
    """``git merge-tree`` (or a cherry-pick) reported conflicts."""


class NotFastForward(ForgeError):
    """The method needs the target to be an ancestor of the source."""


# ---- git plumbing --------------------------------------------------------------------------------

_QUIET_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
}


def git(
    repo: str | os.PathLike[str],
    *args: str,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    full_env = dict(os.environ)
    full_env.update(_QUIET_ENV)
    if env:
        full_env.update(env)
    proc = subprocess.run(
        ["git", "-C", os.fspath(repo), "-c", "commit.gpgSign=false", *args],
        input=input,
        capture_output=True,
        env=full_env,
        check=False,
    )
    if check and proc.returncode != 0:
        raise ForgeError(
            f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace').strip()}"
        )
    return proc


def out(repo: str | os.PathLike[str], *args: str) -> str:
    return git(repo, *args).stdout.decode().strip()


def full_ref(ref: str) -> str:
    """``main`` -> ``refs/heads/main``; full ref names are kept."""
    if ref.startswith("refs/") or ref == "HEAD":
        return ref
    return f"refs/heads/{ref}"


def resolve(repo: str | os.PathLike[str], rev: str) -> str:
    """Resolve a branch name, ref or object name to a commit id."""
    for cand in (full_ref(rev), rev) if not rev.startswith("refs/") else (rev,):
        proc = git(repo, "rev-parse", "--verify", "--quiet", f"{cand}^{{commit}}", check=False)
        if proc.returncode == 0:
            return proc.stdout.decode().strip()
    raise ForgeError(f"cannot resolve {rev!r}")


_IDENT = re.compile(rb"^(.*) <(.*)> (-?\d+) ([+-]\d{4})$")


def _ident(raw: bytes) -> tuple[Identity, Stamp]:
    m = _IDENT.match(raw)
    if not m:
        raise ForgeError(f"unparsable identity {raw!r}")
    return (
        Identity(m.group(1).decode(), m.group(2).decode()),
        Stamp(int(m.group(3)), m.group(4).decode()),
    )


def read_commit(repo: str | os.PathLike[str], rev: str) -> CommitInfo:
    """Parse ``git cat-file commit`` of *rev*; the message is returned as bytes."""
    oid = resolve(repo, rev)
    raw = git(repo, "cat-file", "commit", oid).stdout
    head, _, message = raw.partition(b"\n\n")
    tree = ""
    parents: list[str] = []
    author = committer = None
    signed = False
    for line in head.split(b"\n"):
        if line.startswith(b" "):
            continue
        key, _, value = line.partition(b" ")
        if key == b"tree":
            tree = value.decode()
        elif key == b"parent":
            parents.append(value.decode())
        elif key == b"author":
            author = _ident(value)
        elif key == b"committer":
            committer = _ident(value)
        elif key in (b"gpgsig", b"gpgsig-sha256"):
            signed = True
    assert author and committer
    return CommitInfo(
        oid, tree, tuple(parents), author[0], author[1], committer[0], committer[1], message, signed
    )


def merge_tree(repo: str | os.PathLike[str], ours: str, theirs: str) -> str:
    """``git merge-tree --write-tree ours theirs`` -> tree id (raises on conflict)."""
    proc = git(
        repo,
        "merge-tree",
        "--write-tree",
        "--no-messages",
        resolve(repo, ours),
        resolve(repo, theirs),
        check=False,
    )
    first = proc.stdout.decode().split("\n", 1)[0].strip()
    if proc.returncode == 1:
        raise MergeConflict(f"merging {theirs} into {ours} conflicts")
    if proc.returncode != 0 or not first:
        raise ForgeError(f"git merge-tree failed: {proc.stderr.decode(errors='replace').strip()}")
    return first


def commit_tree(
    repo: str | os.PathLike[str],
    tree: str,
    parents: Sequence[str],
    message: bytes,
    *,
    author: Identity,
    author_when: Stamp,
    committer: Identity,
    committer_when: Stamp,
) -> str:
    """``git commit-tree -F -``: the message bytes are stored verbatim."""
    args = ["commit-tree", "--no-gpg-sign", tree]
    for p in parents:
        args += ["-p", p]
    args += ["-F", "-"]
    env = {
        "GIT_AUTHOR_NAME": author.name,
        "GIT_AUTHOR_EMAIL": author.email,
        "GIT_AUTHOR_DATE": author_when.git,
        "GIT_COMMITTER_NAME": committer.name,
        "GIT_COMMITTER_EMAIL": committer.email,
        "GIT_COMMITTER_DATE": committer_when.git,
    }
    return git(repo, *args, env=env, input=message).stdout.decode().strip()


def update_ref(repo: str | os.PathLike[str], ref: str, new: str, old: str | None, reason: str) -> None:
    args = ["update-ref", "-m", reason, full_ref(ref), new]
    if old is not None:
        args.append(old)
    git(repo, *args)


def is_ancestor(repo: str | os.PathLike[str], a: str, b: str) -> bool:
    return git(repo, "merge-base", "--is-ancestor", a, b, check=False).returncode == 0


def merge_base(repo: str | os.PathLike[str], a: str, b: str) -> str:
    return out(repo, "merge-base", a, b)


def commits_between(repo: str | os.PathLike[str], base: str, head: str, *, merges: bool) -> list[CommitInfo]:
    """Commits of ``base..head``, oldest first (GitHub: "in date order")."""
    args = ["rev-list", "--reverse", "--date-order"]
    if not merges:
        args.append("--no-merges")
    args.append(f"{base}..{head}")
    return [read_commit(repo, oid) for oid in out(repo, *args).split()]


# ---- replaying commits (rebase-merge) -----------------------------------------------------------


class _Worktree:
    """A detached throw-away worktree (removed on exit)."""

    def __init__(self, repo: str | os.PathLike[str], start: str) -> None:
        self.repo = repo
        self.start = start
        self.path = ""

    def __enter__(self) -> str:
        self.path = tempfile.mkdtemp(prefix="forges-wt-")
        git(self.repo, "worktree", "add", "--quiet", "--detach", self.path, self.start)
        return self.path

    def __exit__(self, *exc: object) -> None:
        git(self.repo, "worktree", "remove", "--force", self.path, check=False)
        shutil.rmtree(self.path, ignore_errors=True)
        git(self.repo, "worktree", "prune", check=False)


def _cherry_pick_tree(wt: str, commit: CommitInfo) -> str:
    """Apply *commit* onto the worktree's HEAD with ``git cherry-pick
    --no-commit`` (3-way, base = the commit's parent) and return the tree."""
    proc = git(
        wt,
        "-c",
        "user.name=forges",
        "-c",
        "user.email=forges@invalid",
        "cherry-pick",
        "--no-commit",
        "--allow-empty",
        "--keep-redundant-commits",
        commit.oid,
        check=False,
    )
    if proc.returncode != 0:
        git(wt, "cherry-pick", "--abort", check=False)
        git(wt, "reset", "--hard", "--quiet", check=False)
        detail = proc.stderr.decode(errors="replace").strip()
        raise MergeConflict(f"cherry-pick of {commit.oid} conflicts: {detail}")
    return out(wt, "write-tree")


def replay(
    repo: str | os.PathLike[str],
    onto: str,
    commits: Sequence[CommitInfo],
    *,
    committer: Identity,
    when: Stamp,
) -> list[str]:
    """Re-apply *commits* on *onto*; each keeps its author line and message
    bytes, the committer becomes *committer* at *when*."""
    new_ids: list[str] = []
    with _Worktree(repo, onto) as wt:
        tip = onto
        for c in commits:
            tree = _cherry_pick_tree(wt, c)
            tip = commit_tree(
                repo,
                tree,
                [tip],
                c.message,
                author=c.author,
                author_when=c.author_when,
                committer=committer,
                committer_when=when,
            )
            git(wt, "reset", "--hard", "--quiet", tip)
            new_ids.append(tip)
    return new_ids


# ---- request heads -------------------------------------------------------------------------------


def request_head_ref(number: int, forge: str) -> str:
    """``refs/pull/N/head`` (GitHub, Gitea, Forgejo) or
    ``refs/merge-requests/N/head`` (GitLab)."""
    forge = forge.lower()
    if forge in ("github", "gitea", "forgejo"):
        return f"refs/pull/{number}/head"
    if forge == "gitlab":
        return f"refs/merge-requests/{number}/head"
    raise ValueError(f"unknown forge {forge!r}")


def publish_request_head(repo: str | os.PathLike[str], number: int, head: str, forge: str) -> str:
    """Write the read-only ref a forge keeps for a request's head; returns
    the ref name."""
    ref = request_head_ref(number, forge)
    git(repo, "update-ref", "-m", f"{forge} request {number}", ref, resolve(repo, head))
    return ref
    return ref
