"""Signing side of SSHSIG: in-process, through ssh-agent, or by `ssh-keygen -Y sign`; keygen.

`provenance.sshsig` re-exports `sign`, `keygen` and `allowed_signers_line`, so callers keep one
module; this one loads only when something signs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from provenance.errors import ProvenanceError
from provenance.sshsig import (
    _EC_HASHES,
    _HASHES,
    _SIGN_HASH,
    NAMESPACE,
    InvalidSignature,
    PublicKey,
    SshSig,
    _hash,
    _signed_data,
    dearmor,
    encode_blob,
    parse_public_key,
    verify,
)
from provenance.sshwire import _mpint, _str


def _sign_with(private: object, algorithm: str, data: bytes) -> bytes:
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return _str(b"ssh-ed25519") + _str(private.sign(data))
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    if isinstance(private, rsa.RSAPrivateKey):
        raw = private.sign(data, padding.PKCS1v15(), _hash("SHA512"))
        return _str(b"rsa-sha2-512") + _str(raw)
    if isinstance(private, ec.EllipticCurvePrivateKey) and algorithm in _EC_HASHES:
        der = private.sign(data, ec.ECDSA(_hash(_EC_HASHES[algorithm])))
        r, s = decode_dss_signature(der)
        return _str(algorithm.encode()) + _str(_mpint(r) + _mpint(s))
    raise ProvenanceError(f"unsupported SSH key type {algorithm} (use Ed25519, RSA or ECDSA)")


# --- Signing -----------------------------------------------------------------------------------


def _ssh_keygen_sign(message: bytes, path: Path, namespace: str) -> bytes:
    import subprocess  # deferred, like every import only a rare path needs: hooks start lean
    import tempfile

    with tempfile.TemporaryDirectory(prefix="provenance-sign-") as tmp:
        # A file, never stdin: without a terminal ssh-keygen reads a passphrase from stdin.
        msg = Path(tmp, "message")
        msg.write_bytes(message)
        try:
            proc = subprocess.run(
                ["ssh-keygen", "-q", "-Y", "sign", "-n", namespace, "-f", str(path), str(msg)],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=120, check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ProvenanceError(f"cannot run ssh-keygen -Y sign: {e}") from None
        if proc.returncode != 0:
            detail = proc.stderr.decode(errors="replace").strip().splitlines()
            raise ProvenanceError(
                f"ssh-keygen -Y sign failed for {path}: "
                f"{detail[-1] if detail else proc.returncode}; try `ssh-add {path}` first"
            )
        return dearmor(Path(tmp, "message.sig").read_text())


def _agent_sign(sock_path: str, key: PublicKey, data: bytes) -> bytes | None:
    """The agent's signature, or None when the agent does not hold the key."""
    from provenance import sshagent  # deferred: it imports this module, and `socket`

    return sshagent.sign(sock_path, key, data) if sshagent.holds(sock_path, key.blob) else None


def sign(message: bytes, key_path: str | Path, namespace: str = NAMESPACE) -> bytes:
    if not namespace:
        raise ProvenanceError("an SSH signature namespace must not be empty")
    from provenance import sshkeyfile  # deferred: it imports this module

    source = sshkeyfile.resolve(key_path)
    key = source.public
    data = _signed_data(namespace, _SIGN_HASH, _HASHES[_SIGN_HASH](message).digest())
    if source.private_path is not None:
        sshkeyfile.check_permissions(source.private_path)
    sock_path = os.environ.get("SSH_AUTH_SOCK")
    agent_signature = _agent_sign(sock_path, key, data) if sock_path else None
    if agent_signature is not None:
        blob = encode_blob(SshSig(key, namespace, _SIGN_HASH, agent_signature))
    elif source.private_path is None:
        raise ProvenanceError(
            f"the private half of {key.fingerprint()} is not loaded in ssh-agent"
            + ("" if sock_path else " (SSH_AUTH_SOCK is not set)")
            + "; run `ssh-add` with its key file first"
        )
    else:
        path = source.private_path
        private = sshkeyfile.load_private(path)
        if private is None:
            blob = _ssh_keygen_sign(message, path, namespace)
        else:
            signature = _sign_with(private, key.algorithm, data)
            blob = encode_blob(SshSig(key, namespace, _SIGN_HASH, signature))
    try:
        signer = verify(blob, message, namespace)
    except InvalidSignature as e:
        raise ProvenanceError(
            f"signing with {key.fingerprint()} produced a bad signature: {e}"
        ) from None
    if signer != key:
        raise ProvenanceError(f"signed by {signer.fingerprint()}, not {key.fingerprint()}")
    return blob


def keygen(path: Path, comment: str) -> PublicKey:
    path = Path(path)
    pub_path = path.with_name(path.name + ".pub")
    if any(c in comment for c in "\r\n\0"):
        raise ProvenanceError("an SSH key comment must be a single line")
    for p in (path, pub_path):
        if p.exists() or p.is_symlink():
            raise ProvenanceError(f"{p} already exists; refusing to overwrite it")
    from cryptography.hazmat.primitives import serialization

    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    line = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    key = parse_public_key(f"{line} {comment}")
    _write_new(path, pem, 0o600)
    try:
        _write_new(pub_path, f"{key.openssh()} {comment}".rstrip().encode() + b"\n", 0o644)
    except ProvenanceError:
        path.unlink()
        raise
    return key


def _write_new(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise ProvenanceError(f"{path} already exists; refusing to overwrite it") from None
    except OSError as e:
        raise ProvenanceError(f"cannot create {path}: {e.strerror or e}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def allowed_signers_line(
    principals: Iterable[str], key: PublicKey, namespace: str = NAMESPACE
) -> str:
    names = list(principals)
    bad = [p for p in [*names, namespace] if not p or any(c in p for c in ' \t\r\n",')]
    if not names or bad:
        raise ProvenanceError(f"cannot write an allowed_signers line for {names} / {namespace!r}")
    return f'{",".join(names)} namespaces="{namespace}" {key.openssh()}'
