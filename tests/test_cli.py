"""The real CLI, run as a process: set-up commands, --help with an example for every command, `help`,
and what every command says outside a repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Person, Repo, clean_env, new_repo

from provenance.cli import ANYWHERE, cli

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
    assert again.returncode == 0 and again.stdout == key.stdout  # never overwrites, never refuses
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


# Minimal arguments for each command that needs a repository; every one must say so first.
OUTSIDE_ARGS = {
    "cosign": ("HEAD",), "declare": ("--ai",), "report": ("--html", "x.html"),
    "hook": ("pre-push", "origin", "url"),
}
HOOK_ARGS = (("prepare-commit-msg", "MSG"), ("commit-msg", "MSG"), ("post-commit",),
             ("post-rewrite", "amend"), ("applypatch-msg", "MSG"), ("pre-push", "origin", "url"))


@pytest.mark.parametrize("args", [(c, *OUTSIDE_ARGS.get(c, ())) for c in COMMANDS
                                  if c not in ANYWHERE] + [("hook", *a) for a in HOOK_ARGS],
                         ids=lambda a: " ".join(a[:2]))
def test_outside_a_repository_every_command_says_so_in_one_line(tmp_path: Path,
                                                                args: tuple[str, ...]) -> None:
    env = {**clean_env(tmp_path), "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)}
    proc = subprocess.run([sys.executable, "-m", "provenance", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2, "", "git-provenance: error: not a git repository\n")


def test_the_commands_that_work_anywhere(tmp_path: Path) -> None:
    env = {**clean_env(tmp_path), "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)}
    for args in (("help",), ("help", "audit"), ("completion", "bash"), ("keygen", "--no-config")):
        proc = subprocess.run([sys.executable, "-m", "provenance", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 0, (args, proc.stderr)
    assert set(ANYWHERE) == {"keygen", "demo", "completion", "help"}


def test_help_shows_one_command_or_all(repo: Repo) -> None:
    assert run(repo, "help").stdout == run(repo, "--help").stdout
    assert run(repo, "help", "audit").stdout == run(repo, "audit", "--help").stdout
    unknown = run(repo, "help", "audi")
    assert unknown.returncode == 2 and unknown.stderr == (
        "git-provenance: error: no command 'audi': `git provenance help` lists them\n")
