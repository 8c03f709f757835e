"""Signing SSHSIG: in-process, through ssh-agent, or by `ssh-keygen -Y sign`.

Signing prefers ssh-agent, then an unencrypted key file, then `ssh-keygen -Y sign`; the result is
always checked with `sshsig.verify` before it is returned, so a misbehaving agent cannot leave
a bad trailer. Loaded only when something signs. An unencrypted Ed25519 key file (the usual one)
signs and is checked through libsodium (`sodium`): a commit hook never imports cryptography.
"""

from __future__ import annotations

import os

from provenance.errors import ProvenanceError
from provenance.records import NamedTuple
from provenance.ssh import keyfile, sodium
from provenance.ssh.encoding import _mpint, _str
from provenance.ssh.sshsig import (
    _EC_HASHES,
    _SIGN_HASH,
    NAMESPACE,
    InvalidSignature,
    PublicKey,
    SshSig,
    _hash,
    _signed_data,
    dearmor,
    encode_blob,
    message_hash,
    use_libsodium,
    verify,
)

TYPE_CHECKING = False  # not typing's: a commit hook imports this module (provenance/records.py)
if TYPE_CHECKING:
    from pathlib import Path  # not at run time: the commit hooks do without pathlib


def _sign_with(private: object, algorithm: str, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ed25519

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


def _ssh_keygen_sign(message: bytes, path: str, namespace: str) -> bytes:
    import subprocess  # deferred, like every import only a rare path needs: hooks start lean
    import tempfile
    from pathlib import Path

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
    from provenance.ssh import agent  # deferred: it imports `socket`, and most signers need no agent

    return agent.sign(sock_path, key, data) if agent.holds(sock_path, key.blob) else None


def sign(message: bytes, key_path: str | Path, namespace: str = NAMESPACE) -> bytes:
    """The SSHSIG blob of `message` by the key `key_path` names (a key file, `.pub` or `key::`)."""
    if not namespace:
        raise ProvenanceError("an SSH signature namespace must not be empty")
    source = keyfile.resolve(key_path)
    key = source.public
    data = _signed_data(namespace, _SIGN_HASH, message_hash(_SIGN_HASH, message))
    if source.private_path is not None:
        keyfile.check_permissions(source.private_path)
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
        signature = _sodium_sign(path, key, data)
        if signature is None:
            private = keyfile.load_private(path)
            if private is not None:
                signature = _sign_with(private, key.algorithm, data)
        blob = (_ssh_keygen_sign(message, path, namespace) if signature is None
                else encode_blob(SshSig(key, namespace, _SIGN_HASH, signature)))
    try:
        signer = verify(blob, message, namespace)
    except InvalidSignature as e:
        raise ProvenanceError(
            f"signing with {key.fingerprint()} produced a bad signature: {e}"
        ) from None
    if signer != key:
        raise ProvenanceError(f"signed by {signer.fingerprint()}, not {key.fingerprint()}")
    return blob


def _sodium_sign(path: str, key: PublicKey, data: bytes) -> bytes | None:
    """The signature of an unencrypted Ed25519 key file through libsodium, which then checks it
    too; None for other keys, or without PyNaCl (cryptography signs)."""
    if key.algorithm != "ssh-ed25519":
        return None
    seed = keyfile.ed25519_seed(path)
    sign = sodium.load_signer() if seed is not None else None
    if seed is None or sign is None or not use_libsodium():
        return None
    return _str(b"ssh-ed25519") + _str(sign(seed, data))


class Route(NamedTuple):
    """How `sign` would sign with a key: "agent", "in-process" or "ssh-keygen"; `problem` when
    it could not (then `how` is "")."""

    how: str
    problem: str = ""


def route(key_path: str | Path) -> Route:
    """The path `sign` takes for `key_path`, found without signing (doctor says it)."""
    try:
        source = keyfile.resolve(key_path)
        sock_path = os.environ.get("SSH_AUTH_SOCK")
        if sock_path and _agent_holds(sock_path, source.public):
            return Route("agent")
        if source.private_path is None:
            return Route("", f"only ssh-agent can sign with {source.public.fingerprint()}, and "
                         "it does not hold it" + ("" if sock_path else " (SSH_AUTH_SOCK is not set)"))
        return Route("ssh-keygen" if keyfile.load_private(source.private_path) is None else "in-process")
    except ProvenanceError as e:
        return Route("", str(e))


def _agent_holds(sock_path: str, key: PublicKey) -> bool:
    from provenance.ssh import agent

    return agent.holds(sock_path, key.blob)
