"""A submodule as the rules see it: the gitlink at P is the directory P, whose files the audit
cannot see (they live in another repository, and a bump may change any of them).

A glob matches the gitlink at P when it matches the directory `P/` as gitignore would (`P/`,
`P/**`, `**/P/`, a parent directory, or P's name), or when it could match a path inside it
(`P/src/*.c`, `*.c`). The names stay git's (`P`, as the digest reads them); only the match sees a
directory. See docs/policy.md, "Submodules".
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import pathspec


def directory_glob(globs: Sequence[str], patterns: Sequence[pathspec.Pattern], path: str
                   ) -> str | None:
    """The first of `globs` (compiled as `patterns`) that matches the gitlink at `path`."""
    directory = path + "/"
    for glob, pattern in zip(globs, patterns, strict=True):
        if pattern.match_file(directory) is not None or reaches_into(glob, path):
            return glob
    return None


def reaches_into(glob: str, directory: str) -> bool:
    """Whether `glob` (gitignore semantics) can match some path strictly inside `directory`.

    The glob is read as segments, and `directory`'s names are matched segment by segment: a
    `**` matches any number of names (none too); segments left over once the names are used up
    can match a name inside."""
    core = glob.rstrip("/")
    if "/" in core:  # a slash at the start or in the middle anchors the glob at the root
        segments = core.removeprefix("/").split("/")
    else:  # no slash but a trailing one: a name at any depth
        segments = ["**", core]
    states = _closure(segments, {0})
    for name in directory.strip("/").split("/"):
        after = set()
        for i in states:
            if i < len(segments):
                if segments[i] == "**":
                    after.add(i)
                elif _segment(segments[i]).match_file(name) is not None:
                    after.add(i + 1)
        states = _closure(segments, after)
        if not states:
            return False
    return any(i < len(segments) for i in states)


def _closure(segments: list[str], states: set[int]) -> set[int]:
    """`**` also matches no name at all."""
    out = set(states)
    todo = list(states)
    while todo:
        i = todo.pop()
        if i < len(segments) and segments[i] == "**" and i + 1 not in out:
            out.add(i + 1)
            todo.append(i + 1)
    return out


@functools.lru_cache(maxsize=1024)
def _segment(segment: str) -> pathspec.Pattern:
    """One segment's wildcard, matched against one name."""
    return pathspec.GitIgnoreSpec.from_lines(["/" + segment]).patterns[0]
