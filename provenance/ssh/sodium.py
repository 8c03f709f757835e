"""Ed25519 verification through libsodium (PyNaCl's build of it), for the audit only.

Measured on the bench's signatures at ~0.55x the time of cryptography's (OpenSSL's) verify; an
audit checks a signature or more a commit, so this is most of a signed audit's own time. Keys,
signing, ECDSA and RSA stay with cryptography. Hooks never import this module: PyNaCl's import
costs a commit ~2 ms for one check (docs/decisions.md).

libsodium is stricter than OpenSSL and OpenSSH: it also refuses small-order keys and R points.
Such a signature is invalid here where `ssh-keygen -Y verify` may accept it; no honest signer makes
one, and the audit then fails closed.
"""

from __future__ import annotations

from collections.abc import Callable

Check = Callable[[bytes, bytes, bytes], bool]


def load() -> Check | None:
    """`check(public_raw, signature_raw, data)`: True iff the signature verifies; None without
    PyNaCl (the caller keeps cryptography's verify)."""
    try:
        from nacl._sodium import ffi, lib  # type: ignore[import-not-found]  # nacl.bindings: more
    except ImportError:
        return None
    if lib.sodium_init() < 0:
        return None
    sign_open, null, new = lib.crypto_sign_open, ffi.NULL, ffi.new

    def check(public: bytes, signature: bytes, data: bytes) -> bool:
        signed = signature + data
        return bool(sign_open(new("unsigned char[]", len(signed)), null, signed, len(signed),
                              public) == 0)

    return check
