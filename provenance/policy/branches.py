"""Which branches are protected, and what of them this clone knows has landed.

The policy's `[enforcement] protected-branches` (names or globs), else each remote's default
branch, `main` and `master`; matched by branch name against local branches and every remote's
remote-tracking branches. A local protected branch counts up to what it shares with its upstream:
a senior's unpushed merge of the branch she reviews, on her own `main`, has not landed (a local
branch without an upstream counts whole).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import NamedTuple

from provenance.git import git
from provenance.policy.schema import Policy

DEFAULT = ("main", "master")


class Protected(NamedTuple):
    patterns: tuple[str, ...]
    refs: tuple[str, ...]  # the protected branches here: full ref names, local and remote-tracking
    landed: tuple[str, ...]  # revisions whose history has landed on them (for `rev-list ^REV`)


def protected(policy: Policy | None, cwd: str | Path | None = None) -> Protected:
    listed = git.text(["for-each-ref", "--format=%(refname)%00%(symref)%00%(upstream)",
                       "refs/heads", "refs/remotes"], cwd=cwd)
    remotes = set(git.text(["remote"], cwd=cwd).split())
    names: dict[str, tuple[str, str]] = {}  # ref -> (branch name, its upstream)
    defaults: list[str] = []
    for line in listed.splitlines():
        ref, symref, upstream = (line.split("\0") + ["", ""])[:3]
        if ref.startswith("refs/heads/"):
            names[ref] = (ref.removeprefix("refs/heads/"), upstream)
            continue
        remote, _, branch = ref.removeprefix("refs/remotes/").partition("/")
        if remote not in remotes or not branch:
            continue
        if symref:  # refs/remotes/R/HEAD: the remote's default branch
            defaults.append(symref.removeprefix(f"refs/remotes/{remote}/"))
        else:
            names[ref] = (branch, "")
    configured = policy.protected_branches if policy is not None else None
    patterns = configured if configured is not None else tuple(dict.fromkeys([*defaults, *DEFAULT]))
    refs = tuple(ref for ref, (name, _) in names.items()
                 if any(fnmatch.fnmatchcase(name, p) for p in patterns))
    landed = []
    for ref in refs:
        upstream = names[ref][1]
        if upstream and upstream in names:
            base = git.text(["merge-base", ref, upstream], cwd=cwd)
            if base:
                landed.append(base)
        else:
            landed.append(ref)
    return Protected(patterns, refs, tuple(dict.fromkeys(landed)))
