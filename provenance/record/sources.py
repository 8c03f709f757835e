"""What the commits a new commit absorbs declared: amend, fixup, squash and `git merge --squash`.

Combining commits ORs their declarations: nothing downgrades yes. git indents what it squashes in
`.git/SQUASH_MSG` (so `AI-Assisted: yes` and `Co-authored-by: Claude` are no trailers of the new
message), and an interactive rebase concatenates messages: the sources are read from the commits
themselves instead, with their notes and their AI fingerprints, in one git process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from provenance.git import git
from provenance.records import NamedTuple
from provenance.wire import declaration

SQUASH_MSG = "SQUASH_MSG"
NOTES_REF = "refs/notes/provenance"
_FIELDS = 5  # id, author name, author email, message, note


# Words every commit fingerprint in fingerprints.toml contains (identities, trailer keys, footer
# lines). Without one, the full check cannot match, so a plain human commit skips compiling the
# table's regexes (~15 ms). Only the hooks take this shortcut: the audit always runs the full
# check, and tests/record/test_hooks.py holds this list to every fingerprint in the real aider
# data and the table.
FINGERPRINT_HINTS = (
    "[bot]", "noreply", "agent", "aider", "anthropic", "claude", "cursor", "openai", "codex",
    "copilot", "devin", "jules", "gemini", "kiro", "all-hands", "openhands", "cosine", "sweep",
    "replit", "generated", "made with", "made-with", "co-authored", "assisted", "synthesized",
    "llm", "opencode", "oz-agent", "warp", "entire-checkpoint",
)


def may_carry_fingerprints(author_name: str, author_email: str, message: str) -> bool:
    haystack = f"{author_name}\n{author_email}\n{message}".lower()
    return any(hint in haystack for hint in FINGERPRINT_HINTS)


class Sources(NamedTuple):
    """The OR of what the absorbed commits declared or show."""

    ai: bool = False
    assisted_by: frozenset[str] = frozenset()
    evidence: tuple[str, ...] = ()  # why `ai`, one entry per commit that says yes


def squashed(gitdir: str) -> tuple[str, ...]:
    """The commits `git merge --squash` listed in SQUASH_MSG (present until the commit is made).

    A SQUASH_MSG left behind by an abandoned squash counts too, as git itself offers it as the
    next commit's message: declaring yes too often is safe, too rarely is not.
    """
    try:
        with open(os.path.join(gitdir, SQUASH_MSG), "rb") as f:
            text = f.read()
    except OSError:
        return ()
    ids = []
    for line in text.split(b"\n"):
        parts = line.split()
        if len(parts) == 2 and parts[0] == b"commit" and len(parts[1]) in (40, 64):
            try:
                int(parts[1], 16)
            except ValueError:
                continue
            ids.append(parts[1].decode())
    return tuple(ids)


def _note_declaration(note: str) -> tuple[bool, set[str]]:
    """(declares yes, Assisted-by values) of a note's declarations, signed or not, valid or not:
    a yes anywhere in it counts. Reads `Provenance-Declaration:` lines (docs/spec.md 1.1) and the
    older `AI-Assisted:` / `Assisted-by:` lines."""
    yes = False
    assisted: set[str] = set()
    for line in note.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if not sep:
            continue
        if key == "ai-assisted" and value.strip().lower() == "yes":
            yes = True
        elif key == "assisted-by" and value.strip():
            assisted.add(value.strip())
        elif key == "provenance-declaration":
            from provenance.wire.note import parse_declaration_value
            from provenance.wire.statement import MalformedSignature

            try:
                found = parse_declaration_value(value.strip())
            except MalformedSignature:
                yes = yes or " yes " in f" {value.lower()} "
                continue
            if found.ai:
                yes = True
                assisted |= set(found.assisted_by)
    return yes, assisted


def read(commits: Sequence[str]) -> Sources:
    """The OR of the commits' declarations (trailers and notes) and fingerprints."""
    if not commits:
        return Sources()
    out = git.run(["-c", "log.showSignature=false", "log", "--no-walk=unsorted",
                   f"--notes={NOTES_REF}", "--format=%H%x00%an%x00%ae%x00%B%x00%N%x00",
                   "--end-of-options", *commits], check=False)
    fields = out.decode("utf-8", "surrogateescape").split("\0")
    ai = False
    assisted: set[str] = set()
    evidence: list[str] = []
    for i in range(0, len(fields) - _FIELDS + 1, _FIELDS):
        sha, name, email, message, note = fields[i:i + _FIELDS]
        sha = sha.strip()
        declared = declaration.read(message)
        note_yes, note_assisted = _note_declaration(note)
        said: list[str] = []
        if declared.ai:
            said.append("declared yes")
            assisted |= set(declared.assisted_by)
        if note_yes:
            said.append("declared yes in a note")
            assisted |= note_assisted
        found = _fingerprints(name, email, message)
        if found:
            said.append(f"fingerprint: {found[0]}")
            assisted |= set(found[1:])
        if said:
            ai = True
            evidence.append(f"{sha[:12]} {', '.join(said)}")
    return Sources(ai, frozenset(assisted), tuple(evidence))


def _fingerprints(name: str, email: str, message: str) -> list[str]:
    """[evidence of the first fingerprint, Assisted-by values...], or [] when there is none."""
    if not may_carry_fingerprints(name, email, message):
        return []  # the common case, without compiling the fingerprint table
    from provenance.detect.signals import assisted_by_value, commit_signals

    signals = commit_signals(name, email, message)
    if not signals:
        return []
    return [signals[0].evidence, *(assisted_by_value(s) for s in signals)]
