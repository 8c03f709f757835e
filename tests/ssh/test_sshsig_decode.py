"""Decoding untrusted signature bytes: random and mutated blobs only ever raise InvalidSignature,
and the offset-based decoder and base64 reader agree with the sequential ones they replaced."""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sshkeys import make_key
from test_sshsig import KINDS, MESSAGE

from provenance.errors import ProvenanceError
from provenance.ssh import encoding, keyfile, signing, sshsig
from provenance.ssh.sshsig import InvalidSignature, PublicKey, _public_key_from_blob


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    keydir = tmp_path_factory.mktemp("keys")
    return {name: make_key(keydir, name, kind, bits=bits) for name, (kind, bits) in KINDS.items()}


@pytest.fixture(scope="module")
def valid_blobs(keys: dict[str, Path]) -> list[bytes]:
    return [signing.sign(MESSAGE, path) for path in keys.values()]


FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes_only_ever_raise_invalid_signature(data: bytes) -> None:
    for call in (lambda: sshsig.verify(data, MESSAGE), lambda: sshsig.decode_blob(data),
                 lambda: sshsig.verify(b"SSHSIG\0\0\0\1" + data, MESSAGE)):
        try:
            call()
        except InvalidSignature:
            pass


@FUZZ
@given(text=st.text(max_size=200))
def test_unb64_only_ever_raises_invalid_signature(text: str) -> None:
    for call in (lambda: sshsig.verify(sshsig.unb64(text), MESSAGE),
                 lambda: sshsig.dearmor(text),
                 lambda: sshsig.dearmor(f"{sshsig.armor(b'')}{text}\n-----END SSH SIGNATURE-----")):
        try:
            call()
        except InvalidSignature:
            pass


@FUZZ
@given(which=st.integers(0, 3), edits=st.lists(
    st.tuples(st.integers(0, 10_000), st.integers(0, 255), st.sampled_from(["set", "del", "ins"])),
    min_size=1, max_size=4))
def test_mutated_valid_blobs_are_rejected_or_unchanged(
    valid_blobs: list[bytes], which: int, edits: list[tuple[int, int, str]]
) -> None:
    original = valid_blobs[which]
    blob = bytearray(original)
    for pos, value, op in edits:
        pos %= len(blob) + 1
        if op == "set" and pos < len(blob):
            blob[pos] = value
        elif op == "del" and pos < len(blob):
            del blob[pos]
        else:
            blob.insert(pos, value)
    try:
        sshsig.verify(bytes(blob), MESSAGE)
    except InvalidSignature:
        return
    # ECDSA's (r, s) vs (r, n - s) aside, only an edit that restored the bytes may still verify.
    assert bytes(blob) == original or "ecdsa" in sshsig.decode_blob(original).public_key.algorithm


def test_public_functions_only_raise_provenance_errors_for_odd_key_specs(tmp_path: Path) -> None:
    (tmp_path / "bin").write_bytes(os.urandom(64))
    (tmp_path / "fake").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n"
                                   "-----END OPENSSH PRIVATE KEY-----\n")
    (tmp_path / "fake").chmod(0o600)
    specs: list[str | Path] = ["", " ", "key::", "key::ssh-ed25519 AAAA", "ssh-ed25519 AAAA",
                               tmp_path / "bin", tmp_path / "fake", tmp_path]
    for spec in specs:
        with pytest.raises(ProvenanceError):
            signing.sign(MESSAGE, spec)
        with pytest.raises(ProvenanceError):
            keyfile.public_key_of(spec)


def ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


@FUZZ
@given(
    key_type=st.sampled_from([b"ssh-ed25519", b"ssh-rsa", b"ecdsa-sha2-nistp256", b"ssh-dss"]),
    key_fields=st.lists(st.one_of(st.binary(max_size=80), st.sampled_from(
        [b"nistp256", b"nistp384", b"\0", b"\2" + b"\1" * 32, b"\4" + b"\1" * 64])), max_size=3),
    sig_type=st.sampled_from([b"ssh-ed25519", b"rsa-sha2-512", b"ssh-rsa", b"ecdsa-sha2-nistp256"]),
    sig_fields=st.lists(st.binary(max_size=80), max_size=3),
    hash_alg=st.sampled_from([b"sha512", b"sha256", b"md5", b""]),
)
def test_well_formed_blobs_with_random_keys_and_signatures_are_rejected(
    key_type: bytes, key_fields: list[bytes], sig_type: bytes, sig_fields: list[bytes],
    hash_alg: bytes,
) -> None:
    # Reaches the key loading and the per-algorithm checks that random bytes rarely get to.
    key_blob = ssh_string(key_type) + b"".join(map(ssh_string, key_fields))
    signature = ssh_string(sig_type) + ssh_string(b"".join(map(ssh_string, sig_fields)))
    blob = (b"SSHSIG\0\0\0\1" + ssh_string(key_blob) + ssh_string(b"git-provenance")
            + ssh_string(b"") + ssh_string(hash_alg) + ssh_string(signature))
    with pytest.raises(InvalidSignature):
        sshsig.verify(blob, MESSAGE)


# ---- the offset-based decoder is the sequential one it replaced ----------------------------------


