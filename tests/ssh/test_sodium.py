"""Ed25519 through libsodium (ssh/sodium.py): never accepts what OpenSSL's check refuses, signs
what OpenSSL signs, and nothing loads it before it checks or signs."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from provenance.errors import ProvenanceError
from provenance.ssh import sodium, sshsig
from provenance.ssh.encoding import _str
from provenance.ssh.sshsig import InvalidSignature, PublicKey, SshSig

MESSAGE = b"git-provenance-statement v1\nrole declare\nchange sha256:" + b"cd" * 32 + b"\n"
L = 2**252 + 27742317777372353535851937790883648493  # the group order: S must be below it
IDENTITY = b"\x01" + b"\x00" * 31  # the neutral point: a small-order "key"
SMALL_ORDER_R = bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")


@pytest.fixture(params=["openssl", "libsodium"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    saved = sshsig._ed25519_check
    sshsig._ed25519_check = None if request.param == "openssl" else sodium.load()
    assert request.param == "openssl" or sshsig._ed25519_check is not None  # PyNaCl is installed
    yield request.param
    sshsig._ed25519_check = saved


def _blob(public_raw: bytes, signature_raw: bytes) -> bytes:
    key = PublicKey("ssh-ed25519", _str(b"ssh-ed25519") + _str(public_raw))
    return sshsig.encode_blob(SshSig(key, sshsig.NAMESPACE, "sha512",
                                     _str(b"ssh-ed25519") + _str(signature_raw)))


def _data(message: bytes) -> bytes:
    return sshsig._signed_data(sshsig.NAMESPACE, "sha512", hashlib.sha512(message).digest())


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]


def _cases() -> dict[str, tuple[bytes, bytes, bytes]]:
    """(public key, signature, message) for an honest signature and the ways one goes wrong."""
    private = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
    other = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x08" * 32).public_key().public_bytes_raw()
    public = private.public_key().public_bytes_raw()
    good = private.sign(_data(MESSAGE))
    s = int.from_bytes(good[32:], "little")
    cases = {"honest": (public, good, MESSAGE),
             "other message": (public, good, MESSAGE + b"x"),
             "other key": (other, good, MESSAGE),
             "non-canonical S (S + L)": (public, good[:32] + (s + L).to_bytes(32, "little"), MESSAGE),
             "all zero": (public, b"\x00" * 64, MESSAGE),
             "identity key, identity R, S = 0": (IDENTITY, IDENTITY + b"\x00" * 32, MESSAGE),
             "small-order R": (public, SMALL_ORDER_R + good[32:], MESSAGE)}
    for at in (0, 31, 32, 63):
        cases[f"bit flipped in byte {at}"] = (public, _flip(good, at), MESSAGE)
    return cases


CASES = _cases()


def _accepts(check: Callable[[bytes, bytes], PublicKey], case: tuple[bytes, bytes, bytes]) -> bool:
    public, signature, message = case
    try:
        check(_blob(public, signature), message)
    except InvalidSignature:
        return False
    return True


@pytest.mark.parametrize("name", sorted(CASES))
def test_libsodium_accepts_nothing_openssl_refuses(name: str, backend: str) -> None:
    accepted = _accepts(sshsig.verify, CASES[name])
    # OpenSSL alone would accept a forgery on the neutral "key" (R the identity, S = 0): such a
    # key is refused before either backend is asked (ssh/encoding.py).
    assert accepted == (name == "honest"), name


SMALL_ORDER_KEYS = {"identity": IDENTITY, "order 2": SMALL_ORDER_R,
                    "order 4": b"\x00" * 32, "order 4, sign bit set": b"\x00" * 31 + b"\x80",
                    "order 8": bytes.fromhex(
                        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
                    "non-canonical identity (p + 1)": b"\xee" + b"\xff" * 30 + b"\x7f"}


@pytest.mark.parametrize("name", sorted(SMALL_ORDER_KEYS))
def test_a_small_order_key_is_no_key(name: str) -> None:
    # A policy naming one would let anyone sign as that senior where OpenSSL verifies.
    blob = _str(b"ssh-ed25519") + _str(SMALL_ORDER_KEYS[name])
    with pytest.raises(ProvenanceError, match="small order"):
        sshsig.parse_public_key(f"ssh-ed25519 {base64.b64encode(blob).decode()} mallory")


def test_libsodium_signs_what_openssl_signs_byte_for_byte() -> None:
    # Ed25519 is deterministic (RFC 8032): a hook's signature does not depend on the library.
    for seed in (b"\x07" * 32, bytes(range(32)), hashlib.sha256(b"bob").digest()):
        data = _data(MESSAGE + seed)
        sign = sodium.load_signer()
        assert sign is not None  # PyNaCl is installed
        assert sign(seed, data) == ed25519.Ed25519PrivateKey.from_private_bytes(seed).sign(data)


def test_a_seed_of_the_wrong_length_signs_nothing() -> None:
    sign = sodium.load_signer()
    assert sign is not None
    for seed in (b"", b"\x07" * 31, b"\x07" * 33, b"\x07" * 64):
        with pytest.raises(ValueError):
            sign(seed, b"data")


def test_importing_the_hook_path_loads_neither_library() -> None:
    # A fresh interpreter: importing what a hook imports loads no crypto library; an audit
    # switches libsodium's check on (a hook that signs does too, tests/record/test_hook_imports.py).
    code = """
import sys
from provenance.record import hooks, declare
from provenance.ssh import signing, sshsig
assert sshsig._ed25519_check is None
assert not [m for m in sys.modules if m.split(".")[0] in ("nacl", "cryptography")], "imported"
assert sshsig.use_libsodium() and sshsig._ed25519_check is not None
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.stderr
