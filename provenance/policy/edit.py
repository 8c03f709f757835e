"""Edits to a policy's text that keep its comments: the starter policy, registering a key."""

from __future__ import annotations

from provenance.errors import ProvenanceError
from provenance.policy.locator import Locator
from provenance.policy.schema import load_text
from provenance.ssh.sshsig import parse_public_key


def _toml_str(value: str) -> str:
    """A TOML basic string (json.dumps would leave DEL raw, which TOML forbids)."""
    body = "".join(
        "\\" + c if c in '"\\' else f"\\u{ord(c):04x}" if ord(c) < 0x20 or c == "\x7f" else c
        for c in value
    )
    return f'"{body}"'


def _key_text(key_line: str) -> str:
    key = parse_public_key(key_line)
    return f"{key.openssh()} {key.comment}".strip() if key.comment else key.openssh()


def starter_policy(name: str, email: str, key_line: str | None) -> str:
    """A commented starter policy naming the user as the only senior; it loads as written."""
    keys = f"[{_toml_str(_key_text(key_line))}]" if key_line else "[]"
    text = f"""\
# git-provenance policy: which AI-assisted changes need whose co-signature.
# Reference: docs/policy.md. Validated strictly: unknown keys and bad values are errors.
version = 1

[declaration]
required = true            # every judged commit must say AI-Assisted: yes|no
signed = true              # ... with a valid `declare` signature by its author
detect-undeclared = true   # AI fingerprints make a commit AI-assisted whatever it declares

# A path is critical if ANY glob of ANY rule matches (gitignore syntax, `**` supported).
[[rule]]
name = "critical"
description = "Example rule: replace the globs with your critical code."
paths = ["payments/**", "**/migrations/*.sql"]
cosign-roles = ["senior"]
threshold = 1              # distinct people, never the author
applies-to = "ai-assisted" # or "all"

# [enforcement]
# protected-branches = ["main", "release/*"]  # default: remote default branch, main, master

[policy-changes]           # the policy file itself is always protected
cosign-roles = ["senior"]
threshold = 1

# Nobody co-signs their own change: add a second senior so yours can be approved.
[[person]]
name = {_toml_str(name)}
email = {_toml_str(email)}
roles = ["senior"]
# SSH public keys (the line in ~/.ssh/id_ed25519.pub); one person may hold several.
keys = {keys}

# [[revoked-key]]
# key = "ssh-ed25519 AAAA..."
# reason = "laptop stolen"
"""
    load_text(text, "starter policy")
    return text


def _array_bounds(text: str, start: int) -> tuple[int, int]:
    """(offset of the last significant character, offset of the closing `]`) of the array
    opening at or after `start`; strings and comments are skipped."""
    i, depth, last = text.index("[", start), 0, -1
    while i < len(text):
        c = text[i]
        if c == "#":
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
            continue
        if c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while True:
                j = text.index(quote, j)
                if c == "'" or (j - len(text[:j].rstrip("\\"))) % 2 == 0:
                    break
                j += 1
            last = i = j + len(quote) - 1
        elif c == "[":
            depth, last = depth + 1, i
        elif c == "]":
            depth -= 1
            if depth == 0:
                return last, i
            last = i
        elif not c.isspace():
            last = i
        i += 1
    raise ValueError("unterminated array")


def _insert_key(text: str, index: int, loc: Locator, quoted: str) -> str:
    lines = text.splitlines(keepends=True)
    offset = [0]
    for line in lines:
        offset.append(offset[-1] + len(line))
    header = loc.headers[("person", index)]
    if (n := loc.keys.get(("person", index, "keys"))) is not None:
        last, close = _array_bounds(text, offset[n - 1] + lines[n - 1].index("="))
        comma = "" if text[last] in "[," else ","
        if text[last] == "[" or "\n" not in text[last:close]:
            glue = "" if text[last] == "[" else " " if text[last] == "," else ", "
            return text[:last + 1] + glue + quoted + text[last + 1:]
        eol = text.index("\n", last)
        start = text.rfind("\n", 0, last) + 1
        indent = text[start:last][: len(text[start:last]) - len(text[start:last].lstrip())]
        trailing = "," if text[last] == "," else ""
        return text[:last + 1] + comma + text[last + 1:eol] + "\n" + indent + quoted + trailing \
            + text[eol:]
    # No `keys` yet: add it after the table's last value line, before any comments that lead
    # into the next table.
    following = [h for h in loc.headers.values() if h > header]
    end = min(following) - 1 if following else len(lines)
    while end > header and (not lines[end - 1].strip() or lines[end - 1].lstrip()[0] == "#"):
        end -= 1
    if not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    lines.insert(end, f"keys = [{quoted}]\n")
    return "".join(lines)


def add_person_key(text: str, name: str, email: str, key_line: str,
                   roles: tuple[str, ...] = ()) -> str:
    """Register `key_line` for the person with `email` (appended to their `keys`, comments kept),
    or append a new `[[person]]` with `roles`; the result is validated by loading it."""
    policy = load_text(text)
    key = parse_public_key(key_line)
    quoted = _toml_str(_key_text(key_line))
    if any(r.key == key for r in policy.revoked):
        raise ProvenanceError(f"{policy.source}: this key is revoked; it cannot be registered")
    owner, person = policy.person_by_key(key), policy.person_by_email(email)
    if owner is not None and owner is not person:
        raise ProvenanceError(f"{policy.source}: this key already belongs to {owner.name}")
    if person is not None and not set(roles) <= person.roles:
        raise ProvenanceError(f"{policy.source}: {person.name} is already listed without the role(s) "
                              f"{', '.join(sorted(set(roles) - person.roles))}; add them to their "
                              "`roles` by hand")
    if person is not None and owner is person:
        return text
    if person is None:
        sep = "" if not text or text.endswith("\n\n") else "\n" if text.endswith("\n") else "\n\n"
        listed = f"roles = [{', '.join(_toml_str(r) for r in roles)}]\n" if roles else ""
        new = (f"{text}{sep}[[person]]\nname = {_toml_str(name)}\nemail = {_toml_str(email)}\n"
               f"{listed}keys = [{quoted}]\n")
    else:
        index = policy.people.index(person)
        loc = Locator(text)
        if ("person", index) not in loc.headers:
            raise ProvenanceError(f"{policy.source}: cannot find the [[person]] table of "
                                  f"{person.name}; add the key by hand")
        new = _insert_key(text, index, loc, quoted)
    added = load_text(new).person_by_key(key)
    if added is None or email.lower() not in added.emails:
        raise ProvenanceError(f"{policy.source}: could not add the key; add it by hand")
    return new
