"""Who is signing: the signer's email and signing key, from git configuration."""

from __future__ import annotations

import os

from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.records import NamedTuple

TYPE_CHECKING = False  # not typing's: a commit hook imports this module (provenance/records.py)
if TYPE_CHECKING:
    from pathlib import Path  # not at run time: the commit hooks do without pathlib

NO_KEY_HELP = (
    "no signing key: run `git provenance keygen` (or set `git config provenance.signingKey "
    "~/.ssh/id_ed25519`); PROVENANCE_SKIP=1 commits without a declaration"
)


class Signer(NamedTuple):
    email: str  # lower-cased
    key: str | None  # a key path, a .pub path whose private half is in ssh-agent, or `key::...`


def read_config(cwd: str | Path | None = None) -> dict[str, str]:
    """All git config values in one process (last value wins, keys lower-cased as git prints them)."""
    out = git.run(["config", "--list", "-z"], cwd=cwd, check=False)
    config: dict[str, str] = {}
    for entry in out.split(b"\0"):
        if not entry:
            continue
        key, _, value = entry.partition(b"\n")
        config[key.decode(errors="replace")] = value.decode("utf-8", "surrogateescape")
    return config


def signing_key(config: dict[str, str]) -> str | None:
    """`provenance.signingkey`, else git's `user.signingkey` when `gpg.format=ssh`."""
    key = config.get("provenance.signingkey")
    if not key and config.get("gpg.format") == "ssh":
        key = config.get("user.signingkey")
    if not key:
        return None
    if key.startswith("~"):
        key = os.path.expanduser(key)
    return key


def signer(config: dict[str, str]) -> Signer:
    email = config.get("provenance.email") or config.get("user.email") or ""
    return Signer(email=email.strip().lower(), key=signing_key(config))


def require_key(s: Signer) -> str:
    if not s.key:
        raise ProvenanceError(NO_KEY_HELP)
    if not s.email:
        raise ProvenanceError("no signer email: set `git config user.email you@example.com`")
    return s.key
