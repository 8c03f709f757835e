"""SSH public keys: the key type, its blob, an OpenSSH `.pub` line, and the cryptography key object.

Shared by signature checks (`sshsig`), signing (`signing`), key files (`keyfile`), the agent
client (`agent`) and the policy's `keys`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from typing import TYPE_CHECKING

from cryptography import exceptions as crypto_exceptions

from provenance.errors import ProvenanceError
from provenance.ssh.encoding import _public_from_blob, _take_str

if TYPE_CHECKING:
    from cryptography.hazmat.primitives import hashes

# Hash names in cryptography's `hashes` module, per ECDSA key type.
_EC_HASHES: dict[str, str] = {
    "ecdsa-sha2-nistp256": "SHA256",
    "ecdsa-sha2-nistp384": "SHA384",
    "ecdsa-sha2-nistp521": "SHA512",
}
_KEY_TYPES = frozenset({"ssh-ed25519", "ssh-rsa", *_EC_HASHES})


def _hash(name: str) -> hashes.HashAlgorithm:
    from cryptography.hazmat.primitives import hashes

    algorithm: hashes.HashAlgorithm = getattr(hashes, name)()
    return algorithm


class PublicKey:
    """An SSH public key: equal and hashed by algorithm and blob; the comment is not compared.

    A plain immutable class rather than a dataclass: importing `dataclasses` costs a commit ~10 ms.
    """

    __slots__ = ("_hash", "algorithm", "blob", "comment")
    algorithm: str
    blob: bytes
    comment: str
    _hash: int

    def __init__(self, algorithm: str, blob: bytes, comment: str = "") -> None:
        object.__setattr__(self, "algorithm", algorithm)
        object.__setattr__(self, "blob", blob)
        object.__setattr__(self, "comment", comment)
        # Computed once: the audit hashes a key for every revocation, policy and cache look-up.
        object.__setattr__(self, "_hash", hash((algorithm, blob)))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, PublicKey)
        return (self.algorithm, self.blob) == (other.algorithm, other.blob)

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[PublicKey], tuple[str, bytes, str]]:
        return PublicKey, (self.algorithm, self.blob, self.comment)

    def __repr__(self) -> str:
        return f"PublicKey(algorithm={self.algorithm!r}, blob={self.blob!r}, comment={self.comment!r})"

    def openssh(self) -> str:
        return f"{self.algorithm} {base64.b64encode(self.blob).decode()}"

    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _public_key_from_blob(blob: bytes, comment: str = "") -> PublicKey:
    key_type, _ = _take_str(blob)
    algorithm = key_type.decode("ascii", "replace")
    if algorithm not in _KEY_TYPES:
        raise ValueError(f"unsupported key type {algorithm!r}")
    return PublicKey(algorithm, blob, comment)


# An audit decodes thousands of signatures by a few keys: one PublicKey per key blob.
_key_of_blob = functools.lru_cache(maxsize=1024)(_public_key_from_blob)


@functools.lru_cache(maxsize=1024)  # an audit verifies thousands of signatures by a few keys
def _load_public(key: PublicKey) -> object:
    """The cryptography key object; ValueError if the blob is not a valid key of its type."""
    if key.algorithm not in _KEY_TYPES:
        raise ValueError(f"unsupported key type {key.algorithm!r}")
    try:
        return _public_from_blob(key.algorithm, key.blob)
    # NotImplementedError: cryptography's answer to compressed or infinity EC points.
    except (crypto_exceptions.UnsupportedAlgorithm, NotImplementedError, TypeError) as e:
        raise ValueError(str(e) or "unsupported key encoding") from None


def parse_public_key(line: str) -> PublicKey:
    """Parse `type base64 [comment]` (an OpenSSH .pub line)."""
    parts = line.strip().split(None, 2)
    if len(parts) < 2:
        raise ProvenanceError(f"not an SSH public key: {line.strip()[:60]!r}")
    try:
        blob = base64.b64decode(parts[1], validate=True)
        key = _public_key_from_blob(blob, parts[2].strip() if len(parts) > 2 else "")
        if key.algorithm != parts[0]:
            raise ValueError("key type does not match its blob")
        _load_public(key)
    except (ValueError, binascii.Error) as e:
        raise ProvenanceError(f"not a valid SSH public key ({e}): {line.strip()[:60]!r}") from None
    return key
