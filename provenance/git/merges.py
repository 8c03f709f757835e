"""git's automatic merge, recomputed: a merge's own change, and the tree a merge would have.

A merge's own change is its tree against git's automatic merge of its parents (DESIGN §11.1).
Two-parent merges get it from one `git log --remerge-diff` for a whole batch; octopus merges,
which remerge-diff skips, from `merge-tree --write-tree` folded over their parents. Every command
here writes objects (the automatic merge's trees and blobs), so each runs with a scratch object
directory that has the repository's objects as an alternate, removed afterwards: an audit never
writes into the audited repository (read-only CI checkouts, a server's quarantine).

Only bytes here: what the raw lines and patches mean is the wire format's (`wire/patch.py`).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.git.env import _env, _spawn

# What changes git's automatic merge (merge-recursive.c `merge_recursive_config`, read by ort),
# pinned to git's defaults: user or system config must not move a merge's own change. Attributes
# (merge drivers, conflict-marker-size) are out already: pinned runs use the neutral git dir.
# `core.abbrev=no`: remerge-diff labels conflict markers "%h (%s)" of each parent, and an
# abbreviation's length grows with the repository.
MERGE_CONFIG: tuple[str, ...] = (
    "-c", "merge.renames=true", "-c", "merge.directoryRenames=conflict",
    "-c", "merge.renameLimit=7000", "-c", "diff.renameLimit=7000",
    "-c", "merge.renormalize=false", "-c", "merge.conflictStyle=merge",
    "-c", "merge.verbosity=2", "-c", "core.abbrev=no",
)
_MARK = b"\x00\x00M "
_FORMAT = "--format=%x00%x00M %H %P"
# Probe commits fold an octopus merge's parents: a fixed identity, so that equal folds are one
# object (and the fold's conflict labels, the commit ids, are the same on every machine).
_IDENT = {
    "GIT_AUTHOR_NAME": "git-provenance", "GIT_AUTHOR_EMAIL": "probe@git-provenance.invalid",
    "GIT_AUTHOR_DATE": "@0 +0000", "GIT_COMMITTER_NAME": "git-provenance",
    "GIT_COMMITTER_EMAIL": "probe@git-provenance.invalid", "GIT_COMMITTER_DATE": "@0 +0000",
}


class OwnChange(NamedTuple):
    """What a merge's tree adds beyond git's automatic merge of its parents, as git prints it."""

    raw: bytes  # `--raw` lines (full ids): one a path that differs; empty for a clean merge
    patch: bytes  # the pinned patch from the automatic merge to the merge's tree


@contextlib.contextmanager
def scratch_objects(cwd: str | Path | None = None) -> Iterator[dict[str, str]]:
    """The environment of git commands that write objects only for themselves: a temporary object
    directory whose alternates are the repository's objects (and a quarantine's, during a
    server's pre-receive), removed on exit."""
    import shutil  # deferred: hooks reach this only for a merge
    import tempfile

    alternates = [os.environ.get("GIT_OBJECT_DIRECTORY", ""),
                  *os.environ.get("GIT_ALTERNATE_OBJECT_DIRECTORIES", "").split(os.pathsep),
                  str(git.common_dir(cwd) / "objects")]
    scratch = tempfile.mkdtemp(prefix="git-provenance-objects-")
    try:
        yield {"GIT_OBJECT_DIRECTORY": scratch,
               "GIT_ALTERNATE_OBJECT_DIRECTORIES": os.pathsep.join(a for a in alternates if a)}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def own_changes(ids: Sequence[str] | bytes, cwd: str | Path | None = None, *,
                newest_first: bool = False) -> dict[str, OwnChange]:
    """The own change of every merge among `ids` (resolved commit ids, or their `ID\\n` lines)
    in a topological order: parents first, as the walk lists them, or children first with
    `newest_first`. The other commits are left out. One `git log --remerge-diff` for them all,
    one `merge-tree` a parent beyond the first for each octopus merge.

    remerge-diff is fed children first: git 2.39's `log` frees the parent list of each commit it
    has shown, so a merge shown after one of its ancestors computes its merge base on a cut
    history and gets a wrong automatic merge (git 2.48 keeps them for --remerge-diff)."""
    listed = ids.decode().split() if isinstance(ids, bytes) else list(ids)
    if not listed:
        return {}
    lines = "".join(i + "\n" for i in (listed if newest_first else reversed(listed))).encode()
    found: dict[str, OwnChange] = {}
    octopus: list[list[str]] = []
    with scratch_objects(cwd) as env:
        out = git.run([*git.PINNED_DIFF_CONFIG, *MERGE_CONFIG, *git.BOUNDED_MEMORY_CONFIG, "log",
                       "--no-walk=unsorted", "--stdin", "--merges", "--remerge-diff", "--raw",
                       "-p", *git.PINNED_DIFF_OPTIONS, "--no-abbrev", _FORMAT],
                      cwd=cwd, input=lines, env=env, pinned=True)
        for record in out.split(_MARK)[1:]:
            header, _, body = record.partition(b"\n")
            sha, *parents = header.decode().split()
            if len(parents) > 2:  # "Skipping remerge-diff for octopus merges": nothing printed
                octopus.append([sha, *parents])
            else:
                found[sha] = _split(body)
        for sha, *parents in octopus:
            found[sha] = _octopus(sha, parents, cwd, env)
    return found


