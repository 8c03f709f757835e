"""Rule globs that match no tracked file: a typo (`service/payments/**` for `services/...`) makes a
rule protect nothing, silently. `init`, `doctor` and the audit warn; a rule's `future-paths` names
the globs that are meant to match nothing yet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from provenance.git import git
from provenance.policy.gitlink import directory_glob
from provenance.policy.schema import Policy, _compile_glob
from provenance.wire.patch import tree_files

CODE = "unmatched-glob"


class UnmatchedGlob(NamedTuple):
    rule: str
    glob: str
    rev: str  # the revision whose files were looked at

    def message(self) -> str:
        return (f"rule {self.rule!r}: {self.glob!r} matches no tracked file at {self.rev}, so it "
                "protects nothing (a typo? a path still to come goes in the rule's future-paths)")

    def to_doc(self) -> dict[str, str]:
        """The JSON report's form (docs/audit-json.md, `warnings`)."""
        return {"code": CODE, "rule": self.rule, "glob": self.glob, "message": self.message()}


_NAMED_GROUP = re.compile(r"\(\?P<[^>]*>")


def _joined(regexes: list[re.Pattern[str]]) -> re.Pattern[str] | None:
    """One regex whose group `gN` says which of `regexes` matched a path, for `match` (pathspec's
    `match_file` is a regex's `search`, and gitignore regexes are anchored with `^`), or None when
    they cannot be joined: one match a path, not one a glob."""
    if any("(?P=" in r.pattern or not r.pattern.startswith("^") for r in regexes) \
            or len({r.flags for r in regexes}) > 1:
        return None
    try:
        return re.compile("|".join(f"(?P<g{i}>{_NAMED_GROUP.sub('(?:', r.pattern[1:])})"
                                   for i, r in enumerate(regexes)), regexes[0].flags)
    except re.error:
        return None


def unmatched(policy: Policy, paths: Iterable[str], rev: str, gitlinks: Sequence[str] = ()
              ) -> list[UnmatchedGlob]:
    """Every rule glob (not listed in its rule's `future-paths`) that matches none of `paths`;
    a path in `gitlinks` is a submodule, matched as its directory (policy/gitlink.py)."""
    pending = {(rule.name, glob): _compile_glob(glob) for rule in policy.rules
               for glob in rule.paths if glob not in rule.future_paths}
    keys = list(pending)
    found = [getattr(p, "regex", None) for p in pending.values()]
    regexes = [r for r in found if isinstance(r, re.Pattern) and isinstance(r.pattern, str)]
    joined = _joined(regexes) if regexes and len(regexes) == len(found) else None
    for path in paths:
        if not keys:
            break
        if joined is None:
            keys = [k for k in keys if pending[k].match_file(path) is None]
            continue
        # A glob matched: drop it and ask again, since the same path may match another one.
        while joined is not None and (m := joined.match(path)) is not None and m.lastgroup:
            del keys[int(m.lastgroup[1:])], regexes[int(m.lastgroup[1:])]
            joined = _joined(regexes) if regexes else None
    if gitlinks and keys:
        keys = [k for k in keys if not any(directory_glob(k[1:], [pending[k]], g) for g in gitlinks)]
    return [UnmatchedGlob(rule, glob, rev) for rule, glob in keys]


class Tracked(NamedTuple):
    paths: list[str]  # the files of a tree, submodules included
    gitlinks: tuple[str, ...]  # the submodules among them


def tracked_paths(rev: str, cwd: str | Path | None = None) -> Tracked | None:
    """The files of `rev`'s tree, or None when `rev` names no commit (an unborn HEAD)."""
    if git.rev_parse(f"{rev}^{{commit}}", cwd=cwd) is None:
        return None
    return Tracked(*tree_files(git.run(["ls-tree", "-r", "-z", "--full-tree", f"{rev}^{{commit}}",
                                        "--"], cwd=cwd)))


def unmatched_at(policy: Policy, rev: str = "HEAD", cwd: str | Path | None = None) -> list[UnmatchedGlob]:
    """`unmatched` against the files of `rev`; nothing to say when `rev` has no commit yet."""
    tracked = tracked_paths(rev, cwd)
    return [] if tracked is None else unmatched(policy, tracked.paths, rev, tracked.gitlinks)
