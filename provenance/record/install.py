"""`install`: put the native hooks in place, chaining hooks that are already there."""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path

from provenance.git import git
from provenance.record.hookstate import (
    COMMIT_FACTS_FORMAT,
    NEXT_DECLARATION,
    NOTES_CONFIGURED,
    STATE_COMMIT,
    STATE_MESSAGE,
)

HOOK_TYPES = (
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "post-rewrite",
    "pre-push",
    "applypatch-msg",
)
STDIN_HOOKS = frozenset({"post-rewrite", "pre-push", "pre-receive"})
MARKER = "# git-provenance hook"
CHAINED_SUFFIX = ".pre-provenance"
NOTES_REF = "refs/notes/provenance"
# A glob naming the same ref: git warns "notes ref ... is invalid" on every amend while a plain
# rewriteRef names a ref that does not exist yet; a glob matching nothing stays silent.
NOTES_REWRITE_REF = "refs/notes/provenanc[e]"
# Notes follow amend and rebase; cat_sort_uniq: attestations from several seniors merge line by
# line, never conflict.
NOTES_CONFIG = (
    ("notes.rewriteRef", NOTES_REWRITE_REF),
    ("notes.rewrite.amend", "true"),
    ("notes.rewrite.rebase", "true"),
    ("notes.provenance.mergeStrategy", "cat_sort_uniq"),
)


# When prepare-commit-msg's work is intact, commit-msg and post-commit need no Python at all
# (a plain commit then pays for one Python start, not three). Anything unexpected falls through
# to the full check. The state files are written by hooks.record_state.
# commit-msg's file is COMMIT_EDITMSG (or MERGE_MSG) in the git dir, so its directory is the git
# dir; post-commit runs at the top of the work tree, where `.git` is the git dir unless GIT_DIR
# or GIT_WORK_TREE say otherwise (git exports neither to hooks by itself). Each saves a
# `git rev-parse`. The same text is the pre-commit route's entry (`precommit_entry`), so it has no
# single quote; main.py's `_nothing_changed` does the same for tools that run `git-provenance hook`.
FAST_PATHS = {
    "commit-msg": f'cmp -s "$1" "${{1%/*}}/{STATE_MESSAGE}" && exit 0\n',
    "post-commit": (
        'if [ -z "${GIT_DIR:-}${GIT_WORK_TREE:-}${GIT_COMMON_DIR:-}" ] && [ -d .git ]; then gitdir=.git; '
        'else gitdir=$(git rev-parse --git-dir 2>/dev/null); fi\n'
        f'[ -n "$gitdir" ] && [ -f "$gitdir/{STATE_COMMIT}" ] &&\n'
        '    [ "$(git -c log.showSignature=false log -1 --no-notes '
        f'--format="{COMMIT_FACTS_FORMAT}" HEAD 2>/dev/null)" = "$(cat "$gitdir/{STATE_COMMIT}")" ] &&\n'
        f'    rm -f "$gitdir/{STATE_COMMIT}" "$gitdir/{STATE_MESSAGE}" "$gitdir/{NEXT_DECLARATION}" '
        '&& exit 0\n'
    ),
}


def precommit_entry(hook_type: str) -> str:
    """The `entry` .pre-commit-hooks.yaml gives a stage (tests/record/test_precommit.py holds them equal).

    pre-commit runs an entry in a new process for each stage; with the fast path in `sh -c`, a plain
    commit starts Python once through pre-commit too, as it does with the native hooks. pre-commit
    appends the message file (commit-msg) or nothing (post-commit) after `$0`, so `"$@"` is what
    the full hook would have been given.
    """
    full = f"git-provenance hook {hook_type}"
    fast = FAST_PATHS.get(hook_type)
    if fast is None:
        return full
    assert "'" not in fast  # the script is single-quoted whole
    return f"sh -c '{fast}exec {full} \"$@\"' git-provenance"


def hook_script(hook_type: str, python: str) -> str:
    """A POSIX sh hook that runs the hook it replaced first, then ours."""
    # `-c` rather than `-m provenance`: runpy's imports cost every commit ~4 ms.
    run_ours = (f"{shlex.quote(python)} -c 'import sys; from provenance.main import main; "
                f"sys.exit(main())' hook {hook_type} \"$@\"")
    chained = f'"$0{CHAINED_SUFFIX}"'
    fast = FAST_PATHS.get(hook_type, "")
    if hook_type in STDIN_HOOKS:
        # Both hooks need git's stdin: keep a copy for each. Alone, ours reads it (three
        # processes fewer for every push).
        body = (
            f'if [ -x {chained} ]; then\n'
            '  input=$(mktemp) || exit 1\n  trap \'rm -f "$input"\' EXIT\n  cat > "$input"\n'
            f'  {chained} "$@" < "$input" || exit $?\n  {run_ours} < "$input"\n'
            f'else\n  exec {run_ours}\nfi\n'
        )
    else:
        body = f'if [ -x {chained} ]; then {chained} "$@" || exit $?; fi\n{fast}exec {run_ours}\n'
    return f"#!/bin/sh\n{MARKER} ({hook_type}); `git provenance install` wrote this file.\n{body}"


def install(cwd: str | Path | None = None, python: str | None = None) -> list[str]:
    """Install every hook; return one line per action for the user."""
    python = python or sys.executable
    hooks_dir = git.hooks_dir(cwd)
    hooks_dir.mkdir(parents=True, exist_ok=True)
    report: list[str] = []
    for hook_type in HOOK_TYPES:
        report += place_hook(hooks_dir / hook_type, hook_script(hook_type, python))
    set_notes_config(cwd)
    report.append(f"set notes.rewriteRef={NOTES_REF} (notes follow amend and rebase)")
    return report


def missing_notes_config(config: dict[str, str]) -> list[str]:
    """The NOTES_CONFIG keys `config` (identity.read_config: keys lower-cased) lacks or sets otherwise."""
    return [key for key, value in NOTES_CONFIG if config.get(key.lower()) != value]


def set_notes_config(cwd: str | Path | None = None) -> None:
    """What every route needs besides the hooks: notes that follow rewrites and merge cleanly."""
    for key, value in NOTES_CONFIG:
        git.config_set(key, value, cwd=cwd)
    (git.git_dir(cwd) / NOTES_CONFIGURED).touch()


def place_hook(path: Path, script: str) -> list[str]:
    """Write one hook; a hook that is not ours moves aside to `NAME.pre-provenance` and runs first."""
    report = []
    if path.exists() and MARKER not in path.read_text(errors="replace"):
        chained = path.with_name(path.name + CHAINED_SUFFIX)
        if chained.exists():
            return [f"kept {path} (and {chained.name} is taken): not installed"]
        os.replace(path, chained)
        report.append(f"chained existing {path.name} (now {chained.name})")
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IRUSR)
    report.append(f"installed {path}")
    return report


def remove_hook(path: Path) -> list[str]:
    """Remove our hook and put the one it chained back."""
    if not (path.exists() and MARKER in path.read_text(errors="replace")):
        return []
    path.unlink()
    chained = path.with_name(path.name + CHAINED_SUFFIX)
    if chained.exists():
        os.replace(chained, path)
    return [f"removed {path}"]


def uninstall(cwd: str | Path | None = None) -> list[str]:
    hooks_dir = git.hooks_dir(cwd)
    return [line for hook_type in HOOK_TYPES for line in remove_hook(hooks_dir / hook_type)]
