"""Commits for the forge builders' tests, made with plumbing and independent of the builders."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from forges.plumbing import Identity, Stamp

ALICE = Identity("Alice Example", "alice@example.com")
BOB = Identity("Bob Example", "bob@example.org")
MAINTAINER = Identity("Mia Maintainer", "mia@example.net")
T0 = 1_700_000_000


def git(repo: Path, *args: str, env: dict[str, str] | None = None, input: bytes | None = None) -> str:
    e = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", LC_ALL="C")
    if env:
        e.update(env)
    p = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, env=e, input=input, check=False)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode().strip()


def commit(
    repo: Path,
    parents: list[str],
    files: dict[str, str],
    message: bytes | str,
    author: Identity,
    when: Stamp,
    *,
    committer: Identity | None = None,
    cwhen: Stamp | None = None,
    tree: str | None = None,
) -> str:
    """Commit with plumbing: tree = first parent's tree + *files*."""
    if tree is None:
        idx = repo / ".git" / "test-index" if (repo / ".git").exists() else repo / "test-index"
        env = {"GIT_INDEX_FILE": str(idx)}
        if parents:
            git(repo, "read-tree", parents[0] + "^{tree}", env=env)
        else:
            git(repo, "read-tree", "--empty", env=env)
        for path, content in files.items():
            blob = git(repo, "hash-object", "-w", "--stdin", input=content.encode())
            git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git(repo, "write-tree", env=env)
        idx.unlink()
    committer = committer or author
    cwhen = cwhen or when
    args = ["commit-tree", tree]
    for p in parents:
        args += ["-p", p]
    env = {
        "GIT_AUTHOR_NAME": author.name,
        "GIT_AUTHOR_EMAIL": author.email,
        "GIT_AUTHOR_DATE": when.git,
        "GIT_COMMITTER_NAME": committer.name,
        "GIT_COMMITTER_EMAIL": committer.email,
        "GIT_COMMITTER_DATE": cwhen.git,
    }
    msg = message.encode() if isinstance(message, str) else message
    return git(repo, *args, "-F", "-", env=env, input=msg)


def raw(repo: Path, oid: str) -> tuple[dict[str, list[str]], bytes]:
    out = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "commit", oid], capture_output=True, check=True
    ).stdout
    head, _, msg = out.partition(b"\n\n")
    hdr: dict[str, list[str]] = {}
    for line in head.decode().split("\n"):
        if line.startswith(" "):
            continue
        k, _, v = line.partition(" ")
        hdr.setdefault(k, []).append(v)
    return hdr, msg


def show(repo: Path, rev: str, path: str) -> str:
    return git(repo, "show", f"{rev}:{path}")


def base_repo(repo: Path) -> str:
    """main: one commit with a 7-line file."""
    b = commit(
        repo, [], {"f.txt": "1\n2\n3\n4\n5\n6\n7\n", "README": "hi\n"}, "init\n", MAINTAINER, Stamp(T0)
    )
    git(repo, "update-ref", "refs/heads/main", b)
    return b


def pr_two_authors(repo: Path, base: str) -> list[str]:
    """A PR with three commits by two authors (Bob's carries a trailer)."""
    c1 = commit(
        repo, [base], {"a.txt": "a\n"}, "Add a\n\nLonger explanation.\n", ALICE, Stamp(T0 + 100, "+0200")
    )
    c2 = commit(
        repo,
        [c1],
        {"b.txt": "b\n"},
        "Add b\n\nSigned-off-by: Bob Example <bob@example.org>\n",
        BOB,
        Stamp(T0 + 200, "-0500"),
    )
    c3 = commit(repo, [c2], {"a.txt": "a2\n"}, "Fix a\n", ALICE, Stamp(T0 + 300, "+0200"))
    git(repo, "update-ref", "refs/heads/feature", c3)
    return [c1, c2, c3]


# --------------------------------------------------------------------------
# GitHub squash


def new_repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(r)], check=True)
    return r


def nearby_edits(repo: Path) -> tuple[str, str]:
    """main changes line 1, the PR changes line 3 (one untouched line between)."""
    base = base_repo(repo)
    pr = commit(repo, [base], {"f.txt": "1\n2\nthree\n4\n5\n6\n7\n"}, "PR: line 3\n", BOB, Stamp(T0 + 10))
    main = commit(repo, [base], {"f.txt": "one\n2\n3\n4\n5\n6\n7\n"}, "main: line 1\n", ALICE, Stamp(T0 + 20))
    git(repo, "update-ref", "refs/heads/main", main)
    git(repo, "update-ref", "refs/heads/bob/feature", pr)
    return main, pr
