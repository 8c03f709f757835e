"""SSHSIG signing and verification, cross-checked against real ssh-keygen and ssh-agent."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sshkeys import add_to_agent, askpass, make_key, running_agent, ssh_keygen

from provenance.errors import ProvenanceError
from provenance.ssh import keyfile, signing, sshsig
from provenance.ssh.sshsig import InvalidSignature, PublicKey, parse_public_key

MESSAGE = b"git-provenance-statement v1\nrole declare\nchange sha256:" + b"ab" * 32 + b"\n"
KINDS = {
    "ed25519": ("ed25519", None),
    "rsa": ("rsa", 2048),
    "ecdsa256": ("ecdsa", 256),
    "ecdsa384": ("ecdsa", 384),
}


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="module")
def keys(keydir: Path) -> dict[str, Path]:
    return {name: make_key(keydir, name, kind, bits=bits) for name, (kind, bits) in KINDS.items()}


@pytest.fixture(scope="module")
def locked_key(keydir: Path) -> Path:
    return make_key(keydir, "locked", passphrase="correct horse")


@pytest.fixture(scope="module")
def agent(keydir: Path, locked_key: Path) -> Iterator[dict[str, str]]:
    agent_only = make_key(keydir, "agent_only")
    with running_agent() as env:
        add_to_agent(env, agent_only)
        add_to_agent(env, locked_key, passphrase="correct horse")
        yield env


@pytest.fixture(autouse=True)
def no_ambient_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's own agent must not make tests pass (or fail) by accident.
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


def keygen_verify(tmp_path: Path, blob: bytes, message: bytes, key: PublicKey,
                  namespace: str = sshsig.NAMESPACE) -> subprocess.CompletedProcess[bytes]:
    signers = tmp_path / "allowed_signers"
    signers.write_text(sshsig.allowed_signers_line(["alice@example.com"], key) + "\n")
    sig = tmp_path / "file.sig"
    sig.write_text(sshsig.armor(blob))
    return ssh_keygen("-Y", "verify", "-f", str(signers), "-I", "alice@example.com",
                      "-n", namespace, "-s", str(sig), stdin=message)


def keygen_sign(tmp_path: Path, key: Path, message: bytes,
                namespace: str = sshsig.NAMESPACE, *extra: str) -> bytes:
    msg = tmp_path / "msg"
    msg.write_bytes(message)
    proc = ssh_keygen("-Y", "sign", "-n", namespace, "-f", str(key), *extra, str(msg))
    assert proc.returncode == 0, proc.stderr
    return sshsig.dearmor((tmp_path / "msg.sig").read_text())


@pytest.mark.parametrize("kind", KINDS)
def test_our_signature_verifies_with_ssh_keygen(
    kind: str, keys: dict[str, Path], tmp_path: Path
) -> None:
    blob = signing.sign(MESSAGE, keys[kind])
    key = keyfile.public_key_of(keys[kind])
    proc = keygen_verify(tmp_path, blob, MESSAGE, key)
    assert proc.returncode == 0, proc.stderr
    assert b'Good "git-provenance" signature for alice@example.com' in proc.stdout
    assert sshsig.verify(blob, MESSAGE) == key
    assert sshsig.decode_blob(blob).hash_alg == "sha512"


@pytest.mark.parametrize("kind", KINDS)
def test_ssh_keygen_signature_verifies_with_us(
    kind: str, keys: dict[str, Path], tmp_path: Path
) -> None:
    blob = keygen_sign(tmp_path, keys[kind], MESSAGE)
    assert sshsig.verify(blob, MESSAGE) == keyfile.public_key_of(keys[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_tampered_message_and_wrong_namespace_are_rejected_by_both(
    kind: str, keys: dict[str, Path], tmp_path: Path
) -> None:
    blob = signing.sign(MESSAGE, keys[kind])
    key = keyfile.public_key_of(keys[kind])
    with pytest.raises(InvalidSignature, match="does not verify"):
        sshsig.verify(blob, MESSAGE + b"x")
    with pytest.raises(InvalidSignature, match="namespace"):
        sshsig.verify(blob, MESSAGE, namespace="git")
    assert keygen_verify(tmp_path, blob, MESSAGE + b"x", key).returncode != 0
    assert keygen_verify(tmp_path, blob, MESSAGE, key, namespace="git").returncode != 0


def test_sha256_signatures_from_ssh_keygen_are_accepted(keys: dict[str, Path],
                                                         tmp_path: Path) -> None:
    blob = keygen_sign(tmp_path, keys["ed25519"], MESSAGE, sshsig.NAMESPACE, "-O", "hashalg=sha256")
    assert sshsig.decode_blob(blob).hash_alg == "sha256"
    assert sshsig.verify(blob, MESSAGE) == keyfile.public_key_of(keys["ed25519"])


def test_rsa_signatures_use_sha2_512_never_sha1(keys: dict[str, Path]) -> None:
    sig = sshsig.decode_blob(signing.sign(MESSAGE, keys["rsa"])).signature
    assert sig[4:16] == b"rsa-sha2-512"


def test_truncated_and_garbage_blobs_are_invalid_signatures(keys: dict[str, Path]) -> None:
    blob = signing.sign(MESSAGE, keys["ed25519"])
    for bad in [b"", b"SSHSIG", blob[:-1], blob[:20], blob + b"\0", b"x" + blob[1:],
                blob[:6] + b"\0\0\0\2" + blob[10:]]:
        with pytest.raises(InvalidSignature):
            sshsig.verify(bad, MESSAGE)


def test_a_signature_by_one_key_does_not_pass_as_another(keys: dict[str, Path]) -> None:
    sig = sshsig.decode_blob(signing.sign(MESSAGE, keys["ed25519"]))
    other = keyfile.public_key_of(keys["ecdsa256"])
    forged = sshsig.encode_blob(sshsig.SshSig(other, sig.namespace, sig.hash_alg, sig.signature))
    with pytest.raises(InvalidSignature):
        sshsig.verify(forged, MESSAGE)


def test_armor_round_trips_and_wraps_at_70_like_ssh_keygen(keys: dict[str, Path],
                                                           tmp_path: Path) -> None:
    blob = signing.sign(MESSAGE, keys["rsa"])
    text = sshsig.armor(blob)
    assert max(len(line) for line in text.splitlines()) == 70
    assert sshsig.dearmor(text) == blob
    ours = keygen_sign(tmp_path, keys["rsa"], MESSAGE)  # RSA PKCS#1 v1.5 is deterministic
    assert (tmp_path / "msg.sig").read_text() == sshsig.armor(ours)
    assert sshsig.unb64(sshsig.b64(blob)) == blob
    with pytest.raises(InvalidSignature):
        sshsig.dearmor("-----BEGIN SSH SIGNATURE-----\n!!!\n-----END SSH SIGNATURE-----\n")


@pytest.mark.parametrize("text", ["", "   ", "not base64!", "QUJD\nREVG", "QUI", "QR==", "Ã©"])
def test_unb64_rejects_garbage_and_non_canonical_base64(text: str) -> None:
    with pytest.raises(InvalidSignature):
        sshsig.unb64(text)


def test_public_key_parses_pub_lines_and_matches_ssh_keygen_fingerprint(
    keys: dict[str, Path]
) -> None:
    for path in keys.values():
        line = path.with_suffix(".pub").read_text()
        key = parse_public_key(line)
        assert key.openssh() == " ".join(line.split()[:2])
        assert key.comment == path.name
        printed = ssh_keygen("-l", "-f", str(path)).stdout.decode().split()[1]
        assert key.fingerprint() == printed
        assert keyfile.public_key_of(path) == key


@pytest.mark.parametrize("line", [
    "", "ssh-ed25519", "ssh-ed25519 !!!", "ssh-rsa AAAAC3NzaC1lZDI1NTE5",
    "ssh-dss AAAAB3NzaC1kc3M=", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5",
])
def test_parse_public_key_rejects_garbage(line: str) -> None:
    with pytest.raises(ProvenanceError):
        parse_public_key(line)


def test_agent_held_key_signs_by_pub_path_and_key_literal(
    agent: dict[str, str], keydir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pub = keydir / "agent_only.pub"
    (keydir / "agent_only").unlink(missing_ok=True)  # only the agent can sign now
    monkeypatch.setenv("SSH_AUTH_SOCK", agent["SSH_AUTH_SOCK"])
    key = keyfile.public_key_of(pub)
    specs: list[str | Path] = [pub, str(pub), "key::" + key.openssh()]
    for spec in specs:
        blob = signing.sign(MESSAGE, spec)
        assert sshsig.verify(blob, MESSAGE) == key
        assert keygen_verify(tmp_path, blob, MESSAGE, key).returncode == 0


def test_passphrase_key_signs_through_the_agent(
    agent: dict[str, str], locked_key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSH_AUTH_SOCK", agent["SSH_AUTH_SOCK"])
    blob = signing.sign(MESSAGE, locked_key)
    key = keyfile.public_key_of(locked_key)
    assert sshsig.verify(blob, MESSAGE) == key
    assert keygen_verify(tmp_path, blob, MESSAGE, key).returncode == 0


def test_rsa_key_in_agent_signs_with_sha2_512(
    agent: dict[str, str], keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_to_agent(agent, keys["rsa"])
    monkeypatch.setenv("SSH_AUTH_SOCK", agent["SSH_AUTH_SOCK"])
    sig = sshsig.decode_blob(signing.sign(MESSAGE, str(keys["rsa"]) + ".pub")).signature
    assert sig[4:16] == b"rsa-sha2-512"


def test_passphrase_key_without_agent_asks_for_ssh_add(locked_key: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("SSH_ASKPASS_REQUIRE", raising=False)
    with pytest.raises(ProvenanceError, match="passphrase-protected.*ssh-add") as e:
        signing.sign(MESSAGE, locked_key)
    assert type(e.value) is ProvenanceError


def test_passphrase_key_without_agent_is_delegated_to_ssh_keygen_when_askpass_can_answer(
    locked_key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with askpass("correct horse") as env:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        blob = signing.sign(MESSAGE, locked_key)
    assert sshsig.verify(blob, MESSAGE) == keyfile.public_key_of(locked_key)


def test_wrong_askpass_answer_is_a_clear_error(locked_key: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with askpass("wrong") as env:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(ProvenanceError, match="ssh-keygen -Y sign failed.*ssh-add"):
            signing.sign(MESSAGE, locked_key)


def test_pub_path_without_agent_or_private_key_asks_for_ssh_add(tmp_path: Path) -> None:
    key = keyfile.keygen(tmp_path / "k", "k")
    (tmp_path / "k").unlink()
    with pytest.raises(ProvenanceError, match="not loaded in ssh-agent.*ssh-add"):
        signing.sign(MESSAGE, tmp_path / "k.pub")
    with pytest.raises(ProvenanceError, match="not loaded in ssh-agent"):
        signing.sign(MESSAGE, "key::" + key.openssh())


def test_pub_path_falls_back_to_its_unencrypted_private_key(keys: dict[str, Path]) -> None:
    blob = signing.sign(MESSAGE, keys["ed25519"].with_suffix(".pub"))
    assert sshsig.verify(blob, MESSAGE) == keyfile.public_key_of(keys["ed25519"])


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_private_key_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = make_key(tmp_path, "loose")
    path.chmod(mode)
    with pytest.raises(ProvenanceError, match="chmod 600"):
        signing.sign(MESSAGE, path)


def test_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProvenanceError, match="cannot read SSH key"):
        signing.sign(MESSAGE, tmp_path / "nope")


def test_keygen_writes_a_0600_key_that_ssh_keygen_accepts(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    key = keyfile.keygen(tmp_path / "id", "bob@example.com")
    private = (tmp_path / "id").read_text()
    assert (tmp_path / "id").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "id.pub").read_text() == key.openssh() + " bob@example.com\n"
    derived = ssh_keygen("-y", "-f", str(tmp_path / "id")).stdout.decode()
    assert derived.split()[:2] == key.openssh().split()
    assert key.algorithm == "ssh-ed25519" and key.comment == "bob@example.com"
    out, err = capfd.readouterr()
    body = "".join(private.splitlines()[1:-1])
    assert body[20:60] not in out + err + repr(key)
    assert sshsig.verify(signing.sign(MESSAGE, tmp_path / "id"), MESSAGE) == key


def test_keygen_never_overwrites(tmp_path: Path) -> None:
    keyfile.keygen(tmp_path / "id", "a")
    before = (tmp_path / "id").read_bytes()
    with pytest.raises(ProvenanceError, match="already exists"):
        keyfile.keygen(tmp_path / "id", "b")
    (tmp_path / "other.pub").write_text("keep me")
    with pytest.raises(ProvenanceError, match="already exists"):
        keyfile.keygen(tmp_path / "other", "c")
    assert (tmp_path / "id").read_bytes() == before
    assert not (tmp_path / "other").exists()
    assert (tmp_path / "other.pub").read_text() == "keep me"


def test_allowed_signers_line_works_with_verify_and_find_principals(
    keys: dict[str, Path], tmp_path: Path
) -> None:
    key = keyfile.public_key_of(keys["ed25519"])
    line = sshsig.allowed_signers_line(["alice@example.com", "alice@corp.example"], key)
    expected = 'alice@example.com,alice@corp.example namespaces="git-provenance" '
    assert line == expected + key.openssh()
    (tmp_path / "signers").write_text(line + "\n")
    (tmp_path / "s.sig").write_text(sshsig.armor(signing.sign(MESSAGE, keys["ed25519"])))
    base = ["-f", str(tmp_path / "signers"), "-s", str(tmp_path / "s.sig")]
    found = ssh_keygen("-Y", "find-principals", *base)
    assert found.stdout.decode().split() == ["alice@example.com", "alice@corp.example"]
    for principal in ["alice@example.com", "alice@corp.example"]:
        proc = ssh_keygen("-Y", "verify", *base, "-I", principal, "-n", sshsig.NAMESPACE,
                          stdin=MESSAGE)
        assert proc.returncode == 0, proc.stderr
    other_ns = ssh_keygen("-Y", "verify", *base, "-I", "alice@example.com", "-n", "git",
                          stdin=MESSAGE)
    assert other_ns.returncode != 0


@pytest.mark.parametrize("principals", [[], [""], ["a b"], ['a"b'], ["a,b"]])
def test_allowed_signers_line_refuses_principals_that_would_change_its_meaning(
    principals: list[str], keys: dict[str, Path]
) -> None:
    with pytest.raises(ProvenanceError):
        sshsig.allowed_signers_line(principals, keyfile.public_key_of(keys["ed25519"]))
