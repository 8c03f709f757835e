"""The fingerprints table (``fingerprints.toml``): its schema, strict validation and lazy loading.

Any defect is a ProvenanceError naming the entry. `signals` interprets the parsed rules.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping

from provenance import hashes
from provenance.errors import ProvenanceError
from provenance.records import NamedTuple

TYPE_CHECKING = False  # not typing's: a commit hook imports this module (provenance/records.py)
if TYPE_CHECKING:
    from typing import Any, TypeVar

    _T = TypeVar("_T")

STRENGTHS = ("strong", "weak")
ENV_OPS = ("present", "equals", "contains", "suffix")
WHERES = ("author", "committer", "co-author", "trailer", "line")

# What may follow a tool's name in a free-text value: a model, then (kernel style) tool words.
# `detect` reads the groups _m1, _m2 and _rest of a name's match.
_NAME_TAIL = r"(?:\s*\((?P<_m1>[^()]*)\)|[:/](?P<_m2>[^\s()]+))?(?P<_rest>(?:\s+\S+)*)"
_TABLE_FILE = "fingerprints.toml"


# Records are NamedTuples: a frozen dataclass costs ~1.5 ms to define, and this module is
# imported by every commit hook.
class Name(NamedTuple):
    tool: str
    regex: re.Pattern[str]
    trailing: bool


class Cond(NamedTuple):
    var: str
    op: str
    value: str


class EnvRule(NamedTuple):
    tool: str | None
    tool_from: str | None
    strength: str
    conds: tuple[Cond, ...]


class CommitRule(NamedTuple):
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


def conds_hold(conds: tuple[Cond, ...], environ: Mapping[str, str]) -> bool:
    """Whether every condition of an env rule holds (an unset or empty variable never does)."""
    for cond in conds:
        low = (environ.get(cond.var) or "").lower()
        if not low or not (
            cond.op == "present"
            or (cond.op == "equals" and low == cond.value)
            or (cond.op == "contains" and cond.value in low)
            or (cond.op == "suffix" and low.endswith(cond.value))
        ):
            return False
    return True


class Table(NamedTuple):
    version: int
    names: tuple[Name, ...]
    env: tuple[EnvRule, ...]
    commit: tuple[CommitRule, ...]


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


def _parse_name(i: int, raw: object) -> Name:
    where = f"names[{i}]"
    entry = _check_keys(where, raw, _NAME_KEYS)
    if "tool" not in entry:
        raise ProvenanceError(f"fingerprints table: {where}: needs a tool")
    pattern = entry.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise ProvenanceError(f"fingerprints table: {where}: pattern must be a non-empty string")
    full = _regex(where, f"(?:{pattern}){_NAME_TAIL}")
    return Name(entry["tool"], full, entry.get("trailing") is True)


def _parse_env(i: int, raw: object) -> EnvRule:
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
        parsed.append(Cond(cond["var"], ops[0], "" if value is True else value.lower()))
    return EnvRule(tool, tool_from, entry["strength"], tuple(parsed))


def _parse_commit(i: int, raw: object) -> CommitRule:
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
    return CommitRule(
        entry.get("tool"), entry["strength"], kind,
        keys=frozenset(k.lower() for k in keys), value_names=value_names, **pats,
    )


def _load_data(text: str) -> dict[str, Any]:
    import tomllib  # deferred: importing it costs a commit hook ~5 ms before it needs the table

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


def parse_table(text: str) -> Table:
    """Parse and validate the whole table; any defect is a ProvenanceError naming the entry."""
    data = _load_data(text)
    return Table(
        data["version"],
        _section(data, "names", _parse_name),
        _section(data, "env", _parse_env),
        _section(data, "commit", _parse_commit),
    )


# Sections are parsed on first use and kept: a commit hook needs only the env rules, which
# hold no regexes, so it never pays for compiling the commit fingerprints (~20 ms).
@functools.cache
def _shipped() -> dict[str, Any]:
    """The shipped table, checked at the top level; its sections are parsed on first use."""
    # A plain read beside this file first: importlib.resources costs ~10 ms of imports,
    # which a commit hook should not pay.  It remains the fallback for zipped installs.
    try:
        with open(os.path.join(os.path.dirname(__file__), _TABLE_FILE), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        import importlib.resources

        text = importlib.resources.files("provenance.detect").joinpath(_TABLE_FILE).read_text("utf-8")
    return _cached_load(text)


def _cached_load(text: str) -> dict[str, Any]:
    """`_load_data`, remembered per table content in the user's cache directory.

    Parsing the TOML (and importing tomllib) is most of a commit hook's detection cost; the
    parsed table is plain data, which marshal reads back in a fraction of a millisecond. The key
    is the table's own hash, so an edited or upgraded table can never be served stale.
    """
    import marshal

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    key = hashes.sha256(text.encode()).hexdigest()[:24]
    path = os.path.join(base, "git-provenance", f"fingerprints-{key}.marshal")
    try:
        with open(path, "rb") as f:
            data = marshal.loads(f.read())  # marshal.load(f) reads piecemeal: ~8x slower
        if isinstance(data, dict):
            return data
    except (OSError, EOFError, ValueError, TypeError):
        pass
    data = _load_data(text)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            marshal.dump(data, f)
        os.replace(tmp, path)
    except (OSError, ValueError):
        pass  # no cache: parse every time
    return data


@functools.cache
def names() -> tuple[Name, ...]:
    return _section(_shipped(), "names", _parse_name)


@functools.cache
def env_rules() -> tuple[EnvRule, ...]:
    return _section(_shipped(), "env", _parse_env)


@functools.cache
def commit_rules() -> tuple[CommitRule, ...]:
    return _section(_shipped(), "commit", _parse_commit)


def table_version() -> int:
    version: int = _shipped()["version"]
    return version
