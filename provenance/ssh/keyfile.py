"""SSH key files: which key a `user.signingKey` names, the private half that can sign with it, and
a new Ed25519 key pair (`keygen`).

A spec is a key file (private or `.pub`), `key::<public key line>`, or git's deprecated bare
public key line.  OpenSSH `openssh-key-v1` containers are read far enough to learn their public
key and cipher without a passphrase; everything else goes through cryptography.
"""

from __future__ import annotations

import base64
import binascii
import os

from provenance.errors import ProvenanceError
from provenance.records import NamedTuple
from provenance.ssh.encoding import _take_str, _take_u32
from provenance.ssh.sshsig import _KEY_TYPES, PublicKey, _public_key_from_blob, parse_public_key

TYPE_CHECKING = False  # not typing's: a commit hook imports this module (provenance/records.py)
if TYPE_CHECKING:
    from pathlib import Path  # not at run time: the commit hooks do without pathlib

_OPENSSH_KEY_MAGIC = b"openssh-key-v1\0"
_MAX_KEY_FILE = 1024 * 1024


class KeySource(NamedTuple):
    public: PublicKey
    private_path: str | None  # None: only ssh-agent can sign


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(_MAX_KEY_FILE)  # bounded: a key path may point at a device or a pipe
    except OSError as e:
        raise ProvenanceError(f"cannot read SSH key {path}: {e.strerror or e}") from None


def _is_private(data: bytes) -> bool:
    return data.lstrip().startswith(b"-----BEGIN ") and b"PRIVATE KEY-----" in data[:100]


def _openssh_container(data: bytes) -> tuple[str, bytes] | None:
    """(cipher name, public key blob) of an `openssh-key-v1` file, None for other formats."""
    lines = data.decode("ascii", "replace").strip().splitlines()
    if not lines or lines[0].strip() != "-----BEGIN OPENSSH PRIVATE KEY-----":
        return None
    try:
        raw = base64.b64decode("".join(line.strip() for line in lines[1:-1]))
        if not raw.startswith(_OPENSSH_KEY_MAGIC):
            raise ValueError("bad magic")
        cipher, rest = _take_str(raw[len(_OPENSSH_KEY_MAGIC):])
        _kdf, rest = _take_str(rest)
        _kdf_options, rest = _take_str(rest)
        count, rest = _take_u32(rest)
        blob, _ = _take_str(rest)
        if count != 1:
            raise ValueError("more than one key")
        return cipher.decode("ascii", "replace"), blob
    except (ValueError, binascii.Error) as e:
        raise ProvenanceError(f"malformed OpenSSH private key ({e})") from None


def _sibling_pub(path: str, blob: bytes | None) -> PublicKey | None:
    try:
        with open(path + ".pub") as f:
            key = parse_public_key(f.read())
    except (OSError, ProvenanceError, UnicodeDecodeError):
        return None
    return key if blob is None or key.blob == blob else None


def _encrypted_message(path: str) -> str:
    return (f"SSH key {path} is passphrase-protected and not loaded in ssh-agent; "
            f"run `ssh-add {path}` first (hooks cannot prompt for a passphrase)")


def _private_public(path: str, data: bytes) -> PublicKey:
    container = _openssh_container(data)
    if container is not None:
        try:
            key = _public_key_from_blob(container[1])
        except ValueError as e:
            raise ProvenanceError(f"SSH key {path}: {e}") from None
        return _sibling_pub(path, key.blob) or key
    from cryptography import exceptions as crypto_exceptions
    from cryptography.hazmat.primitives import serialization  # deferred: PEM keys are rare

    try:
        private = serialization.load_pem_private_key(data, None)
    except TypeError:  # encrypted PEM: the public half only lives in the .pub file
        found = _sibling_pub(path, None)
        if found is None:
            raise ProvenanceError(_encrypted_message(path)) from None
        return found
    except (ValueError, crypto_exceptions.UnsupportedAlgorithm) as e:
        raise ProvenanceError(f"cannot load SSH private key {path}: {e}") from None
    line = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return parse_public_key(line.decode())


