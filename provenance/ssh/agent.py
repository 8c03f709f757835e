"""A minimal ssh-agent client (draft-miller-ssh-agent): list identities, sign one request."""

from __future__ import annotations

import socket

from provenance.errors import ProvenanceError
from provenance.ssh.encoding import _str, _take_str, _take_u32, _u32
from provenance.ssh.sshsig import PublicKey

_AGENTC_REQUEST_IDENTITIES = 11
_AGENT_IDENTITIES_ANSWER = 12
_AGENTC_SIGN_REQUEST = 13
_AGENT_SIGN_RESPONSE = 14
_AGENT_RSA_SHA2_512 = 4
_AGENT_TIMEOUT = 60.0  # long enough for an `ssh-add -c` confirmation prompt
_AGENT_MAX_REPLY = 256 * 1024
_AGENT_LIST_TIMEOUT = 5.0


def _agent_call(sock_path: str, request: bytes, timeout: float = _AGENT_TIMEOUT) -> bytes:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(sock_path)
            sock.sendall(_str(request))
            length = int.from_bytes(_recv(sock, 4), "big")
            if length > _AGENT_MAX_REPLY:
                raise ProvenanceError("ssh-agent sent an oversized reply")
            return _recv(sock, length)
    except OSError as e:
        raise ProvenanceError(f"cannot talk to ssh-agent at {sock_path}: {e}") from None


def _recv(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ProvenanceError("ssh-agent closed the connection")
        chunks += chunk
    return bytes(chunks)


def holds(sock_path: str, blob: bytes) -> bool:
    """Whether the agent at `sock_path` holds the key `blob`; an unusable agent holds nothing."""
    try:
        reply = _agent_call(sock_path, bytes([_AGENTC_REQUEST_IDENTITIES]), _AGENT_LIST_TIMEOUT)
        if reply[:1] != bytes([_AGENT_IDENTITIES_ANSWER]):
            return False
        count, rest = _take_u32(reply[1:])
        for _ in range(count):
            key, rest = _take_str(rest)
            _comment, rest = _take_str(rest)
            if key == blob:
                return True
    except (ProvenanceError, ValueError):
        pass  # an unusable agent is as good as none: fall back to the key file
    return False


def sign(sock_path: str, key: PublicKey, data: bytes) -> bytes:
    """The agent's SSH-encoded signature of `data` with `key` (rsa-sha2-512 for RSA keys)."""
    flags = _AGENT_RSA_SHA2_512 if key.algorithm == "ssh-rsa" else 0
    request = bytes([_AGENTC_SIGN_REQUEST]) + _str(key.blob) + _str(data) + _u32(flags)
    reply = _agent_call(sock_path, request)
    try:
        if reply[:1] != bytes([_AGENT_SIGN_RESPONSE]):
            raise ValueError("refused")
        signature, _ = _take_str(reply[1:])
    except ValueError:
        raise ProvenanceError(
            f"ssh-agent refused to sign with {key.fingerprint()} (confirmation denied?)"
        ) from None
    return signature
