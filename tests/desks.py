"""Each person at their own desk: their own HOME (git identity and signing key in ~/.gitconfig),
their own clone of one shared bare remote, the hooks installed with `git provenance install`.

Commits are made as the person would make them: plain `git commit`, no identity in the
environment; an agent session is its environment (`CLAUDECODE=1`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import Person, Repo, clean_env, policy_text

AGENT = {"CLAUDECODE": "1"}


def desk(root: Path, person: Person, remote: Path, *, hooks: bool = True) -> Repo:
    """`person`'s HOME and clone of `remote` under `root`, hooks installed unless `hooks` is False."""
    name = person.email.split("@")[0]
    home = root / name / "home"
    home.mkdir(parents=True)
    (home / ".gitconfig").write_text(
        f"[user]\n\tname = {person.name}\n\temail = {person.email}\n"
        f"[provenance]\n\tsigningKey = {person.key}\n"
    )
    env = clean_env(home)
    path = root / name / "repo"
    subprocess.run(["git", "clone", "-q", str(remote), str(path)], check=True, env=env,
                   capture_output=True)
    repo = Repo(path, home, env)
    if hooks:
        repo.run(sys.executable, "-m", "provenance", "install")
    return repo


def shared_remote(root: Path, people: dict[str, Person], policy: str | None = None) -> Path:
    """A bare remote whose main holds the policy, committed and pushed by alice from her desk."""
    remote = root / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    alice = desk(root / "setup", people["alice"], remote)
    commit(alice, "Adopt git-provenance",
           {".provenance.toml": policy if policy is not None else policy_text(people)})
    alice.git("push", "-q", "origin", "main")
    return remote


def commit(repo: Repo, message: str, files: dict[str, str] | None = None, *,
           env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> str:
    """Write and stage `files`, then `git commit -m MESSAGE ARGS`; returns HEAD."""
    for rel, content in (files or {}).items():
        repo.write(rel, content)
        repo.git("add", "--", rel)
    repo.run("git", "commit", "-q", *args, "-m", message, env=env)
    return repo.git("rev-parse", "HEAD").strip()


def provenance(repo: Repo, *args: str, env: dict[str, str] | None = None,
               check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """`git provenance ARGS` at the desk (the console script of the Python running the tests)."""
    return repo.run(sys.executable, "-m", "provenance", *args, env=env, check=check)
