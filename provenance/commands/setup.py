"""A person's first steps: `keygen` (a signing key, configured), `init` (the policy, with your key),
`add-key` (a teammate's key in the policy).

Each returns what it has to say: `Said.out` for stdout (what scripts read: the public key line),
`Said.err` for the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.policy import coverage, edit, schema
from provenance.record import identity
from provenance.ssh import keyfile
from provenance.ssh.sshsig import PublicKey, parse_public_key

DEFAULT_KEY = Path("~/.ssh/git-provenance_ed25519")
# After a policy edit: it counts only once co-signed under the policy before it.
POLICY_CHANGE_NOTE = ("commit it; a change to the policy counts once a senior other than you "
                      "co-signs it (git provenance cosign)")


class Said(NamedTuple):
    out: list[str]
    err: list[str]


def _in_repository(cwd: str | Path | None) -> bool:
    return git.run_ok(["rev-parse", "--git-dir"], cwd=cwd)


def _existing_key(path: Path) -> PublicKey:
    """The public key of a pair already at `path`: both halves, matching, or a clear refusal."""
    pub = path.with_name(path.name + ".pub")
    if not path.exists():
        raise ProvenanceError(f"{pub} already exists but {path} does not: keygen never replaces half "
                              "a key pair (move it away, or point provenance.signingKey at your key)")
    problem = ""
    try:
        source: keyfile.KeySource | None = keyfile.resolve(path)
    except ProvenanceError as e:
        source, problem = None, f" ({e})"
    if source is None or source.private_path is None:
        raise ProvenanceError(f"{path} already exists and is not an SSH private key{problem}; "
                              "keygen never overwrites it")
    if pub.exists():
        public = parse_public_key(pub.read_text(errors="replace"))
        if public != source.public:
            raise ProvenanceError(f"{pub} is not the public half of {path}")
        return public
    return source.public


def keygen(key_path: Path | None, configure: bool, cwd: str | Path | None = None) -> Said:
    """Create an Ed25519 pair unless one is there, and configure it: in this repository, or in your
    global git config outside one. Run again, it configures the key it finds: never a dead end."""
    config = identity.read_config(cwd)
    comment = config.get("user.email", "git-provenance")
    path = (key_path or DEFAULT_KEY).expanduser()
    configured = identity.signing_key(config)
    if key_path is None and configured and Path(configured).expanduser() != path:
        key = keyfile.public_key_of(configured)
        return Said([f"{key.openssh()} {key.comment or comment}".rstrip()],
                    [f"you already sign with {configured} (git config): no new key"])
    err: list[str] = []
    if path.exists() or path.with_name(path.name + ".pub").exists():
        key = _existing_key(path)
        err.append(f"kept your existing key {path}")
        created = False
    else:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = keyfile.keygen(path, comment)
        created = True
    if configure:
        local = _in_repository(cwd)
        git.run(["config", "--local" if local else "--global", "provenance.signingKey", str(path)],
                cwd=cwd)
        err.append(f"set provenance.signingKey={path} "
                   + ("in this repository" if local else "in your global git config"))
    if created:
        err.append(f"the key has no passphrase; to add one: ssh-keygen -p -f {path}, then "
                   f"`ssh-add {path}` once a session (hooks cannot ask for it; ssh-agent signs)")
    err.append("for the policy: `git provenance init` registers it (yours), or send this line to "
               "whoever keeps .provenance.toml")
    return Said([f"{key.openssh()} {key.comment or comment}".rstrip()], err)


def _glob_warnings(pol: schema.Policy, cwd: str | Path | None) -> list[str]:
    return [f"warning: {miss.message()}" for miss in coverage.unmatched_at(pol, "HEAD", cwd)]


def init(name: str | None, email: str | None, cwd: str | Path | None = None) -> Said:
    """Write a starter policy naming you as a senior, or register your key in the existing one."""
    config = identity.read_config(cwd)
    name = name or config.get("user.name", "")
    email = (email or config.get("user.email", "")).lower()
    if not email:
        raise ProvenanceError("no email: pass --email or set git config user.email")
    key = identity.signing_key(config)
    key_line = keyfile.public_key_of(key).openssh() if key else None
    path = git.toplevel(cwd) / schema.POLICY_FILE
    out: list[str] = []
    if path.exists():
        if key_line is None:
            raise ProvenanceError(f"{path.name} exists and you have no signing key to register: "
                                  "run `git provenance keygen` first")
        schema.load_file(path)  # one clear line for a file that does not load (e.g. not UTF-8)
        text = path.read_text()
        new = edit.add_person_key(text, name, email, key_line)
        if new == text:
            out.append(f"your key is already registered in {path.name}")
        else:
            path.write_text(new)
            out.append(f"registered your key in the existing {path.name}: {POLICY_CHANGE_NOTE}")
    else:
        path.write_text(edit.starter_policy(name, email, key_line))
        out.append(f"wrote {path.name}: review the rules, then commit it")
    pol = schema.load_file(path)
    if key_line is None:
        out.append("no signing key yet: run `git provenance keygen`, then `git provenance init` again")
    return Said(out, _glob_warnings(pol, cwd))


def _key_line(key: str) -> str:
    """A public key line as given, or read from a `.pub` file."""
    if key.split(None, 1)[0] in ("ssh-ed25519", "ssh-rsa") or key.startswith("ecdsa-sha2-"):
        return key.strip()
    path = Path(key).expanduser()
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ProvenanceError(f"{key!r} is neither an SSH public key line nor a readable .pub file "
                              f"({getattr(e, 'strerror', None) or e})") from None


def add_key(email: str, key: str, name: str | None, roles: tuple[str, ...],
            cwd: str | Path | None = None) -> Said:
    """Register a teammate's public key in the work tree's policy, adding them when new."""
    path = git.toplevel(cwd) / schema.POLICY_FILE
    if not path.exists():
        raise ProvenanceError(f"no {path.name} here: run `git provenance init` first")
    pol = schema.load_file(path)
    text = path.read_text()
    line = _key_line(key)
    public = parse_public_key(line)
    person = pol.person_by_email(email)
    if person is None and not name:
        raise ProvenanceError(f"{email} is not in {path.name} yet: give their name with --name")
    new = edit.add_person_key(text, name or (person.name if person else ""), email.lower(), line, roles)
    who = f"{name or (person.name if person else '')} <{email.lower()}>"
    if new == text:
        return Said([f"{public.fingerprint()} is already registered for {who}"], [])
    path.write_text(new)
    return Said([f"registered {public.fingerprint()} for {who} in {path.name}: {POLICY_CHANGE_NOTE}"],
                _glob_warnings(schema.load_file(path), cwd))
