"""Private keys: never printed, logged or written inside a repository; created 0600; never overwritten."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Person, Repo, new_repo
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from provenance.ssh import keyfile

AGENT = {"CLAUDECODE": "1"}


def secrets_of(key_path: Path) -> list[bytes]:
    """Byte strings that would betray the private key: the raw seed in every common encoding and
    the lines of the key file that hold the private section (the first lines hold only the public
    key, the last one the comment)."""
    data = key_path.read_bytes()
    private = serialization.load_ssh_private_key(data, password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    seed = private.private_bytes_raw()
    lines = data.splitlines()[1:-1]
    return [seed, seed.hex().encode(), base64.b64encode(seed)[:40], *lines[3:-1]]


def leaks(blob: bytes, key_path: Path) -> list[bytes]:
    return [s for s in secrets_of(key_path) if s in blob]


def cli(repo: Repo, person: Person, *args: str, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[bytes]:
    return repo.run(sys.executable, "-m", "provenance", *args, check=False,
                    env={**repo.as_person(person), **(env or {})})


def everything_in_git_dir(repo: Repo) -> bytes:
    """Every file under .git plus every object decompressed (objects are zlib streams on disk)."""
    files = b"".join(p.read_bytes() for p in (repo.path / ".git").rglob("*") if p.is_file())
    objects = repo.run("git", "cat-file", "--batch-all-objects", "--batch").stdout
    return files + objects


def test_no_command_prints_logs_or_stores_the_private_key(tmp_path: Path, people: dict[str, Person]) -> None:
    repo = new_repo(tmp_path, people)
    alice, bob = people["alice"], people["bob"]
    outputs: list[bytes] = []
    for person, msg, files, env in [
        (bob, "Human change", {"a.py": "1\n"}, {}),
        (bob, "Agent change", {"payments/p.py": "2\n"}, AGENT),
    ]:
        for rel, content in files.items():
            repo.write(rel, content)
            repo.git("add", rel)
        proc = repo.run("git", "commit", "-m", msg, env={**repo.as_person(person), **env})
        outputs += [proc.stdout, proc.stderr]
    repo.run("git", "commit", "--amend", "-m", "Agent change, reworded",
             env={**repo.as_person(bob), **AGENT})
    for person, args in [
        (alice, ("cosign", "HEAD")), (alice, ("show", "HEAD")), (alice, ("show", "HEAD", "--format", "json")),
        (alice, ("audit",)), (alice, ("audit", "--format", "json")), (alice, ("allowed-signers",)),
        (bob, ("declare", "--ai", "HEAD~1")), (alice, ("review",)),
    ]:
        proc = cli(repo, person, *args)
        assert b"Traceback" not in proc.stderr, (args, proc.stderr)
        outputs += [proc.stdout, proc.stderr]
    # A failing signature path must not quote the key either.
    proc = cli(repo, bob, "cosign", "HEAD", env={"GIT_CONFIG_VALUE_1": str(bob.key) + "-missing"})
    outputs += [proc.stdout, proc.stderr]
    assert proc.returncode == 2

    git_dir = everything_in_git_dir(repo)
    work_tree = b"".join(p.read_bytes() for p in repo.path.rglob("*")
                         if p.is_file() and ".git" not in p.relative_to(repo.path).parts)
    for person in people.values():
        assert leaks(b"\n".join(outputs), person.key) == []
        assert leaks(git_dir, person.key) == []
        assert leaks(work_tree, person.key) == []
    # The scan is not vacuous: the key file itself does contain its secrets.
    assert leaks(alice.key.read_bytes(), alice.key) != []


def test_keygen_cli_writes_0600_prints_only_the_public_key_and_never_overwrites(
        tmp_path: Path, people: dict[str, Person]) -> None:
    repo = new_repo(tmp_path, people)
    target = tmp_path / "keys" / "mine"
    proc = cli(repo, people["bob"], "keygen", "--path", str(target))
    assert proc.returncode == 0, proc.stderr
    assert target.stat().st_mode & 0o777 == 0o600
    assert proc.stdout.decode().startswith("ssh-ed25519 ")
    assert keyfile.public_key_of(target).openssh() in proc.stdout.decode()
    assert leaks(proc.stdout + proc.stderr, target) == []
    assert leaks(everything_in_git_dir(repo), target) == []
    # The repository is configured to sign with the new key (a path, not its contents).
    assert repo.git("config", "provenance.signingKey").strip() == str(target)

    before = target.read_bytes(), (tmp_path / "keys" / "mine.pub").read_bytes()
    again = cli(repo, people["bob"], "keygen", "--path", str(target), "--no-config")
    assert again.returncode == 0 and again.stdout == proc.stdout  # the same key, kept
    assert f"kept your existing key {target}" in again.stderr.decode()
    assert (target.read_bytes(), (tmp_path / "keys" / "mine.pub").read_bytes()) == before


def test_keygen_refuses_to_replace_a_lone_public_key_or_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "a.pub").write_text("keep\n")
    (tmp_path / "elsewhere").write_text("precious\n")
    (tmp_path / "b").symlink_to(tmp_path / "elsewhere")
    for name in ("a", "b"):
        proc = subprocess.run([sys.executable, "-m", "provenance", "keygen", "--no-config",
                               "--path", str(tmp_path / name)], capture_output=True, cwd=tmp_path)
        assert proc.returncode == 2 and b"already exists" in proc.stderr
    assert (tmp_path / "a.pub").read_text() == "keep\n"
    assert not (tmp_path / "a").exists()
    assert (tmp_path / "elsewhere").read_text() == "precious\n"


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o660])
def test_a_private_key_readable_by_others_is_refused_by_the_hook_and_the_message_kept(
        tmp_path: Path, people: dict[str, Person], mode: int) -> None:
    repo = new_repo(tmp_path, people)
    loose = tmp_path / "loose"
    loose.write_bytes(people["bob"].key.read_bytes())
    loose.chmod(mode)
    env = {**repo.as_person(people["bob"]), "GIT_CONFIG_VALUE_1": str(loose)}
    repo.write("a.py", "1\n")
    repo.git("add", "a.py")
    head = repo.git("rev-parse", "HEAD")
    proc = repo.run("git", "commit", "-m", "Keep this message", env=env, check=False)
    err = proc.stderr.decode()
    assert proc.returncode != 0
    assert "accessible by other users" in err and "chmod 600" in err and "Traceback" not in err
    assert repo.git("rev-parse", "HEAD") == head
    assert (repo.path / ".git" / "COMMIT_EDITMSG").read_text().startswith("Keep this message")
    assert leaks(proc.stdout + proc.stderr, loose) == []


def _swap_public(path: Path, other: Path) -> None:
    """Rewrite an unencrypted OpenSSH key file so that every public half in it (and its .pub) is
    `other`'s, keeping its own secret seed: a key file whose halves do not belong together."""
    lines = path.read_text().strip().splitlines()
    raw = base64.b64decode("".join(lines[1:-1]))
    mine = ed25519.Ed25519PrivateKey.from_private_bytes(_seed(path)).public_key().public_bytes_raw()
    theirs = base64.b64decode(Path(f"{other}.pub").read_text().split()[1])[-32:]
    raw = raw.replace(mine, theirs)
    text = base64.b64encode(raw).decode()
    path.write_text("\n".join([lines[0], *(text[i:i + 70] for i in range(0, len(text), 70)),
                               lines[-1]]) + "\n")
    Path(f"{path}.pub").write_text(Path(f"{other}.pub").read_text())


def _seed(path: Path) -> bytes:
    seed = keyfile.ed25519_seed(str(path))
    assert seed is not None
    return seed


@pytest.mark.parametrize("backend", ["libsodium", "cryptography"])
def test_a_key_file_whose_halves_do_not_match_signs_nothing(
        tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the file says its public half is, the signature is made with the seed's own key
    and checked against the key the file names: a mismatch is refused, never signed for."""
    from provenance.errors import ProvenanceError
    from provenance.ssh import signing, sodium

    if backend == "cryptography":
        monkeypatch.setattr(sodium, "load_signer", lambda: None)
    mine, other = tmp_path / "mine", tmp_path / "other"
    for p in (mine, other):
        keyfile.keygen(p, p.name)
    _swap_public(mine, other)
    assert keyfile.resolve(str(mine)).public == keyfile.resolve(str(other)).public
    with pytest.raises(ProvenanceError, match="produced a bad signature"):
        signing.sign(b"statement", str(mine))
    assert signing.sign(b"statement", str(other))  # the honest file still signs
