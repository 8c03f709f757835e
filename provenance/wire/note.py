"""A note under refs/notes/provenance: one `Key: value` attestation a line.

Notes from several seniors merge with git's `cat_sort_uniq` strategy (lines sorted, duplicates
dropped), so nothing here depends on line order, and writing keeps exactly one attestation a line.
A declaration in a note is one `Provenance-Declaration:` line that carries its own values with its
signature (docs/spec.md, section 1.1): values on lines of their own would mix with those of every
other declaration in the same note, and anyone who can push notes could add one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from provenance.errors import ProvenanceError
from provenance.git import notes
from provenance.wire.statement import MalformedSignature, SignatureLine, parse_signature_value

KEY_DECLARATION = "Provenance-Declaration"
_BY = "by="


class NoteDeclaration(NamedTuple):
    """A parsed `Provenance-Declaration:` value: `v1 SIGNER CHANGE yes|no [by=VALUE …] BASE64`."""

    signature: SignatureLine  # role "declare"
    ai: bool
    assisted_by: tuple[str, ...]

    def value(self) -> str:
        sig = self.signature
        by = "".join(f" {_BY}{_escape(v)}" for v in sorted(set(self.assisted_by)))
        return (f"v1 {sig.signer} {sig.change} {'yes' if self.ai else 'no'}{by} "
                f"{sig.signature_b64}")


def _escape(value: str) -> str:
    """`%` and whitespace as %XX (UTF-8 bytes): a value is one whitespace-free field."""
    if not any(c == "%" or c.isspace() for c in value):
        return value
    return "".join(
        "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogateescape"))
        if c == "%" or c.isspace() else c for c in value)


def _unescape(field: str) -> str:
    if "%" not in field:
        return field
    out = bytearray()
    raw = field.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(raw):
        hexa = raw[i + 1:i + 3]
        if raw[i:i + 1] == b"%" and len(hexa) == 2 and all(c in b"0123456789abcdefABCDEF" for c in hexa):
            out.append(int(hexa, 16))
            i += 3
        else:
            out += raw[i:i + 1]
            i += 1
    return out.decode("utf-8", "surrogateescape")


def parse_declaration_value(value: str) -> NoteDeclaration:
    """Parse one `Provenance-Declaration` value; MalformedSignature when it breaks the grammar."""
    parts = value.split()
    if len(parts) < 5:
        raise MalformedSignature(f"expected at least 5 fields, got {len(parts)}")
    version, signer, change, ai, *by, b64 = parts
    if ai.lower() not in ("yes", "no"):
        raise MalformedSignature(f"the declared value {ai!r} is neither yes nor no")
    if any(not v.startswith(_BY) for v in by):
        raise MalformedSignature("an Assisted-by value must be written by=VALUE")
    sig = parse_signature_value(f"{version} declare {signer} {change} {b64}")
    return NoteDeclaration(sig, ai.lower() == "yes", tuple(_unescape(v[len(_BY):]) for v in by))


def declaration_line(signature: SignatureLine, ai: bool, assisted_by: Iterable[str]) -> str:
    """The note line of one signed declaration: its values and its signature, together."""
    if signature.role != "declare":
        raise ProvenanceError(f"a {signature.role} signature is not a declaration")
    return f"{KEY_DECLARATION}: {NoteDeclaration(signature, ai, tuple(assisted_by)).value()}"


def fields(text: str) -> list[tuple[str, str]]:
    """The `Key: value` lines of a note, keys lower-cased."""
    out = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out.append((key.strip().lower(), value.strip()))
    return out


def read(commit: str, cwd: str | Path | None = None) -> list[str]:
    """The lines of the note on `commit` (empty when there is none)."""
    out = notes.show(commit, cwd)
    return [ln for ln in out.decode("utf-8", "surrogateescape").splitlines() if ln.strip()]


def merged_lines(existing: Iterable[str], new: Iterable[str]) -> list[str]:
    """What `cat_sort_uniq` would make of the two: sorted, de-duplicated, no blank lines."""
    return sorted({ln.strip() for ln in (*existing, *new) if ln.strip()})


def add_attestation(commit: str, lines: Sequence[str], cwd: str | Path | None = None) -> None:
    """Add attestation lines to the note on `commit`, one per line (never a blank separator,
    which `git notes append` would insert)."""
    for line in lines:
        if "\n" in line or "\r" in line:
            raise ProvenanceError(f"an attestation must be one line: {line!r}")
    text = "".join(ln + "\n" for ln in merged_lines(read(commit, cwd), lines))
    notes.write(commit, text.encode("utf-8", "surrogateescape"), cwd)
