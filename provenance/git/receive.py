"""What git's receive-pack tells a pre-receive hook, and the git it needs to judge a push.

pre-receive runs before any ref moves. The objects of the push wait in a quarantine directory:
git exports it as GIT_OBJECT_DIRECTORY (and GIT_QUARANTINE_PATH), with the repository's own
objects as GIT_ALTERNATE_OBJECT_DIRECTORIES, and deletes it when the hook refuses. Every git this
tool starts inherits these variables (git/env.py `_env` keeps them, pinned runs too), so the audit
sees the pushed commits and notes. `read_only_objects` makes sure that nothing the hook runs
writes an object where it would stay: into the quarantine, which git moves into the repository
with an accepted push, or into the repository itself.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from provenance.git import git


class RefUpdate(NamedTuple):
    """One `<old> <new> <ref>` line of pre-receive's input."""

    old: str
    new: str
    ref: str

    @property
    def created(self) -> bool:
        return is_null(self.old)

    @property
    def deleted(self) -> bool:
        return is_null(self.new)


def is_null(oid: str) -> bool:
    return not oid.strip("0")


def parse_updates(text: str) -> list[RefUpdate]:
    """pre-receive's stdin; a line that is not three fields is git's to worry about, not ours."""
    updates = []
    for line in text.splitlines():
        parts = line.split(" ")
        if len(parts) == 3 and all(parts):
            updates.append(RefUpdate(*parts))
    return updates


@contextlib.contextmanager
def read_only_objects(cwd: str | Path | None = None) -> Iterator[None]:
    """While inside, every git this process starts reads the push's quarantine and the
    repository's objects but writes new objects into a scratch directory, removed on exit
    (git/merges.py's, which an automatic merge recomputed by the audit writes into anyway): an
    accepted push adds exactly what was pushed."""
    from provenance.git import merges  # deferred: only a server's hook comes here

    with merges.scratch_objects(cwd) as env:
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


# ---- what the hook asks about refs and commits ------------------------------------------------


def is_commit(oid: str, cwd: str | Path | None = None) -> bool:
    return git.run(["cat-file", "-t", oid], cwd=cwd, check=False).strip() == b"commit"


def is_ancestor(old: str, new: str, cwd: str | Path | None = None) -> bool:
    """Whether `new` contains `old`: an update of a branch from one to the other loses nothing."""
    return git.run_ok(["merge-base", "--is-ancestor", old, new], cwd=cwd)


def branch_tips(cwd: str | Path | None = None) -> dict[str, str]:
    """Every branch and its commit, as the repository holds them before the push."""
    out = git.text(["for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/"], cwd=cwd)
    tips = {}
    for line in out.splitlines():
        oid, _, ref = line.partition(" ")
        tips[ref] = oid
    return tips


def head_branch(cwd: str | Path | None = None) -> str | None:
    """The branch HEAD names (a bare repository's default branch), whether it exists or not."""
    ref = git.run(["symbolic-ref", "-q", "HEAD"], cwd=cwd, check=False).decode().strip()
    return ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None


def changed_paths(old: str, new: str, cwd: str | Path | None = None) -> list[tuple[str, str, str]]:
    """(path, old blob, new blob) for every blob that differs between two trees (or commits'
    trees); a null id on the side where the path is absent. No rename detection: a renamed
    file is a deletion and an addition."""
    out = git.run(["diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", old, new], cwd=cwd,
                  pinned=True)
    fields = out.split(b"\0")
    rows = []
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        parts = meta.decode().split()
        if len(parts) == 5:
            rows.append((path.decode("utf-8", "surrogateescape"), parts[2], parts[3]))
    return rows


def blobs(ids: Sequence[str], cwd: str | Path | None = None) -> dict[str, bytes]:
    return git.read_blobs([i for i in ids if not is_null(i)], cwd=cwd)