def _split(body: bytes) -> OwnChange:
    """`--raw` lines, then the patch (each preceded by a blank line when present)."""
    at = body.find(b"\ndiff --")
    raw, patch = (body, b"") if at < 0 else (body[:at + 1], body[at + 1:])
    return OwnChange(raw.strip(b"\n") + b"\n" if raw.strip(b"\n") else b"", patch)


def _octopus(sha: str, parents: Sequence[str], cwd: str | Path | None,
             env: Mapping[str, str]) -> OwnChange:
    """An octopus merge against its parents folded one at a time by `merge-tree --write-tree`:
    what `git merge A B C` does (its octopus strategy merges one head after another)."""
    ours, tree = parents[0], ""
    for theirs in parents[1:]:
        tree = auto_merge(ours, theirs, cwd, env)[0]
        ours = git.run(["commit-tree", "--no-gpg-sign", tree, "-p", ours, "-p", theirs],
                       cwd=cwd, input=b"octopus fold\n", env={**env, **_IDENT},
                       pinned=True).decode().strip()
    out = git.run([*git.PINNED_DIFF_CONFIG, "diff-tree", "-r", "--raw", "-p",
                   *git.PINNED_DIFF_OPTIONS, "--no-abbrev", tree, sha],
                  cwd=cwd, env=env, pinned=True)
    return _split(b"\n" + out)


def auto_merge(ours: str, theirs: str, cwd: str | Path | None, env: Mapping[str, str]
               ) -> tuple[str, bool]:
    """(the tree of git's automatic merge of two commits, whether it merged cleanly). They are
    ids: it runs in the neutral git dir. Its objects go where `env` (`scratch_objects`) says; a
    conflicted merge's tree holds the conflict markers."""
    args = [*MERGE_CONFIG, "merge-tree", "--write-tree", "--no-messages", ours, theirs]
    status, out, err = _spawn(args, cwd=cwd, env=_env(
        {**env, "GIT_DIR": git.neutral_dir(cwd)}, pinned=True))
    tree = out.split(b"\n", 1)[0].decode().strip()
    if status not in (0, 1) or not _OID.fullmatch(tree):
        detail = err.decode(errors="replace").strip().splitlines()
        raise ProvenanceError(f"git merge-tree failed: {detail[-1] if detail else status}")
    return tree, status == 0


def merged_tree(ours: str, theirs: str, cwd: str | Path | None = None) -> tuple[str, bool]:
    """`auto_merge` in a scratch object directory of its own (merge-tree's exit status, not
    only its output, tells a conflict)."""
    with scratch_objects(cwd) as env:
        return auto_merge(ours, theirs, cwd, env)


_OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
