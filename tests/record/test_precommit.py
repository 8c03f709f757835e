"""The same hooks through real pre-commit, installed from this repository as a hook repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT, Repo, clean_env, new_repo
from test_editor import EDITOR
from test_hooks import assert_valid_declaration, declaration_of

from provenance.record.install import FAST_PATHS, precommit_entry

HOOK_IDS = ("provenance-prepare-commit-msg", "provenance-commit-msg", "provenance-post-commit",
            "provenance-post-rewrite")


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git snapshot of the working tree (so uncommitted code is what gets tested)."""
    root = tmp_path_factory.mktemp("hookrepo")
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(PROJECT / name, root / name)
    shutil.copytree(PROJECT / "man", root / "man")  # the manual, installed as data-files
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


def _pc_repo(tmp_path: Path, people, hook_repo: tuple[Path, str], pre_commit_home: Path,
             local_hooks: str = "") -> Repo:
    """A repository whose hooks pre-commit installed from the snapshot (then `local_hooks`)."""
    repo = new_repo(tmp_path, people, hooks=False)
    root, sha = hook_repo
    hooks = "".join(f"    -   id: {h}\n" for h in HOOK_IDS)
    local = f"-   repo: local\n    hooks:\n{local_hooks}" if local_hooks else ""
    repo.write(".pre-commit-config.yaml",
               "default_install_hook_types: [prepare-commit-msg, commit-msg, post-commit, post-rewrite]\n"
               f"repos:\n-   repo: {root}\n    rev: {sha}\n    hooks:\n{hooks}{local}")
    repo.env["PRE_COMMIT_HOME"] = str(pre_commit_home)
    repo.run(sys.executable, "-m", "pre_commit", "install")
    repo.git("add", ".pre-commit-config.yaml")
    return repo


@pytest.fixture
def pc_repo(tmp_path: Path, people, hook_repo, pre_commit_home) -> Repo:
    return _pc_repo(tmp_path, people, hook_repo, pre_commit_home)


def _log_hook_pythons(repo: Repo, tmp_path: Path) -> Path:
    """Every Python that starts as `git-provenance hook STAGE` appends STAGE to the returned file."""
    site = tmp_path / "site"
    site.mkdir()
    log = tmp_path / "python-hooks"
    log.write_text("")
    (site / "sitecustomize.py").write_text(
        "import sys\n"
        "if sys.argv[1:2] == ['hook']:\n"
        f"    open({str(log)!r}, 'a').write(sys.argv[2] + '\\n')\n"
    )
    repo.env["PYTHONPATH"] = str(site)
    return log


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


def test_the_shipped_entries_run_the_native_fast_paths_in_sh_first():
    """.pre-commit-hooks.yaml is written by hand; install.py is the one source of its shell text."""
    manifest = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    entries = {hook["stages"][0]: hook["entry"] for hook in manifest}
    assert entries == {stage: precommit_entry(stage) for stage in entries}
    for stage, fast in FAST_PATHS.items():
        assert entries[stage] == f"sh -c '{fast}exec git-provenance hook {stage} \"$@\"' git-provenance"
    assert entries["prepare-commit-msg"] == "git-provenance hook prepare-commit-msg"


def test_a_plain_commit_starts_python_once_and_an_edited_message_falls_back_to_the_full_check(
    pc_repo: Repo, people, tmp_path: Path
):
    log = _log_hook_pythons(pc_repo, tmp_path)
    pc_repo.commit(people["bob"], "Plain", {"a.py": "1\n"})
    assert log.read_text().split() == ["prepare-commit-msg"]
    assert_valid_declaration(pc_repo)

    log.write_text("")
    editor = pc_repo.home / "editor.sh"  # the user declares `yes` in the editor
    editor.write_text('#!/bin/sh\nsed -i "s/^AI-Assisted: no$/AI-Assisted: yes/" "$1"\n')
    editor.chmod(0o755)
    pc_repo.write("a.py", "2\n")
    pc_repo.git("add", "a.py")
    pc_repo.run("git", "commit", "-q", "-e", "-m", "Draft",
                env={**pc_repo.as_person(people["bob"]), "GIT_EDITOR": str(editor)})
    assert log.read_text().split() == ["prepare-commit-msg", "commit-msg"]
    assert declaration_of(pc_repo)[0] == ["yes"]
    assert_valid_declaration(pc_repo)  # commit-msg re-signed for `yes`


