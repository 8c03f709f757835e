"""SHA-256 and SHA-512 for every caller: OpenSSL's (hashlib) unless a commit hook asks for the
interpreter's own.

hashlib's import loads OpenSSL's libcrypto: ~5 ms of a commit hook (more under load), which hashes
one patch, one statement and a key or two. CPython's built-in `_sha256` and `_sha512` import in
~0.5 ms and hash ~3x slower: nothing a hook's few kilobytes notice, and everything the audit's
digest (its hot loop) would. So the hooks ask for them (`use_builtin`, main.py), a patch above
`BUILTIN_LIMIT` goes back to OpenSSL (`wire/digest.py`), and everyone else gets OpenSSL's, imported
on first use. Callers look the functions up here at each call (`hashes.sha256(...)`): `use_*`
rebinds them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: a commit hook imports this module
if TYPE_CHECKING:
    from collections.abc import Callable
    from hashlib import _Hash

    Hash = Callable[..., _Hash]

# Above this many bytes a hook's digest is OpenSSL's: the built-in sha256 takes ~12 ms a MiB more
# (measured on this project's 2-core machine), which passes hashlib's import near 0.4 MiB.
BUILTIN_LIMIT = 1 << 18


def use_openssl() -> None:
    """hashlib's functions from now on, in this process."""
    global sha256, sha512
    import hashlib

    sha256, sha512 = hashlib.sha256, hashlib.sha512


def use_builtin() -> None:
    """The interpreter's own functions from now on, in this process; OpenSSL's when the
    interpreter was built without them."""
    global sha256, sha512
    try:
        from _sha256 import sha256 as builtin_256  # type: ignore[import-not-found]
        from _sha512 import sha512 as builtin_512  # type: ignore[import-not-found]
    except ImportError:
        use_openssl()
        return
    sha256, sha512 = builtin_256, builtin_512


def _first_sha256(data: bytes = b"") -> _Hash:
    use_openssl()
    return sha256(data)


def _first_sha512(data: bytes = b"") -> _Hash:
    use_openssl()
    return sha512(data)


sha256: Hash = _first_sha256
sha512: Hash = _first_sha512
