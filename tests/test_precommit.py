"""The same hooks through real pre-commit, installed from this repository as a hook repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT, Repo, clean_env, new_repo
from test_hooks import assert_valid_declaration, declaration_of

HOOK_IDS = ("provenance-prepare-commit-msg", "provenance-commit-msg", "provenance-post-commit",
            "provenance-post-rewrite")


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git snapshot of the working tree (so uncommitted code is what gets tested)."""
    root = tmp_path_factory.mktemp("hookrepo")
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(PROJECT / name, root / name)
    shutil.copytree(PROJECT / "provenance", root / "provenance",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = clean_env(root)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=root, check=True, env=env)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run([*git, "commit", "-q", "--no-verify", "-m", "snapshot"], cwd=root, check=True, env=env)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                         check=True).stdout.strip()
    return root, sha


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def pc_repo(tmp_path: Path, people, hook_repo, pre_commit_home) -> Repo:
    repo = new_repo(tmp_path, people, hooks=False)
    root, sha = hook_repo
    hooks = "".join(f"    -   id: {h}\n" for h in HOOK_IDS)
    repo.write(".pre-commit-config.yaml",
               "default_install_hook_types: [prepare-commit-msg, commit-msg, post-commit, post-rewrite]\n"
               f"repos:\n-   repo: {root}\n    rev: {sha}\n    hooks:\n{hooks}")
    repo.env["PRE_COMMIT_HOME"] = str(pre_commit_home)
    repo.run(sys.executable, "-m", "pre_commit", "install")
    repo.git("add", ".pre-commit-config.yaml")
    return repo


def test_agent_commit_through_pre_commit_is_declared_and_signed(pc_repo: Repo, people):
    pc_repo.commit(people["bob"], "Add refund endpoint", {"payments/refund.py": "x = 1\n"},
                   env={"CLAUDECODE": "1"})
    ai, assisted, sigs = declaration_of(pc_repo)
    assert (ai, assisted) == (["yes"], ["claude-code"])
    assert sigs[0].startswith("v1 declare bob@example.com sha256:")
    assert_valid_declaration(pc_repo)


def test_human_commit_and_amend_through_pre_commit_stay_single_and_valid(pc_repo: Repo, people):
    pc_repo.commit(people["bob"], "Human change", {"a.py": "1\n"})
    assert declaration_of(pc_repo)[0] == ["no"]
    pc_repo.write("a.py", "2\n")
    pc_repo.git("add", "a.py")
    pc_repo.run("git", "commit", "-q", "--amend", "-m", "Reworded", env=pc_repo.as_person(people["bob"]))
    ai, _, sigs = declaration_of(pc_repo)
    assert (ai, len(sigs)) == (["no"], 1)
    assert_valid_declaration(pc_repo)