def reference_decode(blob: bytes) -> tuple[bytes, str, str, bytes]:
    """decode_blob as first written: each field taken off the front of the rest (`_take_str`)."""
    try:
        if blob[:6] != b"SSHSIG":
            raise ValueError("not an SSH signature")
        version, rest = encoding._take_u32(blob[6:])
        if version != 1:
            raise ValueError(f"unsupported SSHSIG version {version}")
        key_blob, rest = encoding._take_str(rest)
        namespace, rest = encoding._take_str(rest)
        reserved, rest = encoding._take_str(rest)
        hash_alg, rest = encoding._take_str(rest)
        signature, rest = encoding._take_str(rest)
        if reserved or rest:
            raise ValueError("unexpected extra data")
        _public_key_from_blob(key_blob)
        return key_blob, namespace.decode(), hash_alg.decode(), signature
    except ValueError as e:
        raise InvalidSignature(f"malformed SSH signature: {e}") from None


@FUZZ
@given(which=st.integers(0, 3), cut=st.sampled_from([0, 0, 1, 2, 5, 10, 30, 90, 100]),
       tail=st.sampled_from([b"", b"", b"\0", b"\0\0\0"]), from_end=st.booleans(),
       edits=st.lists(st.tuples(st.integers(0, 10_000),
                                st.sampled_from([0, 1, 3, 4, 6, 0x33, 0x53, 0x80, 0xFF])), max_size=3))
def test_decode_blob_agrees_with_the_sequential_decoder(
    valid_blobs: list[bytes], which: int, cut: int, tail: bytes, from_end: bool,
    edits: list[tuple[int, int]],
) -> None:
    original = valid_blobs[which]
    sshsig.decode_blob(original)  # remembered: a blob with the same header takes the short way
    blob = bytearray(original[:len(original) - cut] + tail)
    for pos, value in edits:  # length fields and their neighbours are where offsets can go wrong
        if blob:
            # From the end: the signature field, after the remembered header.
            blob[len(blob) - 1 - pos % min(len(blob), 90) if from_end else pos % len(blob)] = value
    try:
        expected: tuple[bytes, str, str, bytes] | str = reference_decode(bytes(blob))
    except InvalidSignature as e:
        expected = str(e)
    try:
        sig = sshsig.decode_blob(bytes(blob))
        got: tuple[bytes, str, str, bytes] | str = (
            sig.public_key.blob, sig.namespace, sig.hash_alg, sig.signature)
    except InvalidSignature as e:
        got = str(e)
    assert got == expected


def reference_unb64(text: str) -> bytes:
    """unb64 as first written, through the base64 module."""

    text = text.strip()
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise InvalidSignature("signature is not valid base64") from None
    if not raw or base64.b64encode(raw).decode() != text:
        raise InvalidSignature("signature is not canonical base64")
    return raw


@FUZZ
@given(text=st.one_of(st.text(alphabet="AQgw+/=\t \n\u00e9=", max_size=14), st.text(max_size=12)))
def test_unb64_agrees_with_the_base64_module(text: str) -> None:
    try:
        expected: bytes | str = reference_unb64(text)
    except InvalidSignature as e:
        expected = str(e)
    try:
        got: bytes | str = sshsig.unb64(text)
    except InvalidSignature as e:
        got = str(e)
    assert got == expected


def test_equal_keys_hash_alike_however_they_were_made(keys: dict[str, Path]) -> None:
    import pickle

    key = keyfile.public_key_of(keys["ed25519"])
    same = PublicKey(key.algorithm, bytes(key.blob), "another comment")
    assert key == same and hash(key) == hash(same) == hash(pickle.loads(pickle.dumps(key)))
    assert len({key, same, sshsig.decode_blob(signing.sign(MESSAGE, keys["ed25519"])).public_key}) == 1


def test_bytes_after_the_raw_signature_make_it_invalid(keys: dict[str, Path]) -> None:
    for name in ("ed25519", "rsa", "ecdsa256"):
        sig = sshsig.decode_blob(signing.sign(MESSAGE, keys[name]))
        padded = sig._replace(signature=sig.signature + b"\0")
        with pytest.raises(InvalidSignature, match="trailing data in signature"):
            sshsig.verify(sshsig.encode_blob(padded), MESSAGE)


def test_a_remembered_header_decodes_what_follows_it_as_a_fresh_decode_would(
    valid_blobs: list[bytes],
) -> None:
    original = valid_blobs[0]  # Ed25519: its signature field is the last 87 bytes
    sig = sshsig.decode_blob(original)
    head = original[:-87]
    assert sshsig._HEADERS[head] == (sig.public_key, sig.namespace, sig.hash_alg)  # remembered
    raw = sig.signature
    for blob in (
        original,
        head + ssh_string(raw[:-1]) + b"\0",  # same size, one byte after the field
        head + (len(raw) + 1).to_bytes(4, "big") + raw,  # the field claims a byte too many
        head + b"\xff\xff\xff\xff" + raw,
        head + ssh_string(raw[:40]) + ssh_string(raw[44:]),
    ):
        assert len(blob) == len(original)
        try:
            expected: tuple[bytes, str, str, bytes] | str = reference_decode(blob)
        except InvalidSignature as e:
            expected = str(e)
        try:
            got = sshsig.decode_blob(blob)
            outcome: tuple[bytes, str, str, bytes] | str = (
                got.public_key.blob, got.namespace, got.hash_alg, got.signature)
        except InvalidSignature as e:
            outcome = str(e)
        assert outcome == expected
