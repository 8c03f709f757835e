"""Wire format v1: the signed statement bytes and the `Provenance-Signature:` line.

See docs/spec.md. This module is the contract that outlives the code: change nothing here without a
new version number.
"""

from __future__ import annotations

import functools
import re

from provenance.records import NamedTuple

KEY_AI_ASSISTED = "AI-Assisted"
KEY_ASSISTED_BY = "Assisted-by"
KEY_SIGNATURE = "Provenance-Signature"
PROVENANCE_KEYS = frozenset(k.lower() for k in (KEY_AI_ASSISTED, KEY_ASSISTED_BY, KEY_SIGNATURE))

ROLES = ("declare", "cosign")
_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
# Conservative: no whitespace, must hold one '@'. Look-alike characters are compared as written.
_EMAIL_RE = re.compile(r"[^\s@]+@[^\s@]+")
_B64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")


@functools.cache
def _plain_signature() -> re.Pattern[str]:
    """A value as the tools write it (single spaces, no folding), checked by the rules of
    `parse_signature_value` in one go; compiled on first use (a commit hook rarely needs it)."""
    return re.compile(
        r"v1 (declare|cosign) ([^\s@]+@[^\s@]+) (sha256:[0-9a-f]{64}) ([A-Za-z0-9+/]+={0,2})")


# Records are NamedTuples, not dataclasses: importing `dataclasses` costs a commit hook ~10 ms.
class Statement(NamedTuple):
    """What a signer vouches for. `to_bytes` is the exact byte string under the SSHSIG signature."""

    role: str
    change: str
    author: str
    signer: str
    ai_assisted: bool | None = None
    assisted_by: tuple[str, ...] = ()
    policy: str | None = None
    covers: tuple[str, ...] = ()

    def to_bytes(self) -> bytes:
        # One string built in place: the audit makes one statement per signature it checks.
        text = (f"git-provenance-statement v1\nrole {self.role}\nchange {self.change}\n"
                f"author {self.author.lower()}\n")
        if self.role == "declare":
            text += f"ai-assisted {'yes' if self.ai_assisted else 'no'}\n"
            if self.assisted_by:
                text += "".join(f"assisted-by {v}\n" for v in sorted(set(self.assisted_by)))
        if self.covers:
            text += "".join(f"covers {d}\n" for d in sorted(set(self.covers)))
        if self.policy is not None:
            text += f"policy {self.policy}\n"
        return f"{text}signer {self.signer.lower()}\n".encode()


class SignatureLine(NamedTuple):
    """A parsed `Provenance-Signature:` value: `v1 ROLE SIGNER sha256:HEX BASE64`."""

    role: str
    signer: str
    change: str
    signature_b64: str

    def value(self) -> str:
        return f"v1 {self.role} {self.signer} {self.change} {self.signature_b64}"


class MalformedSignature(ValueError):
    """A `Provenance-Signature` value that does not follow wire format v1 (audit: invalid-signature)."""


def parse_signature_value(value: str) -> SignatureLine:
    """Parse one signature value; folded values (spaces inside the base64) are rejoined."""
    plain = _plain_signature().fullmatch(value)
    if plain is not None and not len(plain[4]) % 4:
        role, signer, change, b64 = plain.groups()
        return SignatureLine(role, signer.lower(), change, b64)
    return _parse_fields(value)


def _parse_fields(value: str) -> SignatureLine:
    """The wire format's rules field by field: what the one-regex fast path must agree with."""
    parts = value.split()
    if len(parts) < 5:
        raise MalformedSignature(f"expected 5 fields, got {len(parts)}")
    version, role, signer, change = parts[:4]
    b64 = "".join(parts[4:])
    if version != "v1":
        raise MalformedSignature(f"unknown version {version!r}")
    if role not in ROLES:
        raise MalformedSignature(f"unknown role {role!r}")
    if not _EMAIL_RE.fullmatch(signer):
        raise MalformedSignature(f"signer {signer!r} is not an email address")
    if not _DIGEST_RE.fullmatch(change):
        raise MalformedSignature(f"change {change!r} is not sha256:<64 lower-case hex>")
    if not _B64_RE.fullmatch(b64) or len(b64) % 4:
        raise MalformedSignature("signature is not base64")
    return SignatureLine(role=role, signer=signer.lower(), change=change, signature_b64=b64)


def parse_ai_assisted(value: str) -> bool | None:
    """`yes` / `no` (case-insensitive); anything else is None (the audit reports it)."""
    v = value.strip().lower()
    if v == "yes":
        return True
    if v == "no":
        return False
    return None
