"""The commit being made, or just made: the change its declaration must be valid for.

Computed from what git hands a hook (the index, MERGE_HEAD, the rebase state, the process tree),
or from a finished commit; used by the hooks and by the commands that sign after the fact.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from provenance.git import git
from provenance.record import sources
from provenance.records import NamedTuple
from provenance.wire import digest as digest_mod

TYPE_CHECKING = False  # not typing's: a commit hook imports this module (provenance/records.py)
if TYPE_CHECKING:
    from pathlib import Path  # not at run time: the commit hooks read their files with `open`

POLICY_FILE = ".provenance.toml"  # same as policy.POLICY_FILE; not imported to keep hooks lean


class Change(NamedTuple):
    """The commit being made (or just made): what its declaration must be valid for."""

    digest: str
    author_name: str
    author_email: str
    policy_blob: str | None
    # Commits this one replaces or absorbs (amend, fixup, squash, `merge --squash`).
    folded: tuple[str, ...] = ()
    tree: str = ""  # what the commit will record (pending changes only)
    parents: tuple[str, ...] = ()


def _read_lines(path: str) -> list[str]:
    try:
        with open(path) as f:
            return [ln.strip() for ln in f.read().splitlines() if ln.strip()]
    except OSError:
        return []


def in_sequencer(gitdir: str) -> bool:
    """A rebase, cherry-pick or revert is replaying commits (its picks run prepare-commit-msg)."""
    return any(os.path.exists(os.path.join(gitdir, n)) for n in
               ("rebase-merge", "rebase-apply", "CHERRY_PICK_HEAD", "REVERT_HEAD", "sequencer"))


def _process_says_amend() -> bool:
    """True when an ancestor process is `git commit --amend` (git tells hooks nothing about -m amends)."""
    pid = os.getppid()
    for _ in range(12):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            return False
        if b"commit" in args and any(a.startswith(b"--amen") for a in args):
            return True
        pid = int(stat.rsplit(b")", 1)[1].split()[1])
        if pid <= 1:
            return False
    return False


def _policy_blob(tree: str, first_parent: str | None, cwd: str | Path | None = None) -> str | None:
    """The new policy blob id when the commit changes the policy file, else None."""
    names = [f"{tree}:{POLICY_FILE}"] + ([f"{first_parent}:{POLICY_FILE}"] if first_parent else [])
    out = git.text(["cat-file", "--batch-check=%(objectname)"], cwd=cwd,
                   input="\n".join(names).encode() + b"\n")
    ids = [ln if not ln.endswith(" missing") else None for ln in out.splitlines()]
    new, old = ids[0], (ids[1] if len(ids) > 1 else None)
    if new == old:
        return None
    return new if new is not None else "0" * 40


def _author(gitdir: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """The author of the commit in progress.

    A replay (rebase, cherry-pick) keeps the replayed commit's author, whatever the environment
    says; git exports GIT_AUTHOR_* only for `git commit` itself.
    """
    try:
        with open(os.path.join(gitdir, "rebase-merge", "author-script"),
                  errors="surrogateescape") as f:
            script: str | None = f.read()
    except OSError:
        script = None
    if script is not None:
        values: dict[str, str] = {}
        for line in script.splitlines():
            key, _, val = line.partition("=")
            values[key] = val.strip().strip("'").replace("'\\''", "'")
        if values.get("GIT_AUTHOR_EMAIL"):
            return values.get("GIT_AUTHOR_NAME", ""), values["GIT_AUTHOR_EMAIL"]
    if os.path.exists(os.path.join(gitdir, "CHERRY_PICK_HEAD")) \
            and not os.path.exists(os.path.join(gitdir, "MERGE_HEAD")):
        out = git.text(["log", "-1", "--format=%an%x00%ae", "CHERRY_PICK_HEAD"])
        name, _, email = out.partition("\0")
        return name, email
    if environ.get("GIT_AUTHOR_EMAIL"):
        return environ.get("GIT_AUTHOR_NAME", ""), environ["GIT_AUTHOR_EMAIL"]
    ident = git.text(["var", "GIT_AUTHOR_IDENT"])
    name, _, rest = ident.partition(" <")
    return name, rest.partition(">")[0]


_ASK_GIT = "?"


def pending_change(source: str | None, environ: Mapping[str, str], head: str | None = _ASK_GIT) -> Change:
    """The change `git commit` is about to record, computed from the index it will commit.

    `head`: HEAD's id (None: unborn) when the caller has just asked git for it.
    """
    if head == _ASK_GIT:
        head = git.head()
    gitdir = git.dirs()[0]
    # `fixup <id>` / `squash <id>` lines: what this step of an interactive rebase folds in.
    fixups = tuple(
        ln.split()[-1] for ln in _read_lines(os.path.join(gitdir, "rebase-merge", "current-fixups"))
        if len(ln.split()) > 1
    )
    merge_heads = _read_lines(os.path.join(gitdir, "MERGE_HEAD"))
    squashed = () if merge_heads else sources.squashed(gitdir)
    # commit-msg is told no source at all, so it must look for --amend too.
    amending = head is not None and (
        bool(fixups) or (source in ("commit", "message", None) and _process_says_amend())
    )
    parents: list[str]
    if amending and head is not None:
        parents = git.text(["rev-parse", f"{head}^@"]).split()
    elif merge_heads and head is not None:
        parents = [head, *merge_heads]
    else:
        parents = [head] if head else []
    tree = git.write_tree()
    name, email = _author(gitdir, environ)
    patch = digest_mod.pending_patch(tree, parents)
    # The patch answers `_policy_blob` without another git process, except for merges and oddities.
    known, policy_blob = digest_mod.blob_change(patch, POLICY_FILE) if len(parents) < 2 else (False, None)
    return Change(
        digest=digest_mod.digest_of_bytes(patch),
        author_name=name,
        author_email=email.lower(),
        policy_blob=policy_blob if known else _policy_blob(tree, parents[0] if parents else None),
        # Nothing downgrades yes: what the commit replaces is OR-ed into its declaration.
        folded=((*fixups, head) if amending and head is not None else fixups) + squashed,
        tree=tree,
        parents=tuple(parents),
    )


def committed_change(commit: str, cwd: str | Path | None = None) -> Change:
    out = git.text(["log", "-1", "--format=%an%x00%ae%x00%T%x00%P", commit], cwd=cwd)
    name, email, tree, parents = out.split("\0")
    first = parents.split()[0] if parents else None
    return Change(
        digest=digest_mod.of_commit(commit, cwd=cwd, parents=parents.split()),
        author_name=name,
        author_email=email.lower(),
        policy_blob=_policy_blob(tree, first, cwd),
    )
