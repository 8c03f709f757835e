"""DSSE (Dead Simple Signing Envelope) signatures with an SSH key: PAE, the envelope, and raw
signatures over it, made in-process or by ssh-agent.

DSSE signs the PAE bytes directly, not an SSHSIG wrapper, so the signature is the key's raw
one, in the encoding DSSE verifiers expect (securesystemslib's schemes, docs/spec.md section 7):

| key | scheme | signature bytes |
| --- | --- | --- |
| ssh-ed25519 | ed25519 | the 64-byte Ed25519 signature |
| ecdsa-sha2-nistp256/384/521 | ecdsa-sha2-nistp256/384/521 (SHA-256/384/512) | DER `(r, s)` |
| ssh-rsa | rsa-pkcs1v15-sha512 | PKCS#1 v1.5 over SHA-512, as long as the modulus |

The agent returns an SSH signature blob (`string algorithm, string signature`); the raw
signature is taken out of it (ECDSA's `mpint r, mpint s` re-encoded as DER). `keyid` is the key's
`SHA256:` fingerprint, as `ssh-keygen -l` prints it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any, NamedTuple

from provenance.errors import ProvenanceError
from provenance.ssh import keyfile
from provenance.ssh.encoding import _field, _take_mpint
from provenance.ssh.sshsig import _EC_HASHES, PublicKey, _hash, _load_public

SCHEMES = {
    "ssh-ed25519": "ed25519",
    "ecdsa-sha2-nistp256": "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384": "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521": "ecdsa-sha2-nistp521",
    "ssh-rsa": "rsa-pkcs1v15-sha512",
}
_MAX_ENVELOPE = 256 * 1024 * 1024  # read bounded: a path may name a device


class Signature(NamedTuple):
    keyid: str
    sig: bytes


class Envelope(NamedTuple):
    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def to_json(self) -> str:
        return json.dumps({
            "payload": base64.b64encode(self.payload).decode(),
            "payloadType": self.payload_type,
            "signatures": [{"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()}
                           for s in self.signatures],
        }, indent=2) + "\n"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding: the bytes a signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


# --- signing ------------------------------------------------------------------------------------


def _raw_from_agent(key: PublicKey, ssh_signature: bytes) -> bytes:
    """The raw signature in an agent's SSH signature blob, in the DSSE encoding."""
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    try:
        kind, pos = _field(ssh_signature, 0)
        raw, pos = _field(ssh_signature, pos)
        if pos != len(ssh_signature):
            raise ValueError("trailing data")
        algorithm = kind.decode("ascii", "replace")
        if key.algorithm == "ssh-ed25519" and algorithm == "ssh-ed25519" and len(raw) == 64:
            return raw
        if key.algorithm in _EC_HASHES and algorithm == key.algorithm:
            r, rest = _take_mpint(raw)
            s, rest = _take_mpint(rest)
            if rest or not r or not s:
                raise ValueError("bad ECDSA signature")
            return encode_dss_signature(r, s)
        if key.algorithm == "ssh-rsa" and algorithm == "rsa-sha2-512":
            return raw.rjust(_rsa_size(key), b"\0")  # OpenSSH may drop leading zero bytes
        raise ValueError(f"a {algorithm} signature for a {key.algorithm} key")
    except ValueError as e:
        raise ProvenanceError(f"ssh-agent returned an unusable signature ({e})") from None


