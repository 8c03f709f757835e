"""SSHSIG signatures (OpenSSH PROTOCOL.sshsig): public keys, the signature blob, its armor and
base64, and verification, in-process.

Verification never spawns a process (a `ssh-keygen -Y verify` per signature is ~60x slower).
Signing is `signing`, key files are read by `keyfile`, the agent is spoken to by `agent`, and the
SSH wire format (strings, mpints, key blobs) is `encoding`; they import this module, never the
other way round.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable, Iterable

from provenance import hashes
from provenance.errors import ProvenanceError
from provenance.records import NamedTuple
from provenance.ssh.encoding import (
    _field,
    _public_from_blob,
    _str,
    _take_mpint,
    _take_str,
    _u32,
    ed25519_public_raw,
)

TYPE_CHECKING = False  # not typing's: a commit hook imports this module (provenance/records.py)
if TYPE_CHECKING:
    from cryptography.hazmat.primitives import hashes as crypto_hashes

# cryptography is imported where a key or check needs it: a commit hook that signs with an
# Ed25519 key file reads, signs and checks through libsodium (`sodium`) and never loads it.

NAMESPACE = "git-provenance"

_MAGIC = b"SSHSIG"
_VERSION = 1
_SIGN_HASH = "sha512"
_HASHES = frozenset({"sha256", "sha512"})  # the names SSHSIG allows, looked up in `hashes`
# Hash names in cryptography's `hashes` module, per ECDSA key type.
_EC_HASHES: dict[str, str] = {
    "ecdsa-sha2-nistp256": "SHA256",
    "ecdsa-sha2-nistp384": "SHA384",
    "ecdsa-sha2-nistp521": "SHA512",
}
_KEY_TYPES = frozenset({"ssh-ed25519", "ssh-rsa", *_EC_HASHES})
# RSA signature algorithms we accept; "ssh-rsa" (SHA-1) is deliberately absent.
_RSA_SIG_HASHES: dict[str, str] = {
    "rsa-sha2-512": "SHA512",
    "rsa-sha2-256": "SHA256",
}
_RSA_MIN_BITS = 1024  # OpenSSH's SSH_RSA_MINIMUM_MODULUS_SIZE

_ARMOR_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_ARMOR_END = "-----END SSH SIGNATURE-----"
_ARMOR_WIDTH = 70  # what ssh-keygen writes (sshbuf-misc.c), though the spec says 76

class InvalidSignature(ProvenanceError):
    """The signature blob is malformed, unsupported, or does not verify."""


def _hash(name: str) -> crypto_hashes.HashAlgorithm:
    from cryptography.hazmat.primitives import hashes as crypto_hashes

    algorithm: crypto_hashes.HashAlgorithm = getattr(crypto_hashes, name)()
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
        digest = hashes.sha256(self.blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class SshSig(NamedTuple):
    public_key: PublicKey
    namespace: str
    hash_alg: str
    signature: bytes


# --- Key blobs ---------------------------------------------------------------------------------


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
    from cryptography import exceptions as crypto_exceptions

    try:
        return _public_from_blob(key.algorithm, key.blob)
    # NotImplementedError: cryptography's answer to compressed or infinity EC points.
    except (crypto_exceptions.UnsupportedAlgorithm, NotImplementedError, TypeError) as e:
        raise ValueError(str(e) or "unsupported key encoding") from None


def _check_key(key: PublicKey) -> None:
    """ValueError unless the blob is a valid key of its type (an Ed25519 key without cryptography)."""
    if key.algorithm == "ssh-ed25519":
        _ed25519_raw(key)
    else:
        _load_public(key)


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
        _check_key(key)
    except (ValueError, binascii.Error) as e:
        raise ProvenanceError(f"not a valid SSH public key ({e}): {line.strip()[:60]!r}") from None
    return key


# --- Blob, armor, base64 -----------------------------------------------------------------------


def encode_blob(sig: SshSig) -> bytes:
    return (
        _MAGIC + _u32(_VERSION) + _str(sig.public_key.blob) + _str(sig.namespace.encode())
        + _str(b"") + _str(sig.hash_alg.encode()) + _str(sig.signature)
    )


# Signatures by one key in one namespace share every byte before their last field (magic to hash
# name). Headers that decoded without error are remembered with their fields: a blob starting
# with one decodes to those fields and the signature field after it, exactly as field by field.
# A blob is looked up by all but its last Ed25519-sized field (other keys just decode in full).
_HEADERS: dict[bytes, tuple[PublicKey, str, str]] = {}
_MAX_HEADERS = 1024
_ED25519_SIGNATURE_FIELD = 4 + 4 + len("ssh-ed25519") + 4 + 64


def decode_blob(blob: bytes) -> SshSig:
    header = blob[:-_ED25519_SIGNATURE_FIELD]
    known = _HEADERS.get(header)
    if known is not None:
        try:
            signature, pos = _field(blob, len(header))
        except ValueError as e:
            raise InvalidSignature(f"malformed SSH signature: {e}") from None
        if pos != len(blob):
            raise InvalidSignature("malformed SSH signature: unexpected extra data")
        return SshSig(*known, signature)
    sig, start = _decode_fields(blob)
    if len(_HEADERS) >= _MAX_HEADERS:
        _HEADERS.clear()
    _HEADERS[blob[:start]] = sig[:3]
    return sig


def _decode_fields(blob: bytes) -> tuple[SshSig, int]:
    """The blob's fields, and where the signature field starts."""
    try:
        if blob[:6] != _MAGIC:
            raise ValueError("not an SSH signature")
        if len(blob) < 10:
            raise ValueError("truncated")
        version = int.from_bytes(blob[6:10], "big")
        if version != _VERSION:
            raise ValueError(f"unsupported SSHSIG version {version}")
        key_blob, pos = _field(blob, 10)
        namespace, pos = _field(blob, pos)
        reserved, pos = _field(blob, pos)
        hash_alg, start = _field(blob, pos)
        signature, pos = _field(blob, start)
        # Stricter than ssh-keygen (which ignores `reserved`): one signature, one encoding.
        if reserved or pos != len(blob):
            raise ValueError("unexpected extra data")
        return SshSig(_key_of_blob(key_blob), namespace.decode(), hash_alg.decode(), signature), start
    except ValueError as e:  # includes UnicodeDecodeError
        raise InvalidSignature(f"malformed SSH signature: {e}") from None


