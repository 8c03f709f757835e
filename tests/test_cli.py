"""The real CLI, run as a process: set-up commands, --help with an example for every command, completion."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Person, Repo, new_repo

from provenance.cli import cli

COMMANDS = sorted(cli.commands)


def run(repo: Repo, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "provenance", *args], cwd=repo.path,
                          env={**repo.env, **(env or {})}, capture_output=True, text=True)


@pytest.fixture
def bare(tmp_path: Path, people: dict[str, Person]) -> Repo:
    repo = new_repo(tmp_path, people, hooks=False)
    (repo.path / ".provenance.toml").unlink()
    return repo


def test_keygen_init_and_allowed_signers(bare: Repo) -> None:
    env = {"GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "user.email", "GIT_CONFIG_VALUE_0": "eve@example.com",
           "GIT_CONFIG_KEY_1": "user.name", "GIT_CONFIG_VALUE_1": "Eve"}
    key = run(bare, "keygen", env=env)
    assert key.returncode == 0 and key.stdout.startswith("ssh-ed25519 ")
    assert (bare.home / ".ssh" / "git-provenance_ed25519").exists()
    assert bare.git("config", "provenance.signingKey").strip().endswith("git-provenance_ed25519")
    again = run(bare, "keygen", env=env)
    assert again.returncode != 0 and "Traceback" not in again.stderr  # never overwrites
    init = run(bare, "init", env=env)
    assert init.returncode == 0 and "wrote .provenance.toml" in init.stdout
    signers = run(bare, "allowed-signers", env=env)
    assert signers.stdout.startswith("eve@example.com ") and key.stdout.split()[1] in signers.stdout


def test_install_then_show(repo: Repo, people: dict[str, Person]) -> None:
    out = run(repo, "install")
    assert out.returncode == 0 and out.stdout.count("installed ") == 6
    repo.commit(people["bob"], "Agent change", {"a.py": "x = 1\n"}, env={"CLAUDECODE": "1"})
    shown = run(repo, "show", "HEAD")
    assert shown.returncode == 0 and "claude-code" in shown.stdout
    assert run(repo, "install", "--uninstall").stdout.count("removed ") == 6


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(repo: Repo, command: str) -> None:
    out = run(repo, command, "--help")
    assert out.returncode == 0
    assert "Example" in out.stdout and "git" in out.stdout.split("Example", 1)[1]


def test_the_group_help_lists_every_command(repo: Repo) -> None:
    out = run(repo, "--help").stdout
    assert all(command in out for command in COMMANDS)
    assert {"report", "doctor", "completion"} <= set(COMMANDS)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(repo: Repo, shell: str) -> None:
    out = run(repo, "completion", shell)
    assert out.returncode == 0 and "_GIT_PROVENANCE_COMPLETE" in out.stdout


def test_bash_completion_completes_commands(repo: Repo) -> None:
    script = run(repo, "completion", "bash").stdout
    env = {**repo.env, "_GIT_PROVENANCE_COMPLETE": "bash_complete", "COMP_WORDS": "git-provenance do",
           "COMP_CWORD": "1"}
    proc = subprocess.run([sys.executable, "-m", "provenance"], cwd=repo.path, env=env,
                          capture_output=True, text=True)
    assert "plain,doctor" in proc.stdout.splitlines()
    check = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert check.returncode == 0, check.stderr
