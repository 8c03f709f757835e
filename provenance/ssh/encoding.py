"""The SSH wire format (RFC 4251 section 5): uint32, string and mpint, and public key blobs.

Shared by `sshsig` (key and signature blobs), `signing`, `keyfile` and `agent`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: a commit hook imports this module
if TYPE_CHECKING:
    from collections.abc import Callable

_MAX_MPINT = 16384 // 8 + 1  # OpenSSH's SSHBUF_MAX_BIGNUM


def _u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def _str(data: bytes) -> bytes:
    return _u32(len(data)) + data


def _take_u32(data: bytes) -> tuple[int, bytes]:
    if len(data) < 4:
        raise ValueError("truncated")
    return int.from_bytes(data[:4], "big"), data[4:]


def _take_str(data: bytes) -> tuple[bytes, bytes]:
    n, rest = _take_u32(data)
    if n > len(rest):
        raise ValueError("truncated")
    return rest[:n], rest[n:]


def _field(data: bytes, pos: int) -> tuple[bytes, int]:
    """The SSH string at data[pos:] and the offset after it: `_take_str` without copying the rest."""
    start = pos + 4
    end = start + int.from_bytes(data[pos:start], "big")
    if end > len(data):  # also when fewer than 4 bytes were left: end >= start > len(data)
        raise ValueError("truncated")
    return data[start:end], end


def _mpint(n: int) -> bytes:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return _str(b"\0" + raw if raw and raw[0] & 0x80 else raw)


def _take_mpint(data: bytes) -> tuple[int, bytes]:
    raw, rest = _take_str(data)
    # The same strictness as OpenSSH's sshbuf_get_bignum2: positive, minimal, bounded.
    if len(raw) > _MAX_MPINT or (raw and raw[0] & 0x80):
        raise ValueError("bad mpint")
    if len(raw) > 1 and raw[0] == 0 and not raw[1] & 0x80:
        raise ValueError("non-minimal mpint")
    return int.from_bytes(raw, "big"), rest


# Ed25519 points of small order (libsodium's blocklist, sign bit cleared): OpenSSL verifies a
# signature by such a key that anyone can make (R the identity, S = 0), so no such key is a key.
_SMALL_ORDER_ED25519 = frozenset(bytes.fromhex(h) for h in (
    "00" * 32,
    "01" + "00" * 31,
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "ec" + "ff" * 30 + "7f",
    "ed" + "ff" * 30 + "7f",
    "ee" + "ff" * 30 + "7f",
))


def ed25519_public_raw(blob: bytes) -> bytes:
    """The 32 bytes of an `ssh-ed25519` key blob (RFC 8709); ValueError for no valid key. Read
    without cryptography: a commit hook signs and checks with libsodium."""
    name, rest = _take_str(blob)
    if name != b"ssh-ed25519":
        raise ValueError("key type does not match its blob")
    raw, rest = _take_str(rest)
    if len(raw) != 32:
        raise ValueError("bad Ed25519 key length")
    if raw[:31] + bytes([raw[31] & 0x7F]) in _SMALL_ORDER_ED25519:
        raise ValueError("an Ed25519 key of small order, which anyone can sign for")
    if rest:
        raise ValueError("trailing data in key")
    return raw


def _public_from_blob(algorithm: str, blob: bytes) -> object:
    """Build the key straight from its SSH wire blob (RFC 4253, 5656, 8709).

    cryptography's serialization.ssh module would do the same, but importing it costs a commit
    hook more than the whole signature.
    """
    if algorithm == "ssh-ed25519":
        from cryptography.hazmat.primitives.asymmetric import ed25519

        return ed25519.Ed25519PublicKey.from_public_bytes(ed25519_public_raw(blob))
    name, rest = _take_str(blob)
    if name.decode("ascii", "replace") != algorithm:
        raise ValueError("key type does not match its blob")
    if algorithm == "ssh-rsa":
        from cryptography.hazmat.primitives.asymmetric import rsa

        e, rest = _take_mpint(rest)
        n, rest = _take_mpint(rest)
        if e < 3 or n < 3:
            raise ValueError("bad RSA key")
        key: object = rsa.RSAPublicNumbers(e, n).public_key()
    else:
        from cryptography.hazmat.primitives.asymmetric import ec

        curves: dict[str, Callable[[], ec.EllipticCurve]] = {
            "nistp256": ec.SECP256R1, "nistp384": ec.SECP384R1, "nistp521": ec.SECP521R1,
        }
        curve_name, rest = _take_str(rest)
        point, rest = _take_str(rest)
        curve = curves.get(curve_name.decode("ascii", "replace"))
        if curve is None or algorithm != f"ecdsa-sha2-{curve_name.decode('ascii', 'replace')}":
            raise ValueError("unsupported or mismatched ECDSA curve")
        key = ec.EllipticCurvePublicKey.from_encoded_point(curve(), point)
    if rest:
        raise ValueError("trailing data in key")
    return key