def b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode()


def unb64(text: str) -> bytes:
    text = text.strip()
    # base64.b64decode(text, validate=True) and b64encode, without their Python wrappers (the
    # audit decodes every signature); a non-ASCII text raises UnicodeEncodeError, a ValueError.
    try:
        encoded = text.encode("ascii")
        raw = binascii.a2b_base64(encoded, strict_mode=True)
    except (ValueError, binascii.Error):
        raise InvalidSignature("signature is not valid base64") from None
    # Only the canonical spelling: a trailer must not be rewritable without changing its bytes.
    if not raw or binascii.b2a_base64(raw, newline=False) != encoded:
        raise InvalidSignature("signature is not canonical base64")
    return raw


def armor(blob: bytes) -> str:
    text = b64(blob)
    lines = [text[i:i + _ARMOR_WIDTH] for i in range(0, len(text), _ARMOR_WIDTH)]
    return "\n".join([_ARMOR_BEGIN, *lines, _ARMOR_END]) + "\n"


def dearmor(text: str) -> bytes:
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != _ARMOR_BEGIN or lines[-1] != _ARMOR_END:
        raise InvalidSignature("not an armored SSH signature")
    return unb64("".join(lines[1:-1]))


# --- Verification ------------------------------------------------------------------------------


def message_hash(hash_alg: str, message: bytes) -> bytes:
    """The digest of `message` an SSHSIG signature with `hash_alg` (one of `_HASHES`) signs."""
    return (hashes.sha512 if hash_alg == "sha512" else hashes.sha256)(message).digest()


def _signed_data(namespace: str, hash_alg: str, digest: bytes) -> bytes:
    return _signed_prefix(namespace, hash_alg) + _str(digest)


@functools.lru_cache(maxsize=64)  # the same namespace and hash for every signature of an audit
def _signed_prefix(namespace: str, hash_alg: str) -> bytes:
    return _MAGIC + _str(namespace.encode()) + _str(b"") + _str(hash_alg.encode())


# libsodium's Ed25519 check, once an audit or a hook that signed installs it (`use_libsodium`).
_ed25519_check: Callable[[bytes, bytes, bytes], bool] | None = None


def use_libsodium() -> bool:
    """Check Ed25519 signatures with libsodium from now on, in this process (`ssh/sodium.py`)."""
    global _ed25519_check
    if _ed25519_check is None:
        from provenance.ssh import sodium

        _ed25519_check = sodium.load()
    return _ed25519_check is not None


