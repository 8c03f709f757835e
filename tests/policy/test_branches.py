"""Which branches are protected (policy/branches.py), and how much of them has landed: real clones."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import clean_env

from provenance.policy import branches
from provenance.policy.schema import Policy


def _git(cwd: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def _clone_of_trunk(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A clone of a remote whose default branch is `trunk`, with `release/1` and `topic` on it."""
    env = clean_env(tmp_path)
    origin, seed, work = tmp_path / "origin.git", tmp_path / "seed", tmp_path / "work"
    _git(tmp_path, env, "init", "-q", "--bare", "-b", "trunk", str(origin))
    _git(tmp_path, env, "clone", "-q", str(origin), str(seed))
    _git(seed, env, "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-q",
         "--allow-empty", "-m", "one")
    _git(seed, env, "push", "-q", "origin", "trunk", "trunk:release/1", "trunk:topic")
    _git(tmp_path, env, "clone", "-q", str(origin), str(work))  # sets origin/HEAD: trunk
    for key, value in (("user.name", "A"), ("user.email", "a@example.com")):
        _git(work, env, "config", key, value)
    return work, env


def test_the_default_is_the_remotes_default_branch_main_and_master(tmp_path: Path) -> None:
    work, _ = _clone_of_trunk(tmp_path)
    found = branches.protected(None, work)
    assert found.patterns == ("trunk", "main", "master")
    assert set(found.refs) == {"refs/heads/trunk", "refs/remotes/origin/trunk"}


def test_the_policys_list_replaces_the_default_and_takes_globs(tmp_path: Path) -> None:
    work, _ = _clone_of_trunk(tmp_path)
    policy = Policy(version=1, protected_branches=("release/*",))
    found = branches.protected(policy, work)
    assert found.refs == ("refs/remotes/origin/release/1",)


def test_a_local_protected_branch_has_landed_only_as_far_as_its_upstream(tmp_path: Path) -> None:
    work, env = _clone_of_trunk(tmp_path)
    pushed = _git(work, env, "rev-parse", "HEAD")
    _git(work, env, "commit", "-q", "--allow-empty", "-m", "my unpushed merge")
    found = branches.protected(None, work)
    assert pushed in found.landed and _git(work, env, "rev-parse", "HEAD") not in found.landed
