"""`git provenance doctor` on real clones: what it finds, and the fix it prints for each problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import Person, Repo, new_repo


def doctor(repo: Repo, person: Person, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "provenance", "doctor"], cwd=repo.path,
                          env={**repo.env, **repo.as_person(person), **(env or {})},
                          capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def test_a_complete_set_up_passes(tmp_path: Path, people: dict[str, Person]) -> None:
    repo = new_repo(tmp_path, people)
    repo.git("config", "provenance.trustRoot", "HEAD")
    rc, out = doctor(repo, people["bob"])
    assert rc == 0, out
    assert "FIX" not in out and "listed for Bob <bob@example.com>" in out


def test_each_problem_is_named_with_its_fix(tmp_path: Path, people: dict[str, Person]) -> None:
    repo = new_repo(tmp_path, people, hooks=False)
    rc, out = doctor(repo, people["bob"], {"GIT_CONFIG_COUNT": "1"})  # no signing key configured
    assert rc == 1
    assert "FIX hook commit-msg: missing\n    fix: git provenance install" in out
    assert "FIX signing key: none configured\n    fix: git provenance keygen" in out
    assert "FIX trust root: not pinned" in out


def test_a_key_missing_from_the_policy_is_found(tmp_path: Path, people: dict[str, Person]) -> None:
    repo = new_repo(tmp_path, {k: v for k, v in people.items() if k != "dave"})
    repo.git("config", "provenance.trustRoot", "HEAD")
    rc, out = doctor(repo, people["dave"])
    assert rc == 1 and "FIX key in policy: dave@example.com is not a person" in out


def test_a_chained_hook_and_unfetched_notes(tmp_path: Path, people: dict[str, Person]) -> None:
    origin = new_repo(tmp_path / "origin", people)
    origin.commit(people["bob"], "AI change", {"payments/a.py": "x = 1\n"}, env={"CLAUDECODE": "1"})
    origin.run(sys.executable, "-m", "provenance", "cosign", "HEAD", env=origin.as_person(people["alice"]))
    clone = Repo(tmp_path / "clone", origin.home, origin.env)
    origin.run("git", "clone", "-q", str(origin.path), str(clone.path))
    hook = clone.path / ".git" / "hooks" / "commit-msg"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    clone.run(sys.executable, "-m", "provenance", "install")
    clone.git("config", "provenance.trustRoot", "HEAD~1")
    rc, out = doctor(clone, people["bob"])
    assert "ok  hook commit-msg: installed, chained after commit-msg.pre-provenance" in out
    assert rc == 1 and "origin has co-signs this clone has not fetched\n    fix: git provenance sync" in out
    clone.run(sys.executable, "-m", "provenance", "sync", env=clone.as_person(people["bob"]))
    rc, out = doctor(clone, people["bob"])
    assert rc == 0, out
