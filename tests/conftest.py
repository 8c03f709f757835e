"""Shared fixtures: people with real keys, and repositories with the real hooks installed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from provenance.record.install import install  # noqa: E402
from provenance.ssh import keyfile  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
# shared/ (real labelled commits) sits beside the checkout, in development and in CI alike.
SHARED_DATA = next(
    (p for p in (PROJECT.parent / "shared" / "data", Path("/work/shared/data")) if p.is_dir()),
    PROJECT.parent / "shared" / "data",
)
AIDER_COMMITS = SHARED_DATA / "aider-commits.jsonl"
# Agent variables of the machine running the tests must not leak into the repositories under test.
_AGENT_PREFIXES = ("CLAUDE", "CODEX", "CURSOR", "GEMINI", "COPILOT", "KIRO", "OPENCODE", "AIDER",
                   "AI_AGENT", "AGENT", "GOOSE", "CRUSH", "AUGMENT", "QWEN", "OZ_", "REPL_ID",
                   "ANTIGRAVITY", "CODEIUM", "TERM_PROGRAM", "PRE_COMMIT", "PROVENANCE", "GIT_")


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    key: Path  # private key path

    @property
    def public(self) -> str:
        return keyfile.public_key_of(self.key).openssh()


@dataclass
class Repo:
    path: Path
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, env: dict[str, str] | None = None, check: bool = True,
            input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        full = {**self.env, **(env or {})}
        proc = subprocess.run(list(args), cwd=self.path, env=full, capture_output=True, input=input)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{args} failed ({proc.returncode}):\n{proc.stdout.decode(errors='replace')}\n"
                f"{proc.stderr.decode(errors='replace')}"
            )
        return proc

    def git(self, *args: str, **kwargs: object) -> str:
        return self.run("git", *args, **kwargs).stdout.decode("utf-8", "surrogateescape")  # type: ignore[arg-type]

    def as_person(self, person: Person) -> dict[str, str]:
        """Env that makes `person` the author, committer and signer."""
        return {
            "GIT_AUTHOR_NAME": person.name, "GIT_AUTHOR_EMAIL": person.email,
            "GIT_COMMITTER_NAME": person.name, "GIT_COMMITTER_EMAIL": person.email,
            "GIT_CONFIG_COUNT": "2",
            "GIT_CONFIG_KEY_0": "user.email", "GIT_CONFIG_VALUE_0": person.email,
            "GIT_CONFIG_KEY_1": "provenance.signingKey", "GIT_CONFIG_VALUE_1": str(person.key),
        }

    def write(self, rel: str, content: str | bytes) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)

    def commit(self, person: Person, message: str, files: dict[str, str] | None = None,
               env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> str:
        for rel, content in (files or {}).items():
            self.write(rel, content)
            self.git("add", "--", rel)
        self.run("git", "commit", "-q", *args, "-m", message, env={**self.as_person(person), **(env or {})})
        return self.git("rev-parse", "HEAD").strip()

    def message(self, rev: str = "HEAD") -> str:
        return self.git("log", "-1", "--format=%B", rev)


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_AGENT_PREFIXES)}
    env.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_EDITOR": "true", "LC_ALL": "C.UTF-8"})
    env.pop("SSH_AUTH_SOCK", None)
    return env


def unadopted_origin(root: Path, files: dict[str, str]) -> Path:
    """A shared bare repository (root/origin.git) holding a project that has not adopted git-provenance."""
    seed = root / "seed"
    env = clean_env(root)
    git = ["git", "-c", "user.name=Seed", "-c", "user.email=seed@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(seed)], check=True, env=env)
    for rel, text in files.items():
        (seed / rel).parent.mkdir(parents=True, exist_ok=True)
        (seed / rel).write_text(text)
    subprocess.run([*git, "add", "-A"], cwd=seed, check=True, env=env)
    subprocess.run([*git, "commit", "-q", "-m", "The project"], cwd=seed, check=True, env=env)
    origin = root / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(origin)], check=True, env=env)
    return origin


@pytest.fixture(scope="session")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Person]:
    """alice and carol are seniors, bob and dave are developers; each has an Ed25519 key."""
    keys = tmp_path_factory.mktemp("keys")
    out = {}
    for name in ("alice", "bob", "carol", "dave"):
        path = keys / name
        keyfile.keygen(path, f"{name}@example.com")
        out[name] = Person(name.title(), f"{name}@example.com", path)
    return out


def policy_text(people: dict[str, Person], *, rules: str | None = None, extra: str = "") -> str:
    seniors = ("alice", "carol")
    parts = ["version = 1\n", extra]
    parts.append(rules if rules is not None else (
        '[[rule]]\nname = "tier-1"\npaths = ["payments/**", "checkout/**"]\n'
        'cosign-roles = ["senior"]\nthreshold = 1\napplies-to = "ai-assisted"\n'
    ))
    for key, p in people.items():
        roles = '["senior"]' if key in seniors else "[]"
        parts.append(f'\n[[person]]\nname = "{p.name}"\nemail = "{p.email}"\nroles = {roles}\n'
                     f'keys = ["{p.public}"]\n')
    return "".join(parts)


def new_repo(root: Path, people: dict[str, Person], *, hooks: bool = True,
             policy: str | None = None) -> Repo:
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    path = root / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=clean_env(home))
    repo = Repo(path, home, clean_env(home))
    if hooks:
        install(cwd=path, python=sys.executable)
    repo.write(".provenance.toml", policy if policy is not None else policy_text(people))
    text = (path / ".provenance.toml").read_text()
    repo.commit(people["alice"], "Adopt git-provenance", {".provenance.toml": text})
    return repo


def with_origin(repo: Repo, root: Path) -> Path:
    """A bare `origin` at ROOT/origin.git holding the repository's main."""
    origin = root / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True,
                   env=clean_env(repo.home))
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main")
    return origin


@pytest.fixture
def repo(tmp_path: Path, people: dict[str, Person]) -> Iterator[Repo]:
    yield new_repo(tmp_path, people)
