"""A person's first steps, each in their own HOME: `keygen` configures its key wherever it runs and
never dead-ends, `init` registers a key in an existing policy, `add-key` registers a teammate's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import clean_env, unadopted_origin
from sshkeys import add_to_agent, running_agent

from provenance.policy import schema
from provenance.ssh import keyfile

BIN = Path(sys.executable).parent


class Person:
    """Someone with their own HOME (a git identity, nothing else) who runs real commands."""

    def __init__(self, root: Path, name: str) -> None:
        self.name, self.email = name.title(), f"{name}@example.com"
        self.home = root / f"home-{name}"
        self.home.mkdir(parents=True)
        (self.home / ".gitconfig").write_text(f"[user]\n\tname = {self.name}\n\temail = {self.email}\n")
        self.env = {**clean_env(self.home), "PATH": f"{BIN}:{clean_env(self.home)['PATH']}"}
        self.key = self.home / ".ssh" / "git-provenance_ed25519"

    def run(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=cwd or self.home, env={**self.env, **(env or {})},
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)

    def gp(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
        return self.run("git", "provenance", *args, cwd=cwd, env=env)

    def config(self, *args: str, cwd: Path | None = None) -> str:
        return self.run("git", "config", *args, cwd=cwd).stdout.strip()

    def clone(self, origin: Path) -> Path:
        path = self.home / "repo"
        assert self.run("git", "clone", "-q", str(origin), str(path)).returncode == 0
        return path


def test_keygen_outside_a_repository_configures_the_key_globally(tmp_path: Path) -> None:
    bob = Person(tmp_path, "bob")
    out = bob.gp("keygen")
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert line == f"{keyfile.public_key_of(bob.key).openssh()} bob@example.com"
    assert bob.config("--global", "provenance.signingKey") == str(bob.key)
    assert "set provenance.signingKey" in out.stderr and "in your global git config" in out.stderr
    # Every clone then finds the key: doctor's signing check passes, with no keygen to run.
    clone = bob.clone(unadopted_origin(tmp_path, {"README.md": "hi\n"}))
    doctor = bob.gp("doctor", cwd=clone)
    assert f"ok  signing key: {bob.key} (" in doctor.stdout


def test_keygen_in_a_clone_configures_that_clone(tmp_path: Path) -> None:
    bob = Person(tmp_path, "bob")
    clone = bob.clone(unadopted_origin(tmp_path, {"README.md": "hi\n"}))
    out = bob.gp("keygen", cwd=clone)
    assert out.returncode == 0 and "in this repository" in out.stderr
    assert bob.config("--local", "provenance.signingKey", cwd=clone) == str(bob.key)
    assert bob.config("--global", "provenance.signingKey") == ""


def test_keygen_again_configures_the_key_it_finds_instead_of_refusing(tmp_path: Path) -> None:
    """The dead end of issue 16: a key made with --no-config (or before keygen configured
    anything), then doctor says "fix: git provenance keygen", and keygen refused: the key exists."""
    bob = Person(tmp_path, "bob")
    first = bob.gp("keygen", "--no-config")
    assert first.returncode == 0 and bob.config("--global", "provenance.signingKey") == ""
    clone = bob.clone(unadopted_origin(tmp_path, {"README.md": "hi\n"}))
    doctor = bob.gp("doctor", cwd=clone).stdout
    assert "FIX signing key: none configured\n    fix: git provenance keygen" in doctor
    again = bob.gp("keygen", cwd=clone)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout and f"kept your existing key {bob.key}" in again.stderr
    assert "no passphrase" not in again.stderr  # said when it was made
    assert bob.config("--local", "provenance.signingKey", cwd=clone) == str(bob.key)
    assert "ok  signing key:" in bob.gp("doctor", cwd=clone).stdout


def test_keygen_never_replaces_half_a_pair_or_a_mismatched_one(tmp_path: Path) -> None:
    bob = Person(tmp_path, "bob")
    bob.gp("keygen", "--no-config")
    other = tmp_path / "other"
    keyfile.keygen(other, "other")
    pub = bob.key.with_name(bob.key.name + ".pub")
    pub.write_text(other.with_name("other.pub").read_text())
    mismatched = bob.gp("keygen")
    assert mismatched.returncode == 2 and mismatched.stderr == (
        f"git-provenance: error: {pub} is not the public half of {bob.key}\n")
    bob.key.unlink()
    half = bob.gp("keygen")
    assert half.returncode == 2 and half.stderr.count("\n") == 1
    assert f"{pub} already exists but {bob.key} does not" in half.stderr and pub.exists()


def test_keygen_keeps_the_ssh_key_you_already_sign_commits_with(tmp_path: Path) -> None:
    bob = Person(tmp_path, "bob")
    own = bob.home / ".ssh" / "id_ed25519"
    own.parent.mkdir()
    keyfile.keygen(own, "bob@laptop")
    bob.run("git", "config", "--global", "gpg.format", "ssh")
    bob.run("git", "config", "--global", "user.signingKey", f"{own}.pub")
    out = bob.gp("keygen")
    assert out.returncode == 0 and not bob.key.exists()
    assert out.stdout.strip() == f"{keyfile.public_key_of(own).openssh()} bob@laptop"
    assert f"you already sign with {own}.pub" in out.stderr


def test_the_new_key_takes_a_passphrase_and_signs_through_ssh_agent(tmp_path: Path) -> None:
    """What keygen says to do: `ssh-keygen -p` adds a passphrase, `ssh-add` loads the key, and
    the hooks sign through the agent (they cannot ask for the passphrase)."""
    bob = Person(tmp_path, "bob")
    made = bob.gp("keygen")
    assert f"ssh-keygen -p -f {bob.key}" in made.stderr and f"ssh-add {bob.key}" in made.stderr
    subprocess.run(["ssh-keygen", "-q", "-p", "-P", "", "-N", "s3cret", "-f", str(bob.key)],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL)
    alice = Person(tmp_path, "alice")
    alice.gp("keygen")
    repo = alice.clone(unadopted_origin(tmp_path, {"payments/pay.py": "x\n"}))
    assert alice.gp("init", cwd=repo).returncode == 0
    assert alice.gp("add-key", bob.email, f"{bob.key}.pub", "--name", "Bob", cwd=repo).returncode == 0
    alice.run("git", "add", ".provenance.toml", cwd=repo)
    alice.run("git", "commit", "-q", "-m", "Adopt", cwd=repo)
    alice.run("git", "push", "-q", "origin", "main", cwd=repo)
    clone = bob.clone(tmp_path / "origin.git")
    assert bob.gp("install", cwd=clone).returncode == 0
    (clone / "a.py").write_text("1\n")
    bob.run("git", "add", "a.py", cwd=clone)
    locked = bob.run("git", "commit", "-q", "-m", "Locked key", cwd=clone)
    assert locked.returncode != 0 and f"ssh-add {bob.key}" in locked.stderr
    with running_agent() as agent:
        sock = {"SSH_AUTH_SOCK": agent["SSH_AUTH_SOCK"]}
        add_to_agent(agent, bob.key, "s3cret")
        done = bob.run("git", "commit", "-q", "-m", "Signed by the agent", cwd=clone, env=sock)
        assert done.returncode == 0, done.stderr
        shown = bob.gp("show", "HEAD", cwd=clone, env=sock)
    assert "valid" in shown.stdout and "bob@example.com" in shown.stdout


def test_init_in_a_repository_with_a_policy_registers_your_key(tmp_path: Path) -> None:
    alice, dave = Person(tmp_path, "alice"), Person(tmp_path, "dave")
    alice.gp("keygen")
    origin = unadopted_origin(tmp_path, {"payments/pay.py": "x\n"})
    repo = alice.clone(origin)
    wrote = alice.gp("init", cwd=repo)
    assert wrote.stdout.startswith("wrote .provenance.toml")
    alice.run("git", "add", ".provenance.toml", cwd=repo)
    alice.run("git", "commit", "-q", "-m", "Adopt", cwd=repo)
    alice.run("git", "push", "-q", "origin", "main", cwd=repo)
    dave.gp("keygen")
    clone = dave.clone(origin)
    joined = dave.gp("init", cwd=clone)
    assert joined.returncode == 0, joined.stderr
    assert joined.stdout.startswith("registered your key in the existing .provenance.toml: commit it")
    pol = schema.load_file(clone / ".provenance.toml")
    assert pol.person_by_key(keyfile.public_key_of(dave.key)).emails == ("dave@example.com",)
    again = dave.gp("init", cwd=clone)
    assert again.stdout == "your key is already registered in .provenance.toml\n"


def test_add_key_registers_a_teammate_and_their_role(tmp_path: Path) -> None:
    alice, bob, carol = (Person(tmp_path, n) for n in ("alice", "bob", "carol"))
    for p in (alice, bob, carol):
        p.gp("keygen")
    repo = alice.clone(unadopted_origin(tmp_path, {"payments/pay.py": "x\n"}))
    alice.gp("init", cwd=repo)
    line = carol.gp("keygen").stdout.strip()  # what carol sends: the line keygen printed
    added = alice.gp("add-key", carol.email, line, "--name", "Carol", "--role", "senior", cwd=repo)
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("registered SHA256:") and "for Carol <carol@example.com>" in added.stdout
    by_file = alice.gp("add-key", bob.email, f"{bob.key}.pub", "--name", "Bob", cwd=repo)
    assert by_file.returncode == 0, by_file.stderr
    pol = schema.load_file(repo / ".provenance.toml")
    assert pol.person_by_email(carol.email).roles == frozenset({"senior"})
    assert pol.person_by_email(bob.email).roles == frozenset()
    nameless = alice.gp("add-key", "eve@example.com", line.replace("carol", "eve"), cwd=repo)
    assert nameless.returncode == 2 and "give their name with --name" in nameless.stderr
    promote = alice.gp("add-key", bob.email, f"{bob.key}.pub", "--role", "senior", cwd=repo)
    assert promote.returncode == 2 and "add them to their `roles` by hand" in promote.stderr
    garbage = alice.gp("add-key", bob.email, "not-a-key", cwd=repo)
    assert garbage.returncode == 2 and garbage.stderr.count("\n") == 1


def test_init_warns_about_a_rule_glob_that_matches_no_tracked_file(tmp_path: Path) -> None:
    alice = Person(tmp_path, "alice")
    alice.gp("keygen")
    repo = alice.clone(unadopted_origin(tmp_path, {"payments/pay.py": "x\n"}))
    out = alice.gp("init", cwd=repo)
    assert out.returncode == 0
    # The starter rule's payments/** matches; its **/migrations/*.sql does not, here.
    assert out.stderr.count("warning:") == 1
    assert ("warning: rule 'critical': '**/migrations/*.sql' matches no tracked file at HEAD, so it "
            "protects nothing") in out.stderr