def resolve(key_path: str | Path) -> KeySource:
    """The public key a spec names, and the private key file beside it, if any."""
    spec = str(key_path).strip()
    if spec.startswith("key::"):
        return KeySource(parse_public_key(spec[5:]), None)
    if " " in spec and spec.split()[0] in _KEY_TYPES:  # git's deprecated bare literal
        return KeySource(parse_public_key(spec), None)
    path = os.path.expanduser(spec)
    data = _read(path)
    if _is_private(data):
        return KeySource(_private_public(path, data), path)
    public = parse_public_key(data.decode("utf-8", "replace"))
    name = os.path.basename(path)
    private = path[:-4] if name.endswith(".pub") and name != ".pub" else None
    if private is not None and os.path.isfile(private):
        found = _private_public(private, _read(private))
        if found == public:
            return KeySource(public, private)
    return KeySource(public, None)


def check_permissions(path: str) -> None:
    st = os.stat(path)
    if st.st_uid == os.getuid() and st.st_mode & 0o077:
        raise ProvenanceError(
            f"SSH private key {path} is accessible by other users (mode {st.st_mode & 0o777:o}); "
            f"run `chmod 600 {path}` (OpenSSH refuses such keys too)"
        )


def _askpass_usable() -> bool:
    """Whether ssh-keygen could ask for a passphrase without a terminal (readpass.c's rules)."""
    require = os.environ.get("SSH_ASKPASS_REQUIRE", "").lower()
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    return require == "force" or (require != "never" and bool(display))


def _unencrypted_ed25519(data: bytes) -> bytes | None:
    """The common case read directly (PROTOCOL.key): the 32-byte seed of an unencrypted
    openssh-key-v1 Ed25519 key, which libsodium signs with (`sodium`).

    Anything else (None) goes to cryptography's loader; a commit hook saves its import time.
    """
    try:
        lines = data.decode("ascii").strip().splitlines()
        raw = base64.b64decode("".join(line.strip() for line in lines[1:-1]))
        rest = raw[len(_OPENSSH_KEY_MAGIC):]
        for _ in range(3):  # cipher "none", kdf "none", kdf options ""
            _, rest = _take_str(rest)
        _count, rest = _take_u32(rest)
        public_blob, rest = _take_str(rest)
        private, _ = _take_str(rest)
        check1, private = _take_u32(private)
        check2, private = _take_u32(private)
        key_type, private = _take_str(private)
        if check1 != check2 or key_type != b"ssh-ed25519":
            return None
        public, private = _take_str(private)
        secret, _ = _take_str(private)
        if len(secret) != 64 or secret[32:] != public or not public_blob.endswith(public):
            return None
        return secret[:32]
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None


def ed25519_seed(path: str) -> bytes | None:
    """The seed of an unencrypted OpenSSH Ed25519 key file (what `ssh-keygen` and `keygen` write),
    read without cryptography; None for any other key file (`load_private` reads those)."""
    data = _read(path)
    container = _openssh_container(data)
    return _unencrypted_ed25519(data) if container is not None and container[0] == "none" else None


def load_private(path: str) -> object | None:
    """A cryptography private key, or None when only ssh-keygen can use the file."""
    from cryptography import exceptions as crypto_exceptions
    from cryptography.hazmat.primitives import serialization  # deferred: slow to import

    data = _read(path)
    container = _openssh_container(data)
    try:
        if container is not None and container[0] != "none":
            raise TypeError("encrypted")
        if container is not None:
            seed = _unencrypted_ed25519(data)
            if seed is not None:
                from cryptography.hazmat.primitives.asymmetric import ed25519

                return ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        if container is not None:
            return serialization.load_ssh_private_key(data, None)
        return serialization.load_pem_private_key(data, None)
    except TypeError:  # encrypted: only an askpass program can unlock it outside the agent
        if _askpass_usable():
            return None
        raise ProvenanceError(_encrypted_message(path)) from None
    except crypto_exceptions.UnsupportedAlgorithm:
        return None
    except ValueError as e:
        raise ProvenanceError(f"cannot load SSH private key {path}: {e}") from None


def public_key_of(key_path: str | Path) -> PublicKey:
    """The public key a `user.signingKey`-style spec names (a key file, `.pub` or `key::...`)."""
    return resolve(key_path).public


def keygen(path: Path, comment: str) -> PublicKey:
    """Create an Ed25519 key pair at `path` (mode 0600) and `path.pub`; never overwrites."""
    from pathlib import Path

    path = Path(path)
    pub_path = path.with_name(path.name + ".pub")
    if any(c in comment for c in "\r\n\0"):
        raise ProvenanceError("an SSH key comment must be a single line")
    for p in (path, pub_path):
        if p.exists() or p.is_symlink():
            raise ProvenanceError(f"{p} already exists; refusing to overwrite it")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

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
