"""The verdict cache as one walk sees it: every key of the walk shares one context."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from provenance.audit import cache


@dataclass(frozen=True)
class Verdicts:
    """The verdict cache as one walk sees it; `context` is what every key of the walk shares."""

    db: cache.Cache
    context: bytes

    def key(self, *fields: str | None) -> bytes:
        """A verdict's key; a field is hex, a digest, a hash or None, so NUL separates them."""
        return self.db.verdict_key(self.context, "\0".join(map(str, fields)))


def ident(policy_identity: str) -> str:
    return hashlib.sha256(policy_identity.encode("utf-8", "surrogateescape")).hexdigest()
