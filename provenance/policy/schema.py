"""The `.provenance.toml` schema: strict loading, glob matching, people, roles and keys.

Error line numbers come from `locator` and typed reads of one table from `fields`; text edits
(starter policy, adding a key) live in `edit`, and reading the policy of a revision or of the work
tree in `source`.
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pathspec

from provenance.errors import ProvenanceError
from provenance.policy.fields import _show, _Table
from provenance.policy.gitlink import directory_glob
from provenance.policy.locator import Checker
from provenance.ssh.sshsig import PublicKey, parse_public_key

POLICY_FILE = ".provenance.toml"
APPLIES_TO = ("ai-assisted", "all")

_EMAIL = re.compile(r"[^\s@<>]+@[^\s@<>]+")
_ROLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_MAX_REMEMBERED = 8192  # paths each rule remembers the answer for


@functools.lru_cache(maxsize=4096)
def _compile_glob(glob: str) -> pathspec.Pattern:
    """One compiled pattern per glob, so a match can name the glob that made a path critical."""
    problem = _glob_problem(glob)
    if problem is not None:
        raise ProvenanceError(f"invalid glob {json.dumps(glob)}: {problem}")
    return pathspec.GitIgnoreSpec.from_lines([glob]).patterns[0]


def _screen(patterns: Sequence[pathspec.Pattern]) -> re.Pattern[str] | None:
    """One regex that finds a path iff one of `patterns` matches it (pathspec's `match_file` is
    its regex's `search`); None when they cannot be joined (nothing to join, differing flags, or
    a back-reference that the join would break)."""
    regexes = [getattr(p, "regex", None) for p in patterns]
    if not regexes or any(not isinstance(r, re.Pattern) or not isinstance(r.pattern, str)
                          or "(?P=" in r.pattern for r in regexes):
        return None
    found = [r for r in regexes if isinstance(r, re.Pattern)]
    if len({r.flags for r in found}) != 1:
        return None
    # Group names repeat from glob to glob: the joined regex keeps the groups, unnamed.
    joined = "|".join(f"(?:{_NAMED_GROUP.sub('(?:', r.pattern)})" for r in found)
    try:
        return re.compile(joined, found[0].flags)
    except re.error:
        return None


_NAMED_GROUP = re.compile(r"\(\?P<[^>]*>")


def _glob_problem(glob: str) -> str | None:
    if not glob:
        return "must not be empty"
    if glob != glob.strip() or any(ord(c) < 0x20 or c == "\x7f" for c in glob):
        return "must not have surrounding whitespace or control characters"
    if glob[0] in "!#":
        # In a .gitignore these negate or comment; here any match makes a path critical.
        return f"must not start with {glob[0]!r} (escape it as '\\{glob[0]}' to mean the character)"
    try:
        patterns = pathspec.GitIgnoreSpec.from_lines([glob]).patterns
    except Exception as e:  # pathspec signals malformed patterns with several exception types
        return f"not a valid gitignore pattern ({e})"
    if len(patterns) != 1 or patterns[0].include is not True:
        return "not a valid gitignore pattern"
    return None


@dataclass(frozen=True)
class Person:
    name: str
    emails: tuple[str, ...]
    roles: frozenset[str] = frozenset()
    keys: tuple[PublicKey, ...] = ()


@dataclass(frozen=True)
class Rule:
    name: str
    paths: tuple[str, ...]
    cosign_roles: frozenset[str]
    threshold: int
    applies_to: str  # "ai-assisted" | "all"
    description: str = ""
    future_paths: tuple[str, ...] = ()  # globs of `paths` that may match no file yet (no warning)
    _patterns: tuple[pathspec.Pattern, ...] = field(init=False, repr=False, compare=False)
    # path -> match(path): an audit asks about the same paths commit after commit.
    _matches: dict[str, str | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_patterns", tuple(_compile_glob(g) for g in self.paths))
        object.__setattr__(self, "_matches", {})

    def match(self, path: str) -> str | None:
        """The first glob of this rule that matches `path` (gitignore semantics), or None."""
        known = self._matches.get(path, "")  # a glob is never empty
        if known != "":
            return known
        found = None
        for glob, pattern in zip(self.paths, self._patterns, strict=True):
            if pattern.match_file(path) is not None:
                found = glob
                break
        if len(self._matches) >= _MAX_REMEMBERED:
            self._matches.clear()
        self._matches[path] = found
        return found

    def match_gitlink(self, path: str) -> str | None:
        """The first glob of this rule that matches the submodule at `path` as its directory, or
        one that could match a file inside it (policy/gitlink.py), or None."""
        return directory_glob(self.paths, self._patterns, path)


@dataclass(frozen=True)
class RevokedKey:
    key: PublicKey
    reason: str


@dataclass(frozen=True)
class Policy:
    version: int
    declaration_required: bool = True
    declaration_signed: bool = True
    detect_undeclared: bool = True
    rules: tuple[Rule, ...] = ()
    protected_branches: tuple[str, ...] | None = None  # None: remote default branch, main, master
    policy_change_roles: frozenset[str] = frozenset({"senior"})
    policy_change_threshold: int = 1
    people: tuple[Person, ...] = ()
    revoked: tuple[RevokedKey, ...] = ()
    source: str = POLICY_FILE
    _by_email: dict[str, Person] = field(init=False, repr=False, compare=False)
    _by_key: dict[PublicKey, Person] = field(init=False, repr=False, compare=False)
    # path -> (rule name, glob) of every rule it matches: one look-up a path, not one a rule.
    _hits: dict[str, tuple[tuple[str, str], ...]] = field(init=False, repr=False, compare=False)
    # Every rule's globs as one regex: most paths match none, and one search beats one a glob.
    _screen: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_email: dict[str, Person] = {}
        by_key: dict[PublicKey, Person] = {}
        for person in self.people:
            for email in person.emails:
                by_email.setdefault(email.lower(), person)
            for key in person.keys:
                by_key.setdefault(key, person)
        object.__setattr__(self, "_by_email", by_email)
        object.__setattr__(self, "_by_key", by_key)
        object.__setattr__(self, "_hits", {})
        object.__setattr__(self, "_screen", _screen([p for r in self.rules for p in r._patterns]))

    def person_by_email(self, email: str) -> Person | None:
        return self._by_email.get(email.lower())

    def person_by_key(self, key: PublicKey) -> Person | None:
        return self._by_key.get(key)

    def people_with_roles(self, roles: frozenset[str]) -> tuple[Person, ...]:
        return tuple(p for p in self.people if p.roles & roles)

    def critical_matches(self, paths: Iterable[str], gitlinks: Collection[str] = ()
                         ) -> dict[str, list[tuple[str, str]]]:
        """Rule name -> [(path, glob)] for each rule matching at least one path (ANY-match); a
        path in `gitlinks` is a submodule, matched as its directory (`Rule.match_gitlink`)."""
        result: dict[str, list[tuple[str, str]]] = {}
        known = self._hits
        screen = self._screen
        if gitlinks:  # rare: their answers go in a copy of the memo, which the screen would skip
            known = {**known, **{p: tuple((r.name, g) for r in self.rules
                                          if (g := r.match_gitlink(p)) is not None)
                                 for p in gitlinks}}
            screen = None
        for path in paths:
            if screen is not None and screen.search(path) is None:
                continue
            hits = known.get(path)
            if hits is None:
                hits = tuple((rule.name, g) for rule in self.rules
                             if (g := rule.match(path)) is not None)
                if len(known) >= _MAX_REMEMBERED and known is self._hits:
                    known.clear()
                known[path] = hits
            for name, glob in hits:
                result.setdefault(name, []).append((path, glob))
        if len(result) > 1:  # in the policy's order of rules
            return {rule.name: result[rule.name] for rule in self.rules if rule.name in result}
        return result


def _check_role(t: _Table, key: str, roles: tuple[str, ...]) -> frozenset[str]:
    for i, role in enumerate(roles):
        if not _ROLE.fullmatch(role):
            t.fail(key, f"must be a role name (letters, digits, '-', '_', '.'), got {_show(role)}",
                   elem=i, value=role)
    return frozenset(roles)


def _parse_key(t: _Table, key: str, elem: int | None, line: str) -> PublicKey:
    try:
        return parse_public_key(line)
    except (ProvenanceError, ValueError) as e:
        t.fail(key, f"{e} (expected an OpenSSH key line: 'ssh-ed25519 AAAA... comment')",
               elem=elem, value=line.strip()[:40])


def _rule(ck: Checker, data: Any, i: int) -> Rule:
    t = _Table(ck, data, "rule", i, ("name", "description", "paths", "future-paths", "cosign-roles",
                                     "threshold", "applies-to"))
    name = t.get_str("name")
    paths = t.get_strs("paths", None, "gitignore-style globs")
    if not paths:
        t.fail("paths", "must list at least one glob, got an empty array")
    for j, glob in enumerate(paths):
        if (problem := _glob_problem(glob)) is not None:
            t.fail("paths", f"bad glob {_show(glob)}: {problem}", elem=j, value=glob)
    future = t.get_strs("future-paths", (), "globs of this rule's paths")
    for j, glob in enumerate(future):
        if glob not in paths:
            t.fail("future-paths", f"{_show(glob)} is not one of this rule's paths (a future path "
                   "must be listed in both)", elem=j, value=glob)
    roles = _check_role(t, "cosign-roles", t.get_strs("cosign-roles", ("senior",), "role names"))
    if not roles:
        t.fail("cosign-roles", "must list at least one role, got an empty array")
    applies_to = t.get_str("applies-to", "ai-assisted")
    if applies_to not in APPLIES_TO:
        t.fail("applies-to", f'must be "ai-assisted" or "all", got {_show(applies_to)}')
    return Rule(name=name, paths=paths, cosign_roles=roles,
                threshold=t.get_int("threshold", 1), applies_to=applies_to,
                description=t.get_str("description", ""), future_paths=future)


def _person(ck: Checker, data: Any, i: int) -> Person:
    t = _Table(ck, data, "person", i, ("name", "email", "emails", "roles", "keys"))
    name = t.get_str("name")
    if t.has("email") == t.has("emails"):
        t.fail("emails" if t.has("email") else "email",
               "give exactly one of 'email = \"...\"' or 'emails = [...]'")
    key = "email" if t.has("email") else "emails"
    emails = (t.get_str("email"),) if key == "email" else t.get_strs("emails", None, "emails")
    if not emails:
        t.fail(key, "must list at least one email, got an empty array")
    for j, email in enumerate(emails):
        if not _EMAIL.fullmatch(email):
            t.fail(key, f"must be an email address like name@example.com, got {_show(email)}",
                   elem=j if key == "emails" else None, value=email)
        if email.lower() in (e.lower() for e in emails[:j]):
            t.fail(key, f"{_show(email)} is listed twice", elem=j, value=email)
    roles = _check_role(t, "roles", t.get_strs("roles", (), "role names"))
    keys: list[PublicKey] = []
    for j, line in enumerate(t.get_strs("keys", (), "SSH public keys")):
        parsed = _parse_key(t, "keys", j, line)
        if parsed in keys:
            t.fail("keys", "the same key is listed twice", elem=j, value=line[:40])
        keys.append(parsed)
    return Person(name=name, emails=tuple(e.lower() for e in emails), roles=roles,
                  keys=tuple(keys))


def _check_threshold(ck: Checker, policy: Policy, table: str, index: int | None,
                     roles: frozenset[str], threshold: int) -> None:
    able = len(policy.people_with_roles(roles))
    if threshold > able:
        who = "person has" if able == 1 else "people have"
        ck.fail(table, index, "threshold",
                f"{threshold} can never be met: only {able} {who} a role in "
                f"[{', '.join(sorted(roles))}] (add people with that role or lower the threshold)")


def _build(ck: Checker, doc: dict[str, Any], source: str) -> Policy:
    top = _Table(ck, doc, "", None, ("version", "description", "declaration", "rule",
                                     "enforcement", "policy-changes", "person", "revoked-key"))
    if not top.has("version"):
        ck.fail("", None, "version", "missing (expected `version = 1` at the top of the file)")
    version = top.data["version"]
    if isinstance(version, bool) or version != 1:
        top.fail("version", f"must be 1 (the only version this tool reads), got {_show(version)}")
    top.get_str("description", "")
    decl = _Table(ck, doc.get("declaration", {}), "declaration", None,
                  ("required", "signed", "detect-undeclared"))
    required, signed = decl.get_bool("required", True), decl.get_bool("signed", True)
    detect = decl.get_bool("detect-undeclared", True)
    arrays: dict[str, list[Any]] = {}
    for name in ("rule", "person", "revoked-key"):
        value = doc.get(name, [])
        if not isinstance(value, list):
            top.fail(name, f"must be an array of tables ([[{name}]]), got {_show(value)}")
        arrays[name] = value
    rules = tuple(_rule(ck, data, i) for i, data in enumerate(arrays["rule"]))
    for i, rule in enumerate(rules):
        if rule.name in (r.name for r in rules[:i]):
            ck.fail("rule", i, "name", f"duplicate rule name {_show(rule.name)}")
    enf = _Table(ck, doc.get("enforcement", {}), "enforcement", None, ("protected-branches",))
    branches = None
    if enf.has("protected-branches"):
        branches = enf.get_strs("protected-branches", None, "branch names or globs")
        for j, branch in enumerate(branches):
            if not branch or any(c.isspace() or ord(c) < 0x20 for c in branch):
                enf.fail("protected-branches",
                         f"must be a branch name or glob, got {_show(branch)}", elem=j)
    changes = _Table(ck, doc.get("policy-changes", {}), "policy-changes", None,
                     ("cosign-roles", "threshold"))
    change_threshold = changes.get_int("threshold", 1)
    change_roles = _check_role(changes, "cosign-roles",
                               changes.get_strs("cosign-roles", ("senior",), "role names"))
    if not change_roles:
        changes.fail("cosign-roles", "must list at least one role, got an empty array")
    people = tuple(_person(ck, data, i) for i, data in enumerate(arrays["person"]))
    owners: dict[str, int] = {}
    key_owners: dict[PublicKey, int] = {}
    for i, person in enumerate(people):
        for email in person.emails:
            if email in owners:
                ck.fail("person", i, "email" if "email" in arrays["person"][i] else "emails",
                        f"{_show(email)} already belongs to person[{owners[email]}] "
                        f"({people[owners[email]].name}); an email names one person",
                        value=email)
            owners[email] = i
        for j, key in enumerate(person.keys):
            if key in key_owners:
                ck.fail("person", i, "keys", f"key already belongs to person[{key_owners[key]}] "
                        f"({people[key_owners[key]].name}); a key names one person",
                        elem=j, value=key.openssh().split()[-1][:40])
            key_owners[key] = i
    revoked = []
    for i, data in enumerate(arrays["revoked-key"]):
        t = _Table(ck, data, "revoked-key", i, ("key", "reason"))
        revoked.append(RevokedKey(key=_parse_key(t, "key", None, t.get_str("key")),
                                  reason=t.get_str("reason")))
    policy = Policy(
        version=1, declaration_required=required, declaration_signed=signed,
        detect_undeclared=detect, rules=rules,
        protected_branches=branches, policy_change_roles=change_roles,
        policy_change_threshold=change_threshold, people=people,
        revoked=tuple(revoked), source=source,
    )
    # A policy naming nobody can authorise nothing: it loads only for read-only scans (--policy).
    if people:
        for i, rule in enumerate(rules):
            _check_threshold(ck, policy, "rule", i, rule.cosign_roles, rule.threshold)
        _check_threshold(ck, policy, "policy-changes", None, change_roles, change_threshold)
    return policy


def load_text(text: str | bytes, source: str = POLICY_FILE) -> Policy:
    """Parse and strictly validate a policy; every failure is one `FILE:LINE: KEY: ...` line."""
    if isinstance(text, bytes):
        data = text
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data.count(b"\n", 0, e.start) + 1
            raise ProvenanceError(
                f"{source}:{line}: encoding: not valid UTF-8 at byte {e.start} "
                f"(the policy file must be UTF-8)"
            ) from None
    text = text.removeprefix("\ufeff")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r" \(at line (\d+), column (\d+)\)$", msg)
        if m:
            line, msg = int(m.group(1)), f"{msg[:m.start()]} (column {m.group(2)})"
        else:
            line, msg = max(1, len(text.splitlines())), msg.replace(" (at end of document)", "")
        raise ProvenanceError(f"{source}:{line}: syntax error: {msg}") from None
    except RecursionError:
        raise ProvenanceError(f"{source}:1: syntax error: nesting too deep") from None
    return _build(Checker(source, text), doc, source)


def load_file(path: str | Path) -> Policy:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ProvenanceError(f"{path}: cannot read policy: {e.strerror or e}") from None
    return load_text(data, str(path))
