"""SSHSIG signatures (OpenSSH PROTOCOL.sshsig): the blob, its armor and base64, and verification.

Verification runs in-process and never spawns a process (a `ssh-keygen -Y verify` per signature
is ~60x slower). Signing is `signing`; keys are `keys`, key files `keyfile`, the agent `agent`,
and the SSH wire encoding (strings, mpints, key blobs) `encoding`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from collections.abc import Callable, Iterable
from typing import NamedTuple

from cryptography import exceptions as crypto_exceptions
from cryptography.hazmat.primitives.asymmetric import ed25519

from provenance.errors import ProvenanceError
from provenance.ssh.encoding import _field, _str, _take_mpint, _u32
from provenance.ssh.keys import _EC_HASHES, PublicKey, _hash, _key_of_blob, _load_public

# Only Ed25519 is imported up front: RSA and ECDSA keys are rare, and every commit hook that signs
# imports this module (cryptography's other key modules cost it ~3 ms).

NAMESPACE = "git-provenance"

_MAGIC = b"SSHSIG"
_VERSION = 1
_SIGN_HASH = "sha512"
_HASHES: dict[str, Callable[[bytes], hashlib._Hash]] = {
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}
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


class SshSig(NamedTuple):
    public_key: PublicKey
    namespace: str
    hash_alg: str
    signature: bytes


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


def _signed_data(namespace: str, hash_alg: str, digest: bytes) -> bytes:
    return _signed_prefix(namespace, hash_alg) + _str(digest)


@functools.lru_cache(maxsize=64)  # the same namespace and hash for every signature of an audit
def _signed_prefix(namespace: str, hash_alg: str) -> bytes:
    return _MAGIC + _str(namespace.encode()) + _str(b"") + _str(hash_alg.encode())


def _check_raw(key: PublicKey, signature: bytes, data: bytes) -> None:
    """Raise ValueError unless `signature` (SSH encoding) is `key`'s signature over `data`."""
    sig_type, pos = _field(signature, 0)
    raw, pos = _field(signature, pos)
    if pos != len(signature):
        raise ValueError("trailing data in signature")
    algorithm = sig_type.decode("ascii", "replace")
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
    data = _signed_data(namespace, sig.hash_alg, _HASHES[sig.hash_alg](message).digest())
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
