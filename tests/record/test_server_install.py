"""`git provenance install --server` and `uninstall --server`, in real bare repositories."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Person
from server_support import git, push
from world import World, make_world


def provenance(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "provenance", *args], cwd=repo, env=env,
                          capture_output=True, text=True)


@pytest.fixture
def world(tmp_path: Path, people: dict[str, Person]) -> World:
    return make_world(tmp_path, people)


def test_install_refuses_without_a_trust_root_and_says_how_to_set_it(world: World) -> None:
    proc = provenance(world.origin, world.env, "install", "--server")
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "no provenance.trustRoot" in proc.stderr
    assert "git config provenance.trustRoot COMMIT" in proc.stderr
    assert not (world.origin / "hooks" / "pre-receive").exists()


@pytest.mark.parametrize("value, says", [
    ("0123456789abcdef0123456789abcdef01234567", "names no commit in this repository"),
    ("main:.provenance.toml", "names no commit in this repository"),
])
def test_install_refuses_a_trust_root_that_is_no_commit_here(
        world: World, value: str, says: str) -> None:
    git(world.origin, "config", "provenance.trustRoot", value)
    proc = provenance(world.origin, world.env, "install", "--server")
    assert proc.returncode != 0 and says in proc.stderr


def test_install_refuses_a_trust_root_without_a_policy(world: World) -> None:
    alice = world.clone("alice")
    git(alice.path, "rm", "-q", ".provenance.toml")
    alice.git("commit", "-q", "-m", "Drop the policy")
    alice.git("push", "-q", "--no-verify", "origin", "HEAD:refs/heads/old")
    git(world.origin, "config", "provenance.trustRoot", "old")
    proc = provenance(world.origin, world.env, "install", "--server")
    assert proc.returncode != 0 and "holds no .provenance.toml" in proc.stderr


def test_install_server_is_for_bare_repositories(world: World) -> None:
    alice = world.clone("alice")
    alice.git("config", "provenance.trustRoot", "HEAD")
    proc = provenance(alice.path, world.env, "install", "--server")
    assert proc.returncode != 0 and "in a clone, run: git provenance install" in proc.stderr


def test_install_chains_an_existing_pre_receive_and_uninstall_restores_it(world: World) -> None:
    git(world.origin, "config", "provenance.trustRoot", "main")
    hook = world.origin / "hooks" / "pre-receive"
    log = world.origin / "site-hook.log"
    hook.write_text(f'#!/bin/sh\ncat >> "{log}"\necho site hook ran >&2\n')
    hook.chmod(0o755)
    site = hook.read_text()

    proc = provenance(world.origin, world.env, "install", "--server")
    assert proc.returncode == 0, proc.stderr
    assert "chained existing pre-receive (now pre-receive.pre-provenance)" in proc.stdout
    assert "judged from trust root" in proc.stdout
    alice = world.clone("alice")
    alice.commit("Document", {"README": "one\n"})
    out = push(alice, "main")
    assert out.returncode == 0 and "site hook ran" in out.stderr
    assert "refs/heads/main" in log.read_text()  # the site hook read the same stdin

    proc = provenance(world.origin, world.env, "uninstall", "--server")
    assert proc.returncode == 0 and f"removed {hook}" in proc.stdout
    assert hook.read_text() == site
    assert not (world.origin / "hooks" / "pre-receive.pre-provenance").exists()


def test_a_refusing_site_hook_refuses_the_push_first(world: World) -> None:
    git(world.origin, "config", "provenance.trustRoot", "main")
    hook = world.origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho closed for maintenance >&2\nexit 1\n")
    hook.chmod(0o755)
    assert provenance(world.origin, world.env, "install", "--server").returncode == 0
    alice = world.clone("alice")
    alice.commit("Document", {"README": "one\n"})
    out = push(alice, "HEAD:refs/heads/feature")
    assert out.returncode != 0 and "closed for maintenance" in out.stderr


def test_a_pre_receive_d_directory_takes_the_hook_beside_the_others(world: World) -> None:
    """Gitea and Forgejo run every script of hooks/pre-receive.d/ from their own pre-receive."""
    git(world.origin, "config", "provenance.trustRoot", "main")
    hooks = world.origin / "hooks"
    (hooks / "pre-receive.d").mkdir()
    proc = provenance(world.origin, world.env, "install", "--server")
    assert proc.returncode == 0, proc.stderr
    assert (hooks / "pre-receive.d" / "git-provenance").exists()
    assert not (hooks / "pre-receive").exists()
    proc = provenance(world.origin, world.env, "uninstall", "--server")
    assert not (hooks / "pre-receive.d" / "git-provenance").exists()


def test_the_trust_root_can_come_from_the_hook_scripts_environment(world: World) -> None:
    """GitLab's and GHES's hooks cannot use the repository's config: the script of docs/server.md
    gives the trust root in git's environment configuration instead."""
    root = git(world.origin, "rev-parse", "main")
    hook = world.origin / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\nexport GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=provenance.trustRoot "
        f"GIT_CONFIG_VALUE_0={root}\nexec {sys.executable} -m provenance hook pre-receive\n")
    hook.chmod(0o755)
    bob = world.clone("bob")
    sha = bob.commit("Add refunds", {"payments/refund.py": "x = 1\n"}, agent=True)
    out = push(bob, "main")
    assert out.returncode != 0 and f"{sha} missing-cosign:" in out.stderr
    assert "no provenance.trustRoot" not in out.stderr