def _rsa_size(key: PublicKey) -> int:
    public: Any = _load_public(key)
    return int((public.key_size + 7) // 8)


def _raw_in_process(private: object, key: PublicKey, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    if isinstance(private, ed25519.Ed25519PrivateKey):
        return private.sign(data)
    if isinstance(private, ec.EllipticCurvePrivateKey) and key.algorithm in _EC_HASHES:
        return private.sign(data, ec.ECDSA(_hash(_EC_HASHES[key.algorithm])))
    if isinstance(private, rsa.RSAPrivateKey):
        return private.sign(data, padding.PKCS1v15(), _hash("SHA512"))
    raise ProvenanceError(f"unsupported SSH key type {key.algorithm} (use Ed25519, ECDSA or RSA)")


def sign(data: bytes, key_spec: str | Path) -> Signature:
    """A DSSE signature of `data` (PAE bytes) by the key `key_spec` names: ssh-agent when it
    holds the key, else the key file. Checked with `verify` before it is returned."""
    source = keyfile.resolve(key_spec)
    key = source.public
    if key.algorithm not in SCHEMES:
        raise ProvenanceError(f"unsupported SSH key type {key.algorithm}")
    sock = os.environ.get("SSH_AUTH_SOCK")
    from provenance.ssh import agent  # deferred: it imports `socket`

    if sock and agent.holds(sock, key.blob):
        raw = _raw_from_agent(key, agent.sign(sock, key, data))
    elif source.private_path is None:
        raise ProvenanceError(
            f"the private half of {key.fingerprint()} is not loaded in ssh-agent"
            + ("" if sock else " (SSH_AUTH_SOCK is not set)") + "; run `ssh-add` with its key file")
    else:
        keyfile.check_permissions(source.private_path)
        private = keyfile.load_private(source.private_path)
        if private is None:  # only ssh-keygen could use it, and it makes SSHSIG, not DSSE
            raise ProvenanceError(
                f"cannot sign a DSSE envelope with {source.private_path} in-process "
                f"(passphrase-protected?): load it into ssh-agent with "
                f"`ssh-add {source.private_path}` first")
        raw = _raw_in_process(private, key, data)
    if not verify(key, raw, data):
        raise ProvenanceError(f"signing with {key.fingerprint()} produced a bad signature")
    return Signature(key.fingerprint(), raw)


# --- verifying ----------------------------------------------------------------------------------


def verify(key: PublicKey, raw: bytes, data: bytes) -> bool:
    """Whether `raw` is `key`'s DSSE signature (the table above) over `data`."""
    from cryptography import exceptions
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    try:
        public = _load_public(key)
        if isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(raw, data)
        elif isinstance(public, ec.EllipticCurvePublicKey) and key.algorithm in _EC_HASHES:
            public.verify(raw, data, ec.ECDSA(_hash(_EC_HASHES[key.algorithm])))
        elif isinstance(public, rsa.RSAPublicKey):
            if len(raw) != (public.key_size + 7) // 8:
                return False
            public.verify(raw, data, padding.PKCS1v15(), _hash("SHA512"))
        else:
            return False
    except (exceptions.InvalidSignature, ValueError, TypeError):
        return False
    return True


def _b64(value: object, what: str) -> bytes:
    """Standard or URL-safe base64, as DSSE allows."""
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a string")
    text = value.strip()
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64") from None


def parse(data: bytes, name: str) -> Envelope:
    """A DSSE envelope in its JSON form; one clear error for anything else."""
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        for field in ("payload", "payloadType", "signatures"):
            if field not in doc:
                raise ValueError(f"no {field!r}")
        if not isinstance(doc["payloadType"], str):
            raise ValueError("payloadType is not a string")
        sigs = doc["signatures"]
        if not isinstance(sigs, list) or not sigs:
            raise ValueError("no signatures")
        signatures = []
        for n, s in enumerate(sigs):
            if not isinstance(s, dict) or "sig" not in s:
                raise ValueError(f"signature {n + 1} has no 'sig'")
            keyid = s.get("keyid", "")
            signatures.append(Signature(keyid if isinstance(keyid, str) else "",
                                        _b64(s["sig"], f"signature {n + 1}")))
        return Envelope(doc["payloadType"], _b64(doc["payload"], "payload"), tuple(signatures))
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError included
        raise ProvenanceError(f"{name}: not a DSSE envelope: {e}") from None


def read(path: Path) -> Envelope:
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_ENVELOPE)
    except OSError as e:
        raise ProvenanceError(f"cannot read {path}: {e.strerror or e}") from None
    return parse(data, str(path))