def test_a_commit_that_differs_from_the_signed_one_falls_back_to_the_full_post_commit(
    tmp_path: Path, people, hook_repo, pre_commit_home
):
    """A later commit-msg hook changes the declaration after ours has passed it: post-commit's
    shell check sees HEAD's trailers differ from what prepare-commit-msg signed, runs the full
    hook, and that re-signs."""
    flip = ("    -   id: flip-declaration\n        name: flip the declaration\n"
            "        entry: \"sed -i 's/^AI-Assisted: no$/AI-Assisted: yes/'\"\n"
            "        language: system\n        stages: [commit-msg]\n")
    repo = _pc_repo(tmp_path, people, hook_repo, pre_commit_home, local_hooks=flip)
    log = _log_hook_pythons(repo, tmp_path)
    repo.commit(people["bob"], "Flipped after our check", {"a.py": "1\n"})
    assert log.read_text().split() == ["prepare-commit-msg", "post-commit"]
    assert declaration_of(repo)[0] == ["yes"]
    assert_valid_declaration(repo)


# ---- squash, editor, staged policy and amend through pre-commit -------------------------------


def test_merge_squash_through_pre_commit_ors_what_is_squashed(pc_repo: Repo, people):
    pc_repo.git("checkout", "-q", "-b", "feature")
    pc_repo.commit(people["bob"], "Agent part", {"lib/b.py": "b\n"}, env={"CLAUDECODE": "1"})
    pc_repo.git("checkout", "-q", "main")
    pc_repo.git("merge", "-q", "--squash", "feature")
    pc_repo.commit(people["dave"], "Feature, squashed")
    assert declaration_of(pc_repo)[:2] == (["yes"], ["claude-code"])
    assert_valid_declaration(pc_repo)


def test_an_interactive_commit_through_pre_commit_keeps_the_subject_first(pc_repo: Repo, people,
                                                                            tmp_path: Path):
    editor = tmp_path / "editor.py"
    editor.write_text(EDITOR)
    pc_repo.write("a.py", "1\n")
    pc_repo.git("add", "a.py")
    pc_repo.run("git", "commit", "-q", env={**pc_repo.as_person(people["bob"]), "TYPED": "Typed",
                                            "GIT_EDITOR": f"{sys.executable} {editor} top"})
    assert pc_repo.git("log", "-1", "--format=%s").strip() == "Typed"
    assert pc_repo.message().count("AI-Assisted:") == 1
    assert_valid_declaration(pc_repo)


def test_a_staged_policy_that_does_not_load_is_refused_through_pre_commit(pc_repo: Repo, people):
    head = pc_repo.git("rev-parse", "HEAD")
    pc_repo.write(".provenance.toml", (pc_repo.path / ".provenance.toml").read_text() + "bogus = 1\n")
    pc_repo.git("add", ".provenance.toml")
    proc = pc_repo.run("git", "commit", "-q", "-m", "Break it", env=pc_repo.as_person(people["alice"]),
                       check=False)
    out = (proc.stdout + proc.stderr).decode()
    assert proc.returncode != 0 and pc_repo.git("rev-parse", "HEAD") == head
    (line,) = [ln for ln in out.splitlines() if ln.startswith("git-provenance:")]
    assert ".provenance.toml:" in line and "bogus" in line and "kept in .git/COMMIT_EDITMSG" in line


def test_amend_m_outside_the_agent_through_pre_commit_keeps_assisted_by(pc_repo: Repo, people):
    pc_repo.commit(people["bob"], "Agent change", {"a.py": "1\n"}, env={"CLAUDECODE": "1"})
    pc_repo.run("git", "commit", "-q", "--amend", "-m", "Reworded",
                env=pc_repo.as_person(people["bob"]))
    assert declaration_of(pc_repo)[:2] == (["yes"], ["claude-code"])
    assert_valid_declaration(pc_repo)
