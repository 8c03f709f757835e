"""AI-tool detection: environment signals (hooks) and commit fingerprints (audit).

The rules live in ``fingerprints.toml`` (versioned data); this module only interprets them.
It runs inside commit hooks, so it imports nothing heavy and loads the table lazily, once.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from provenance.errors import ProvenanceError

STRENGTHS = ("strong", "weak")
ENV_OPS = ("present", "equals", "contains", "suffix")
WHERES = ("author", "committer", "co-author", "trailer", "line")

_CO_AUTHOR_KEY = "co-authored-by"
_TRAILER_RE = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)")
# What may follow a tool's name in a free-text value: a model, then (kernel style) tool words.
_NAME_TAIL = r"(?:\s*\((?P<_m1>[^()]*)\)|[:/](?P<_m2>[^\s()]+))?(?P<_rest>(?:\s+\S+)*)"
_FALSY = frozenset(("", "0", "false", "no", "none", "off"))
_TRUTHY = frozenset(("1", "true", "yes", "on"))
_MAX_EVIDENCE = 200
# Real trailers and identities are short; longer lines are skipped, which bounds regex work.
_MAX_LINE = 2000
_TABLE_FILE = "fingerprints.toml"
_T = TypeVar("_T")


@dataclass(frozen=True)
class Signal:
    """One piece of evidence that an AI tool was involved, and how much it proves."""

    tool: str
    evidence: str
    strength: str
    model: str | None = None


# Internal records are NamedTuples: a frozen dataclass costs ~1.5 ms to define, and this
# module is imported by every commit hook.
class _Name(NamedTuple):
    tool: str
    regex: re.Pattern[str]
    trailing: bool


class _Cond(NamedTuple):
    var: str
    op: str
    value: str


class _EnvRule(NamedTuple):
    tool: str | None
    tool_from: str | None
    strength: str
    conds: tuple[_Cond, ...]


class _CommitRule(NamedTuple):
    tool: str | None
    strength: str
    where: str
    name: re.Pattern[str] | None = None
    email: re.Pattern[str] | None = None
    model: re.Pattern[str] | None = None
    keys: frozenset[str] = frozenset()
    value: re.Pattern[str] | None = None
    value_names: bool = False
    line: re.Pattern[str] | None = None


class _Table(NamedTuple):
    version: int
    names: tuple[_Name, ...]
    env: tuple[_EnvRule, ...]
    commit: tuple[_CommitRule, ...]


_ENV_KEYS = frozenset(("tool", "tool_from", "strength", "all"))
_COMMIT_KEYS = frozenset(
    ("tool", "strength", "where", "name", "email", "model", "keys", "value", "value_names", "line")
)
_NAME_KEYS = frozenset(("tool", "pattern", "trailing"))


def _regex(where: str, pattern: object) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise ProvenanceError(f"fingerprints table: {where}: pattern must be a non-empty string")
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as e:
        raise ProvenanceError(f"fingerprints table: {where}: bad regex {pattern!r}: {e}") from None


def _check_keys(where: str, entry: object, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ProvenanceError(f"fingerprints table: {where}: not a table")
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ProvenanceError(f"fingerprints table: {where}: unknown keys {unknown}")
    if "strength" in allowed and entry.get("strength") not in STRENGTHS:
        raise ProvenanceError(f"fingerprints table: {where}: strength must be strong or weak")
    tool = entry.get("tool")
    if tool is not None and (not isinstance(tool, str) or not tool):
        raise ProvenanceError(f"fingerprints table: {where}: tool must be a non-empty string")
    return entry


def _parse_name(i: int, raw: object) -> _Name:
    where = f"names[{i}]"
    entry = _check_keys(where, raw, _NAME_KEYS)
    if "tool" not in entry:
        raise ProvenanceError(f"fingerprints table: {where}: needs a tool")
    pattern = entry.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise ProvenanceError(f"fingerprints table: {where}: pattern must be a non-empty string")
    full = _regex(where, f"(?:{pattern}){_NAME_TAIL}")
    return _Name(entry["tool"], full, entry.get("trailing") is True)


def _parse_env(i: int, raw: object) -> _EnvRule:
    where = f"env[{i}]"
    entry = _check_keys(where, raw, _ENV_KEYS)
    tool, tool_from = entry.get("tool"), entry.get("tool_from")
    if (tool is None) == (tool_from is None) or (tool_from is not None and not tool_from):
        raise ProvenanceError(f"fingerprints table: {where}: needs exactly one of tool, tool_from")
    conds = entry.get("all")
    if not isinstance(conds, list) or not conds:
        raise ProvenanceError(f"fingerprints table: {where}: `all` must be a non-empty list")
    parsed = []
    for cond in conds:
        ops = [op for op in ENV_OPS if isinstance(cond, dict) and op in cond]
        if (
            not isinstance(cond, dict)
            or set(cond) - {"var", *ENV_OPS}
            or not isinstance(cond.get("var"), str)
            or len(ops) != 1
        ):
            raise ProvenanceError(f"fingerprints table: {where}: bad condition {cond!r}")
        value = cond[ops[0]]
        if ops[0] == "present" and value is not True:
            raise ProvenanceError(f"fingerprints table: {where}: present must be true")
        if ops[0] != "present" and (not isinstance(value, str) or not value):
            raise ProvenanceError(f"fingerprints table: {where}: {ops[0]} needs a string")
        parsed.append(_Cond(cond["var"], ops[0], "" if value is True else value.lower()))
    return _EnvRule(tool, tool_from, entry["strength"], tuple(parsed))


def _parse_commit(i: int, raw: object) -> _CommitRule:
    where = f"commit[{i}]"
    entry = _check_keys(where, raw, _COMMIT_KEYS)
    kind = entry.get("where")
    if kind not in WHERES:
        raise ProvenanceError(f"fingerprints table: {where}: where must be one of {WHERES}")
    value_names = entry.get("value_names") is True
    if (entry.get("tool") is None) != value_names:
        raise ProvenanceError(f"fingerprints table: {where}: tool is required unless value_names")
    pats = {k: _regex(f"{where}.{k}", entry[k]) for k in ("name", "email", "model", "value", "line")
            if k in entry}
    keys = entry.get("keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
        raise ProvenanceError(f"fingerprints table: {where}: keys must be a list of strings")
    ok = {
        "author": ("name" in pats or "email" in pats) and not keys,
        "committer": ("name" in pats or "email" in pats) and not keys,
        "co-author": ("name" in pats or "email" in pats) and not keys,
        "trailer": bool(keys) and (("value" in pats) != value_names),
        "line": "line" in pats and len(pats) == 1,
    }[kind]
    if not ok:
        raise ProvenanceError(f"fingerprints table: {where}: keys do not fit where = {kind!r}")
    return _CommitRule(
        entry.get("tool"), entry["strength"], kind,
        keys=frozenset(k.lower() for k in keys), value_names=value_names, **pats,
    )


def _load_data(text: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProvenanceError(f"fingerprints table: not valid TOML: {e}") from None
    unknown = sorted(set(data) - {"version", "names", "env", "commit"})
    if unknown:
        raise ProvenanceError(f"fingerprints table: unknown top-level keys {unknown}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProvenanceError("fingerprints table: version must be a positive integer")
    for section in ("names", "env", "commit"):
        if not isinstance(data.get(section, []), list):
            raise ProvenanceError(f"fingerprints table: {section} must be an array of tables")
    return data


def _section(data: dict[str, Any], key: str, parse: Callable[[int, object], _T]) -> tuple[_T, ...]:
    return tuple(parse(i, entry) for i, entry in enumerate(data.get(key, [])))


def _parse_table(text: str) -> _Table:
    """Parse and validate the whole table; any defect is a ProvenanceError naming the entry."""
    data = _load_data(text)
    return _Table(
        data["version"],
        _section(data, "names", _parse_name),
        _section(data, "env", _parse_env),
        _section(data, "commit", _parse_commit),
    )


# Sections are parsed on first use and kept: a commit hook needs only the env rules, which
# hold no regexes, so it never pays for compiling the commit fingerprints (~20 ms).
@functools.cache
def _data() -> dict[str, Any]:
    # A plain read beside this file first: importlib.resources costs ~10 ms of imports,
    # which a commit hook should not pay.  It remains the fallback for zipped installs.
    try:
        with open(os.path.join(os.path.dirname(__file__), _TABLE_FILE), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        import importlib.resources

        text = importlib.resources.files("provenance").joinpath(_TABLE_FILE).read_text("utf-8")
    return _load_data(text)


@functools.cache
def _names() -> tuple[_Name, ...]:
    return _section(_data(), "names", _parse_name)


@functools.cache
def _env_rules() -> tuple[_EnvRule, ...]:
    return _section(_data(), "env", _parse_env)


@functools.cache
def _commit_rules() -> tuple[_CommitRule, ...]:
    return _section(_data(), "commit", _parse_commit)


def table_version() -> int:
    version: int = _data()["version"]
    return version


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


def _name_tool(value: str, names: tuple[_Name, ...]) -> tuple[str, str | None] | None:
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


def _env_tool(value: str, names: tuple[_Name, ...]) -> str | None:
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


def _env_match(rule: _EnvRule, environ: Mapping[str, str]) -> Signal | None:
    shown = []
    for cond in rule.conds:
        value = environ.get(cond.var) or ""
        low = value.lower()
        if not value or not (
            cond.op == "present"
            or (cond.op == "equals" and low == cond.value)
            or (cond.op == "contains" and cond.value in low)
            or (cond.op == "suffix" and low.endswith(cond.value))
        ):
            return None
        # Opaque ids (sessions, threads) stay out of evidence: it ends up in commits.
        shown.append(f"{cond.var} (set)" if cond.op == "present" else _show(cond.var, value))
    tool = rule.tool
    if rule.tool_from is not None:
        tool = _env_tool(environ.get(rule.tool_from) or "", _names())
        if tool is None:
            return None
        shown = [_show(rule.tool_from, environ[rule.tool_from].strip())]
    assert tool is not None  # the loader guarantees tool or tool_from
    return Signal(tool, _clip("env " + " + ".join(shown)), rule.strength)


def environment_signals(environ: Mapping[str, str]) -> list[Signal]:
    """Agent signals in a process environment, strong first, then weak hints."""
    found = (_env_match(rule, environ) for rule in _env_rules())
    return _ranked(sig for sig in found if sig is not None)


def _split_ident(value: str) -> tuple[str, str]:
    """("Name", "email") from "Name <email>"; no regex, so hostile lines stay linear."""
    value = value.strip()
    if value.endswith(">"):
        name, sep, email = value[:-1].rpartition("<")
        if sep and ">" not in email:
            return name.strip(), email.strip()
    return value, ""


def _ident_signal(rule: _CommitRule, side: str, name: str, email: str) -> Signal | None:
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


def _co_author_signals(rules: Iterable[_CommitRule], value: str, line: str) -> list[Signal]:
    name, email = _split_ident(value)
    hits = (_ident_signal(rule, "co-author", name, email) for rule in rules)
    return [Signal(h.tool, _clip(line), h.strength, h.model) for h in hits if h is not None]


@functools.cache
def _rules_where(where: str) -> tuple[_CommitRule, ...]:
    return tuple(rule for rule in _commit_rules() if rule.where == where)


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
            named = _name_tool(value, _names())
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
    `Committer: You (aider)`.  Every line is scanned, not just the final trailer block: a
    squash concatenates its commits' trailer blocks.
    """
    found = [
        *_identity_signals("author", author_name.strip(), author_email.strip()),
        *_identity_signals("committer", committer_name.strip(), committer_email.strip()),
    ]
    any_line = _any_line_rule()
    for raw in message.splitlines():
        if len(raw) > _MAX_LINE:
            continue
        line = raw.strip()
        if ":" in raw:
            m = _TRAILER_RE.fullmatch(raw.rstrip())
            if m is not None:
                found.extend(_trailer_signals(m.group(1).lower(), m.group(2).strip(), line))
        if any_line is not None and any_line.fullmatch(line):
            for rule in _rules_where("line"):
                if rule.line is not None and rule.line.fullmatch(line):
                    assert rule.tool is not None
                    found.append(Signal(rule.tool, _clip(line), rule.strength))
    return _ranked(found)


# The audit sees the same few identities over and over.
@functools.lru_cache(maxsize=4096)
def _identity_signals(side: str, name: str, email: str) -> tuple[Signal, ...]:
    hits = (_ident_signal(rule, side, name, email) for rule in _rules_where(side))
    return tuple(sig for sig in hits if sig is not None)


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
