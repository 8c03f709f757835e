"""AI-tool detection: environment signals (hooks) and commit fingerprints (audit).

The rules live in ``fingerprints.toml`` (versioned data, loaded and validated by
`fingerprints`); this module only interprets them.
It runs inside commit hooks, so it imports nothing heavy and loads the table lazily, once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from provenance.detect import fingerprints
from provenance.detect.fingerprints import (
    STRENGTHS,
    CommitRule,
    EnvRule,
    Name,
    commit_rules,
    env_rules,
    names,
)

_CO_AUTHOR_KEY = "co-authored-by"
_TRAILER_RE = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)")
_FALSY = frozenset(("", "0", "false", "no", "none", "off"))
_TRUTHY = frozenset(("1", "true", "yes", "on"))
_MAX_EVIDENCE = 200
# Real trailers and identities are short; longer lines are skipped, which bounds regex work.
_MAX_LINE = 2000


@dataclass(frozen=True)
class Signal:
    """One piece of evidence that an AI tool was involved, and how much it proves."""

    tool: str
    evidence: str
    strength: str
    model: str | None = None


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_EVIDENCE else text[: _MAX_EVIDENCE - 3] + "..."


def _ranked(signals: Iterable[Signal]) -> list[Signal]:
    """Strong before weak (stable within a strength), one signal per tool + evidence."""
    seen: set[tuple[str, str]] = set()
    out = []
    for sig in sorted(signals, key=lambda s: STRENGTHS.index(s.strength)):
        if (sig.tool, sig.evidence) not in seen:
            seen.add((sig.tool, sig.evidence))
            out.append(sig)
    return out


def _name_tool(value: str, names: tuple[Name, ...]) -> tuple[str, str | None] | None:
    """(tool, model) when a free-text value names a known tool; "Claude Dupont" does not."""
    value = value.strip()
    for name in names:
        m = name.regex.fullmatch(value)
        if m is None:
            continue
        groups = m.groupdict()
        model = groups.get("model") or groups["_m1"] or groups["_m2"]
        if groups["_rest"] and model is None and not name.trailing:
            continue
        return name.tool, (model.strip() or None) if model else None
    return None


def _env_tool(value: str, names: tuple[Name, ...]) -> str | None:
    """The tool a generic variable (AI_AGENT=<name>) names, or None for off/garbage values."""
    value = value.strip()
    low = value.lower()
    if low in _FALSY:
        return None
    if low in _TRUTHY:
        return "unknown"
    named = _name_tool(value, names)
    if named is not None:
        return named[0]
    slug = re.sub(r"[^a-z0-9._-]+", "-", low).strip("-._")[:40]
    return slug if slug[:1].isalpha() else None


def _show(var: str, value: str) -> str:
    return f'{var}="{value}"' if any(c.isspace() for c in value) or not value else f"{var}={value}"


def _env_match(rule: EnvRule, environ: Mapping[str, str]) -> Signal | None:
    if not fingerprints.conds_hold(rule.conds, environ):
        return None
    # Opaque ids (sessions, threads) stay out of evidence: it ends up in commits.
    shown = [f"{cond.var} (set)" if cond.op == "present" else _show(cond.var, environ[cond.var])
             for cond in rule.conds]
    tool = rule.tool
    if rule.tool_from is not None:
        tool = _env_tool(environ.get(rule.tool_from) or "", names())
        if tool is None:
            return None
        shown = [_show(rule.tool_from, environ[rule.tool_from].strip())]
    assert tool is not None  # the loader guarantees tool or tool_from
    return Signal(tool, _clip("env " + " + ".join(shown)), rule.strength)


def environment_signals(environ: Mapping[str, str]) -> list[Signal]:
    """Agent signals in a process environment, strong first, then weak hints."""
    found = (_env_match(rule, environ) for rule in env_rules())
    return _ranked(sig for sig in found if sig is not None)


def _split_ident(value: str) -> tuple[str, str]:
    """("Name", "email") from "Name <email>"; no regex, so hostile lines stay linear."""
    value = value.strip()
    if value.endswith(">"):
        name, sep, email = value[:-1].rpartition("<")
        if sep and ">" not in email:
            return name.strip(), email.strip()
    return value, ""


def _ident_signal(rule: CommitRule, side: str, name: str, email: str) -> Signal | None:
    if not (name or email) or len(name) + len(email) > _MAX_LINE:
        return None
    if rule.email is not None and rule.email.fullmatch(email) is None:
        return None
    if rule.name is not None and rule.name.fullmatch(name) is None:
        return None
    found = rule.model.search(name) if rule.model is not None else None
    model = (found.groupdict().get("model") or "").strip() if found else ""
    assert rule.tool is not None  # the loader guarantees it for identity rules
    shown = f'{side} name "{name}"' if rule.email is None else f"{side} {name} <{email}>"
    return Signal(rule.tool, _clip(shown), rule.strength, model or None)


def _co_author_signals(rules: Iterable[CommitRule], value: str, line: str) -> list[Signal]:
    name, email = _split_ident(value)
    hits = (_ident_signal(rule, "co-author", name, email) for rule in rules)
    return [Signal(h.tool, _clip(line), h.strength, h.model) for h in hits if h is not None]


@functools.cache
def _rules_where(where: str) -> tuple[CommitRule, ...]:
    return tuple(rule for rule in commit_rules() if rule.where == where)


# Trailer lines repeat across a history as much as identities do.
@functools.lru_cache(maxsize=4096)
def _trailer_signals(key: str, value: str, line: str) -> tuple[Signal, ...]:
    if key == _CO_AUTHOR_KEY:
        return tuple(_co_author_signals(_rules_where("co-author"), value, line))
    found = []
    for rule in _rules_where("trailer"):
        if key not in rule.keys:
            continue
        if rule.value_names and "@" in value:
            # "Assisted-by: Name <email>" is an identity: judge it like a co-author.
            found.extend(_co_author_signals(_rules_where("co-author"), value, line))
        elif rule.value_names:
            named = _name_tool(value, names())
            if named is not None:
                found.append(Signal(named[0], _clip(line), rule.strength, named[1]))
        elif rule.value is not None and rule.value.fullmatch(value):
            assert rule.tool is not None
            found.append(Signal(rule.tool, _clip(line), rule.strength))
    return tuple(found)


def commit_signals(
    author_name: str,
    author_email: str,
    message: str,
    committer_name: str = "",
    committer_email: str = "",
) -> list[Signal]:
    """AI fingerprints of a finished commit, strong first.

    Committer-side name suffixes are never evidence: aider commits a person's own edits as
    `Committer: You (aider)`.  Every line is scanned, not just the final trailer block, and
    indented lines too: a squash concatenates its commits' trailer blocks, and
    `git merge --squash` indents them (with the squashed commits' authors, see `_squashed`).
    """
    found = [
        *_identity_signals("author", author_name.strip(), author_email.strip()),
        *_identity_signals("committer", committer_name.strip(), committer_email.strip()),
    ]
    any_line = _any_line_rule()
    keys = _trailer_keys()
    for raw in message.splitlines():
        if len(raw) > _MAX_LINE:
            continue
        line = raw.strip()
        # The text before the first ':' is the key _TRAILER_RE would find: a key no rule reads
        # (most lines: signatures, declarations, prose) is dismissed before the regex.
        if ":" in raw and raw.partition(":")[0].strip(" \t").lower() in keys:
            m = _TRAILER_RE.fullmatch(raw.strip(" \t\r\n"))
            if m is not None:
                found.extend(_trailer_signals(m.group(1).lower(), m.group(2).strip(), line))
        if any_line is not None and any_line.fullmatch(line):
            for rule in _rules_where("line"):
                if rule.line is not None and rule.line.fullmatch(line):
                    assert rule.tool is not None
                    found.append(Signal(rule.tool, _clip(line), rule.strength))
    if _SQUASH_HEADER in message:
        found.extend(_squashed(message))
    return _ranked(found) if found else []


# What `git merge --squash` writes first in SQUASH_MSG, then each commit as `git log` shows it.
_SQUASH_HEADER = "Squashed commit of the following:"


def _squashed(message: str) -> list[Signal]:
    """The evidence of a squash body beyond its lines' own: each squashed commit's `Author:`
    header (an agent's identity or aider's suffix), and its indented `AI-Assisted: yes`."""
    found: list[Signal] = []
    for raw in message[message.index(_SQUASH_HEADER):].splitlines():
        if len(raw) > _MAX_LINE:
            continue
        if raw.startswith("Author: "):
            name, email = _split_ident(raw[len("Author: "):])
            found.extend(Signal(s.tool, _clip(f"squashed commit's {s.evidence}"), s.strength,
                                s.model) for s in _identity_signals("author", name, email))
        elif raw[:1] in (" ", "\t") and raw.strip().lower().replace(" ", "") == "ai-assisted:yes":
            found.append(Signal("unknown", _clip(f"squashed {raw.strip()}"), "strong"))
    return found


# The audit sees the same few identities over and over.
@functools.lru_cache(maxsize=4096)
def _identity_signals(side: str, name: str, email: str) -> tuple[Signal, ...]:
    hits = (_ident_signal(rule, side, name, email) for rule in _rules_where(side))
    return tuple(sig for sig in hits if sig is not None)


@functools.cache
def _trailer_keys() -> frozenset[str]:
    """Every (lower-case) key for which `_trailer_signals` can find something."""
    return frozenset({_CO_AUTHOR_KEY, *(key for rule in _rules_where("trailer") for key in rule.keys)})


@functools.cache
def _any_line_rule() -> re.Pattern[str] | None:
    """All line rules as one regex: most lines match none, and one test beats several."""
    patterns = [rule.line.pattern for rule in _rules_where("line") if rule.line is not None]
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I) if patterns else None


def assisted_by_value(signal: Signal) -> str:
    """The `Assisted-by:` value for a signal: "claude-code" or "aider:gpt-4o"."""
    if not signal.model:
        return signal.tool
    return f"{signal.tool}:{'-'.join(signal.model.lower().split())}"
