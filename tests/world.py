"""A team around a shared bare repository: each person works in a clone of their own (hooks
installed with `python -m provenance install`, their identity and key in that clone's git config).
The co-sign workflow's tests (tests/commands/test_workflow.py) and the server's
(tests/record/test_server.py) share it.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from conftest import Person, clean_env, policy_text

AGENT = {"CLAUDECODE": "1"}
NOTES = "refs/notes/provenance"


@dataclass(frozen=True)
class Clone:
    """One person's clone of the shared bare repository."""

    path: Path
    person: Person
    env: dict[str, str]

    def run(self, *args: str, env: dict[str, str] | None = None, input: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(list(args), cwd=self.path, env={**self.env, **(env or {})}, input=input,
                              capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def git(self, *args: str, **kwargs: object) -> str:
        return self.run("git", *args, **kwargs).stdout.strip()  # type: ignore[arg-type]

    def cli(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, "-m", "provenance", *args, **kwargs)  # type: ignore[arg-type]

    def push(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("git", "push", "origin", *args, check=False)

    def commit(self, message: str, files: dict[str, str], *, agent: bool = False,
               env: dict[str, str] | None = None) -> str:
        for rel, content in files.items():
            p = self.path / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content)
            self.git("add", "--", rel)
        self.git("commit", "-q", "-m", message, env={**(AGENT if agent else {}), **(env or {})})
        return self.git("rev-parse", "HEAD")

    def audit(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli("audit", *args, check=False)


@dataclass(frozen=True)
class World:
    root: Path
    origin: Path
    people: dict[str, Person]
    env: dict[str, str]

    def clone(self, name: str, *, directory: str | None = None, hooks: bool = True) -> Clone:
        person = self.people[name]
        path = self.root / (directory or name)
        subprocess.run(["git", "clone", "-q", str(self.origin), str(path)], env=self.env, check=True,
                       capture_output=True)
        c = Clone(path, person, self.env)
        c.git("config", "user.name", person.name)
        c.git("config", "user.email", person.email)
        c.git("config", "provenance.signingKey", str(person.key))
        if hooks:
            c.cli("install")
        return c


def policy_listings(trace: Path) -> list[list[str]]:
    """The policy listings git was asked for (a `GIT_TRACE` file), each as its revision
    arguments: what a push read of the history (tests of DESIGN §8, a push costs what is pushed)."""
    asked = []
    for line in trace.read_text().splitlines():
        if "log --full-history" in line and "-- .provenance.toml" in line:
            args = line.split("%H %P' ", 1)[1].split()
            asked.append(args[: args.index("--")])
    return asked


def make_world(tmp_path: Path, people: dict[str, Person], policy: str | None = None) -> World:
    """A bare `origin` whose main holds the policy (adopted by alice, a senior)."""
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], env=env, check=True)
    world = World(tmp_path, origin, people, env)
    seed = world.clone("alice", directory="seed")
    seed.commit("Adopt git-provenance", {".provenance.toml": policy or policy_text(people)})
    seed.git("push", "-q", "origin", "main")
    return world
