"""The hooks that run around history rewrites and `git am`: post-rewrite and applypatch-msg."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from provenance.git import git
from provenance.record import change as change_mod
from provenance.record import sources
from provenance.record.declare import decide, read_message, store_correction
from provenance.record.hookstate import skip_requested
from provenance.wire import declaration
from provenance.wire import digest as digest_mod
from provenance.wire.statement import KEY_SIGNATURE


def _message(commit: str) -> str:
    return git.commit_message(commit).decode("utf-8", "surrogateescape")


def _has_cosign(commit: str) -> bool:
    """A co-sign in the commit's trailers or in its note (where `cosign` puts it by default)."""
    from provenance.wire import note

    in_notes = [tuple(ln.split(":", 1)) for ln in note.read(commit) if ":" in ln]
    return any(
        k.strip().lower() == KEY_SIGNATURE.lower() and v.split()[1:2] == ["cosign"]
        for k, v in [*_trailers(commit), *in_notes]
    )


def _went_stale(old: str, new: str) -> bool:
    """The new commit carries a declaration that no longer verifies, or a co-sign over changed content."""
    change = change_mod.committed_change(new)
    declared = declaration.read(_message(new))
    if declared.declare_sigs and declaration.valid_signature(
        declared, change=change.digest, author=change.author_email, policy_blob=change.policy_blob
    ) is None:
        return True
    return _has_cosign(old) and digest_mod.of_commit(old) != change.digest


def _trailers(commit: str) -> list[tuple[str, str]]:
    from provenance.wire import trailers

    return trailers.parse(_message(commit))


def rewrite_pairs(stdin_text: str) -> dict[str, list[str]]:
    """git's `old new [extra]` lines grouped by new commit (squash and fixup map several olds to one)."""
    by_new: dict[str, list[str]] = {}
    for line in stdin_text.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            by_new.setdefault(parts[1], []).append(parts[0])
    return by_new


def post_rewrite(args: Sequence[str], environ: Mapping[str, str]) -> int:
    """OR the declarations of combined commits; list signatures the rewrite made stale."""
    if skip_requested(environ):
        return 0
    pairs = rewrite_pairs(sys.stdin.read() if not sys.stdin.isatty() else "")
    if not pairs:
        # pre-commit does not forward git's old->new pairs: prepare-commit-msg has already
        # OR-ed fixups and amends; `git provenance resign` finds what went stale.
        return 0
    stale: list[str] = []
    for new, olds in pairs.items():
        new_message = _message(new)
        declared = declaration.read(new_message)
        if declared.ai is not True and sources.read(olds).ai:
            change = change_mod.committed_change(new)
            folded = change_mod.Change(change.digest, change.author_name, change.author_email,
                                  change.policy_blob, folded=tuple(olds))
            corrected = decide(new_message, folded, environ)
            if corrected is not None:
                store_correction(new, corrected)
        if len(olds) == 1 and _went_stale(olds[0], new):
            stale.append(new)
    if stale:
        print(f"git-provenance: the rewrite changed {len(stale)} signed change(s); their "
              "signatures are stale:", file=sys.stderr)
        for c in stale:
            print(f"  {git.text(['log', '-1', '--format=%h %s', c])}", file=sys.stderr)
        print("  renew your own declarations with `git provenance resign`; a senior's co-sign "
              "must be renewed by that senior (`git provenance cosign REV`)", file=sys.stderr)
    return 0


def applypatch_msg(args: Sequence[str], environ: Mapping[str, str]) -> int:
    """`git am` runs only this hook, before the patch is applied: the change is not known yet.

    A declaration carried in the patch stays valid when the patch applies with the same content;
    otherwise the commit is reported by the audit and `git provenance declare` fixes it.
    """
    if skip_requested(environ) or not args:
        return 0
    message = read_message(args[0])
    if not declaration.read(message).ai_values:
        print("git-provenance: `git am` commits are not declared by hooks; after applying, run "
              "`git provenance declare HEAD --ai` or `--no-ai`", file=sys.stderr)
    return 0
