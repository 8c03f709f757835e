"""Ed25519 through libsodium (PyNaCl's build of it): the audit's checks, and a commit hook's
signature with the key it checks right after.

Measured on the bench's signatures at ~0.55x the time of cryptography's (OpenSSL's) verify; an
audit checks a signature or more a commit, so this is most of a signed audit's own time. A commit
hook signs here too: PyNaCl's compiled module imports in ~1.5 ms, cryptography's Ed25519 in ~15-30
(docs/performance.md). Ed25519 signatures are deterministic (RFC 8032): libsodium's are OpenSSL's,
byte for byte. ECDSA, RSA, encrypted and PEM keys stay with cryptography.

libsodium is stricter than OpenSSL and OpenSSH: it also refuses small-order keys and R points.
Such a signature is invalid here where `ssh-keygen -Y verify` may accept it; no honest signer makes
one, and the audit then fails closed.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: a commit hook imports this module
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Check = Callable[[bytes, bytes, bytes], bool]
    Sign = Callable[[bytes, bytes], bytes]


def _library() -> tuple[Any, Any] | None:
    """PyNaCl's cffi `ffi` and `lib`, initialised; None without PyNaCl."""
    try:
        from nacl._sodium import ffi, lib  # type: ignore[import-not-found]  # nacl.bindings: more
    except ImportError:
        return None
    if lib.sodium_init() < 0:
        return None
    return ffi, lib


def load() -> Check | None:
    """`check(public_raw, signature_raw, data)`: True iff the signature verifies; None without
    PyNaCl (the caller keeps cryptography's verify)."""
    found = _library()
    if found is None:
        return None
    ffi, lib = found
    sign_open, null, new = lib.crypto_sign_open, ffi.NULL, ffi.new

    def check(public: bytes, signature: bytes, data: bytes) -> bool:
        signed = signature + data
        return bool(sign_open(new("unsigned char[]", len(signed)), null, signed, len(signed),
                              public) == 0)

    return check


def load_signer() -> Sign | None:
    """`sign(seed, data)`: the 64-byte Ed25519 signature of `data` by the key whose private half
    is the 32-byte `seed`; None without PyNaCl (the caller signs with cryptography)."""
    found = _library()
    if found is None:
        return None
    ffi, lib = found

    def sign(seed: bytes, data: bytes) -> bytes:
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        # The key pair from the seed alone: libsodium signs with the public half it is given,
        # so it never takes one from the key file.
        public, secret = ffi.new("unsigned char[]", 32), ffi.new("unsigned char[]", 64)
        signed = ffi.new("unsigned char[]", 64 + len(data))
        if lib.crypto_sign_seed_keypair(public, secret, seed) != 0 \
                or lib.crypto_sign(signed, ffi.NULL, data, len(data), secret) != 0:
            raise ValueError("libsodium could not sign")
        return bytes(ffi.buffer(signed, 64))

    return sign