@functools.lru_cache(maxsize=1024)  # a few keys sign all of an audit's signatures
def _ed25519_raw(key: PublicKey) -> bytes | None:
    """The raw 32 bytes of an Ed25519 key, as libsodium takes it (None for any other key); raises
    ValueError for a blob that is no valid key, as `_load_public` does."""
    return ed25519_public_raw(key.blob) if key.algorithm == "ssh-ed25519" else None


def _check_raw(key: PublicKey, signature: bytes, data: bytes) -> None:
    """Raise ValueError unless `signature` (SSH encoding) is `key`'s signature over `data`."""
    sig_type, pos = _field(signature, 0)
    raw, pos = _field(signature, pos)
    if pos != len(signature):
        raise ValueError("trailing data in signature")
    algorithm = sig_type.decode("ascii", "replace")
    if _ed25519_check is not None and algorithm == "ssh-ed25519" and \
            (ed_raw := _ed25519_raw(key)) is not None:  # the audit's path: one check a commit
        if len(raw) != 64:
            raise ValueError("bad Ed25519 signature length")
        if not _ed25519_check(ed_raw, raw, data):
            raise ValueError("signature does not verify")
        return
    from cryptography import exceptions as crypto_exceptions
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = _load_public(key)
    try:
        if isinstance(public, ed25519.Ed25519PublicKey) and algorithm == "ssh-ed25519":
            if len(raw) != 64:
                raise ValueError("bad Ed25519 signature length")
            public.verify(raw, data)
        elif isinstance(public, ed25519.Ed25519PublicKey):
            raise ValueError(f"signature type {algorithm!r} does not fit a {key.algorithm} key")
        else:
            _check_rsa_or_ecdsa(public, key.algorithm, algorithm, raw, data)
    except crypto_exceptions.InvalidSignature:
        raise ValueError("signature does not verify") from None


def _check_rsa_or_ecdsa(public: object, key_algorithm: str, algorithm: str, raw: bytes,
                        data: bytes) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    if isinstance(public, rsa.RSAPublicKey) and algorithm in _RSA_SIG_HASHES:
        size = (public.key_size + 7) // 8
        if public.key_size < _RSA_MIN_BITS or len(raw) > size:
            raise ValueError("bad RSA key size or signature length")
        # OpenSSH pads short RSA signatures with leading zeros; so do we.
        public.verify(raw.rjust(size, b"\0"), data, padding.PKCS1v15(),
                      _hash(_RSA_SIG_HASHES[algorithm]))
    elif isinstance(public, ec.EllipticCurvePublicKey) and algorithm == key_algorithm:
        r, tail = _take_mpint(raw)
        s, tail = _take_mpint(tail)
        if tail or not r or not s:
            raise ValueError("bad ECDSA signature")
        public.verify(encode_dss_signature(r, s), data, ec.ECDSA(_hash(_EC_HASHES[algorithm])))
    else:
        raise ValueError(f"signature type {algorithm!r} does not fit a {key_algorithm} key")


def verify(blob: bytes, message: bytes, namespace: str = NAMESPACE) -> PublicKey:
    sig = decode_blob(blob)
    if sig.namespace != namespace:
        raise InvalidSignature(f"signature is for namespace {sig.namespace!r}, not {namespace!r}")
    if sig.hash_alg not in _HASHES:
        raise InvalidSignature(f"unsupported signature hash {sig.hash_alg!r}")
    data = _signed_data(namespace, sig.hash_alg, message_hash(sig.hash_alg, message))
    try:
        _check_raw(sig.public_key, sig.signature, data)
    except (ValueError, TypeError, OverflowError) as e:
        raise InvalidSignature(f"bad signature by {sig.public_key.fingerprint()}: {e}") from None
    return sig.public_key


def allowed_signers_line(
    principals: Iterable[str], key: PublicKey, namespace: str = NAMESPACE
) -> str:
    """One OpenSSH allowed_signers line for `key`, limited to `namespace`."""
    names = list(principals)
    bad = [p for p in [*names, namespace] if not p or any(c in p for c in ' \t\r\n",')]
    if not names or bad:
        raise ProvenanceError(f"cannot write an allowed_signers line for {names} / {namespace!r}")
    return f'{",".join(names)} namespaces="{namespace}" {key.openssh()}'
