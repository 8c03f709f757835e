"""Adopting the hooks through real pre-commit, as README.md says: `pre-commit autoupdate` pins `rev`,
the first hook run sets the notes configuration `install` would have set, and the package pre-commit
installs carries the manual that `git provenance --help` opens."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Person, Repo, clean_env, new_repo
from test_precommit import hook_repo, pre_commit_home  # noqa: F401 (fixtures)

STAGES = "[prepare-commit-msg, commit-msg, post-commit, post-rewrite, pre-push]"


def _config(repo_url: str | Path, rev: str) -> str:
    ids = ("prepare-commit-msg", "commit-msg", "post-commit", "post-rewrite", "pre-push")
    hooks = "".join(f"    -   id: provenance-{h}\n" for h in ids)
    return (f"default_install_hook_types: {STAGES}\nrepos:\n-   repo: {repo_url}\n    rev: {rev}\n"
            f"    hooks:\n{hooks}")


def _pre_commit(repo: Repo, *args: str) -> subprocess.CompletedProcess[bytes]:
    return repo.run(sys.executable, "-m", "pre_commit", *args)


@pytest.fixture
def developer(tmp_path: Path, people: dict[str, Person], hook_repo: tuple[Path, str],  # noqa: F811
              pre_commit_home: Path) -> Repo:  # noqa: F811
    repo = new_repo(tmp_path, people, hooks=False)
    repo.env["PRE_COMMIT_HOME"] = str(pre_commit_home)
    repo.write(".pre-commit-config.yaml", _config(hook_repo[0], "main"))
    return repo


def test_autoupdate_pins_rev_to_the_newest_commit_while_there_is_no_release(
        developer: Repo, hook_repo: tuple[Path, str]) -> None:  # noqa: F811
    _pre_commit(developer, "autoupdate")
    config = (developer.path / ".pre-commit-config.yaml").read_text()
    assert f"    rev: {hook_repo[1]}\n" in config


def test_autoupdate_pins_rev_to_the_newest_release_tag(tmp_path: Path, developer: Repo,
                                                       hook_repo: tuple[Path, str]) -> None:  # noqa: F811
    released = tmp_path / "released"
    env = clean_env(tmp_path)
    subprocess.run(["git", "clone", "-q", str(hook_repo[0]), str(released)], check=True, env=env)
    subprocess.run(["git", "-c", "user.name=r", "-c", "user.email=r@example.com", "tag", "-a",
                    "v0.2.0", "-m", "v0.2.0"], cwd=released, check=True, env=env)
    developer.write(".pre-commit-config.yaml", _config(released, "main"))
    _pre_commit(developer, "autoupdate")
    assert "    rev: v0.2.0\n" in (developer.path / ".pre-commit-config.yaml").read_text()


def test_the_first_hook_run_sets_the_notes_config_so_notes_follow_an_amend(
        developer: Repo, people: dict[str, Person]) -> None:
    _pre_commit(developer, "autoupdate")
    _pre_commit(developer, "install")
    assert developer.run("git", "config", "notes.rewriteRef", check=False).returncode == 1
    developer.git("add", ".pre-commit-config.yaml")
    first = developer.commit(people["bob"], "Adopt the hooks through pre-commit")
    assert developer.git("config", "notes.rewriteRef").strip() == "refs/notes/provenanc[e]"
    assert developer.git("config", "notes.rewrite.amend").strip() == "true"
    assert developer.git("config", "notes.provenance.mergeStrategy").strip() == "cat_sort_uniq"
    # --force: a human commit needs no co-sign, and cosign signs nothing it does not need.
    developer.run(sys.executable, "-m", "provenance", "cosign", "--force", "HEAD",
                  env=developer.as_person(people["alice"]))
    developer.run("git", "commit", "-q", "--amend", "-m", "Adopt the hooks (reworded)",
                  env=developer.as_person(people["bob"]))
    assert developer.git("rev-parse", "HEAD").strip() != first
    note = developer.git("notes", "--ref=provenance", "show", "HEAD")
    assert "v1 cosign alice@example.com" in note  # the co-sign followed the amend


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_the_installed_package_carries_the_manual_for_git_provenance_help(
        developer: Repo, pre_commit_home: Path) -> None:  # noqa: F811
    _pre_commit(developer, "autoupdate")
    _pre_commit(developer, "install-hooks")  # a real `pip install` of the package
    scripts = [p for p in pre_commit_home.glob("*/py_env-*/bin/git-provenance")]
    assert scripts
    page = scripts[0].parent.parent / "share" / "man" / "man1" / "git-provenance.1"
    assert page.is_file()
    env = {**developer.env, "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80"}
    env["PATH"] = f"{scripts[0].parent}:{env['PATH']}"
    env.pop("MANPATH", None)
    out = developer.run("git", "provenance", "--help", env=env).stdout.decode()
    assert re.match(r"GIT-PROVENANCE\(1\)", out) and "git provenance keygen" in out
