"""DSSE signatures with SSH keys: PAE as the spec writes it, and envelopes that an independent
implementation (securesystemslib) verifies, for every key type, from key files and from ssh-agent."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PROJECT
from sshkeys import add_to_agent, make_key, running_agent
from sslib import sslib_verifies

from provenance.errors import ProvenanceError
from provenance.ssh import dsse, keyfile

PAYLOAD_TYPE = "application/vnd.in-toto+json"
PAYLOAD = b'{"_type":"https://in-toto.io/Statement/v1","predicate":{"verdict":"pass"}}'
# (ssh-keygen -t, -b): every key type DSSE signs with
KINDS = {"ed25519": ("ed25519", None), "ecdsa-p256": ("ecdsa", 256), "ecdsa-p384": ("ecdsa", 384),
         "ecdsa-p521": ("ecdsa", 521), "rsa": ("rsa", 2048)}


def envelope(payload: bytes, key_path: Path | str) -> str:
    sig = dsse.sign(dsse.pae(PAYLOAD_TYPE, payload), key_path)
    return dsse.Envelope(PAYLOAD_TYPE, payload, (sig,)).to_json()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("dsse-keys")
    return {name: make_key(directory, name, kind, bits=bits) for name, (kind, bits) in KINDS.items()}


@pytest.fixture
def agent() -> Iterator[dict[str, str]]:
    with running_agent() as env:
        yield env


def test_pae_is_the_dsse_spec_encoding() -> None:
    # The test vector of DSSE's protocol.md.
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world")
    assert dsse.pae(PAYLOAD_TYPE, b"") == b"DSSEv1 28 application/vnd.in-toto+json 0 "


@pytest.mark.parametrize("kind", KINDS)
def test_an_envelope_signed_with_a_key_file_verifies_with_securesystemslib(
        kind: str, keys: dict[str, Path]) -> None:
    key = keyfile.public_key_of(keys[kind])
    text = envelope(PAYLOAD, keys[kind])
    doc = json.loads(text)
    assert doc["payloadType"] == PAYLOAD_TYPE and base64.b64decode(doc["payload"]) == PAYLOAD
    [sig] = doc["signatures"]
    assert sig["keyid"] == key.fingerprint()  # SHA256:..., as ssh-keygen -l prints it
    assert sslib_verifies(text, key)


@pytest.mark.parametrize("kind", KINDS)
def test_an_envelope_signed_by_ssh_agent_verifies_with_securesystemslib(
        kind: str, keys: dict[str, Path], tmp_path: Path, agent: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent returns SSH signature blobs; the raw signature DSSE wants is taken out of them
    (ECDSA's mpints re-encoded as DER). Only the agent holds the private key here."""
    kind_, bits = KINDS[kind]
    private = make_key(tmp_path, "locked", kind_, passphrase="secret words", bits=bits)
    add_to_agent(agent, private, "secret words")
    monkeypatch.setenv("SSH_AUTH_SOCK", agent["SSH_AUTH_SOCK"])
    public = Path(f"{private}.pub")
    text = envelope(PAYLOAD, public)
    assert sslib_verifies(text, keyfile.public_key_of(public))


def test_a_passphrase_protected_key_outside_the_agent_is_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    private = make_key(tmp_path, "locked", passphrase="secret words")
    with pytest.raises(ProvenanceError, match="ssh-add"):
        envelope(PAYLOAD, private)


def test_a_public_key_whose_private_half_no_agent_holds_is_a_clear_error(
        keys: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    alone = tmp_path / "alone.pub"
    alone.write_text(Path(f"{keys['ed25519']}.pub").read_text())
    with pytest.raises(ProvenanceError, match="not loaded in ssh-agent"):
        envelope(PAYLOAD, alone)


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa-p256", "rsa"])
def test_any_changed_byte_of_the_payload_fails_both_verifiers(
        kind: str, keys: dict[str, Path]) -> None:
    key = keyfile.public_key_of(keys[kind])
    doc = json.loads(envelope(PAYLOAD, keys[kind]))
    sig = base64.b64decode(doc["signatures"][0]["sig"])
    for i in range(len(PAYLOAD)):
        for flip in (0x01, 0x80):
            changed = bytearray(PAYLOAD)
            changed[i] ^= flip
            bad = {**doc, "payload": base64.b64encode(bytes(changed)).decode()}
            assert not sslib_verifies(json.dumps(bad), key), (i, flip)
            assert not dsse.verify(key, sig, dsse.pae(PAYLOAD_TYPE, bytes(changed))), (i, flip)
    for longer in (PAYLOAD + b" ", PAYLOAD[:-1]):  # a byte added or taken away
        assert not dsse.verify(key, sig, dsse.pae(PAYLOAD_TYPE, longer))
    assert dsse.verify(key, sig, dsse.pae(PAYLOAD_TYPE, PAYLOAD))


def test_the_payload_type_and_the_signature_are_bound_too(keys: dict[str, Path]) -> None:
    key = keyfile.public_key_of(keys["ed25519"])
    doc = json.loads(envelope(PAYLOAD, keys["ed25519"]))
    assert not sslib_verifies(json.dumps({**doc, "payloadType": "application/json"}), key)
    sig = bytearray(base64.b64decode(doc["signatures"][0]["sig"]))
    sig[0] ^= 1
    forged = {**doc, "signatures": [{"keyid": key.fingerprint(),
                                     "sig": base64.b64encode(bytes(sig)).decode()}]}
    assert not sslib_verifies(json.dumps(forged), key)


def test_another_key_does_not_verify(keys: dict[str, Path]) -> None:
    text = envelope(PAYLOAD, keys["ed25519"])
    other = keyfile.public_key_of(keys["ecdsa-p256"])
    doc = dsse.parse(text.encode(), "x")
    assert not dsse.verify(other, doc.signatures[0].sig, dsse.pae(PAYLOAD_TYPE, PAYLOAD))


def test_parse_reads_what_sign_wrote_and_url_safe_base64(keys: dict[str, Path]) -> None:
    text = envelope(PAYLOAD, keys["rsa"])
    env = dsse.parse(text.encode(), "x")
    assert env.payload == PAYLOAD and env.payload_type == PAYLOAD_TYPE
    doc = json.loads(text)
    doc["payload"] = base64.urlsafe_b64encode(PAYLOAD).decode().rstrip("=")
    assert dsse.parse(json.dumps(doc).encode(), "x").payload == PAYLOAD


@pytest.mark.parametrize("data, message", [
    (b"\xff\xfe", "not a DSSE envelope"),
    (b"[]", "not a JSON object"),
    (b'{"payloadType": "x", "signatures": []}', "no 'payload'"),
    (b'{"payload": "e30=", "payloadType": "x", "signatures": []}', "no signatures"),
    (b'{"payload": "e30=", "payloadType": "x", "signatures": [{}]}', "has no 'sig'"),
    (b'{"payload": "%%%", "payloadType": "x", "signatures": [{"sig": "AA=="}]}', "not base64"),
    (b'{"payload": "e30=", "payloadType": 1, "signatures": [{"sig": "AA=="}]}', "not a string"),
])
def test_a_file_that_is_not_an_envelope_is_one_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(ProvenanceError, match=message) as e:
        dsse.parse(data, "att.json")
    assert str(e.value).startswith("att.json: not a DSSE envelope") and "\n" not in str(e.value)


def test_docs_spec_names_the_scheme_of_every_key_type() -> None:
    spec = (PROJECT / "docs" / "spec.md").read_text().split("## 7.", 1)[1]
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \| `([a-z0-9-]+)` \|", spec, re.M))
    assert rows == dsse.SCHEMES
