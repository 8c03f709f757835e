"""A team's own git server for the pre-receive tests: the shared bare repository with
`git provenance install --server` run in it, reached over file:// or over `git daemon`."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from world import NOTES, Clone, World

NO_VERIFY = "--no-verify"  # the client's gate skipped: what the server must still refuse


def serve(world: World) -> str:
    """Pin the trust root to the adopting commit and install the hook; returns the trust root."""
    root = git(world.origin, "rev-parse", "main")
    git(world.origin, "config", "provenance.trustRoot", root)
    proc = subprocess.run([sys.executable, "-m", "provenance", "install", "--server"],
                          cwd=world.origin, env=world.env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return root


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


class State(NamedTuple):
    """Everything a push could change on the server: every ref, and every object stored."""

    refs: str
    objects: str


def state(origin: Path) -> State:
    return State(git(origin, "for-each-ref", "--format=%(objectname) %(refname)"),
                 git(origin, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)"))


def push(clone: Clone, *refspecs: str) -> subprocess.CompletedProcess[str]:
    """`git push --no-verify origin REFSPECS`: only the server judges."""
    return clone.run("git", "push", NO_VERIFY, "origin", *refspecs, check=False)


def refused(proc: subprocess.CompletedProcess[str], *refs: str) -> str:
    """The refusal's text; each of `refs` has its own block, and nothing else was refused."""
    assert proc.returncode != 0, proc.stderr
    blocks = [line.split("git-provenance: ", 1)[1].strip().removesuffix(" refused")
              for line in proc.stderr.splitlines() if line.rstrip().endswith(" refused")
              and "git-provenance: " in line]
    assert sorted(blocks) == sorted(refs), proc.stderr
    assert "this push was refused whole" in proc.stderr
    return proc.stderr


def senior_cosigns(world: World, senior: str, sha: str, *, sync: bool) -> Clone:
    """A senior fetches the commit (from a review branch), co-signs it, and syncs the notes when
    `sync`; returns the senior's clone."""
    clone = world.clone(senior, directory=f"{senior}-{sha[:7]}")
    clone.git("fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*")
    clone.cli("cosign", sha)
    if sync:
        clone.cli("sync")
    return clone


def fetch_notes(clone: Clone) -> None:
    clone.git("fetch", "-q", "origin", f"+{NOTES}:{NOTES}")


@contextlib.contextmanager
def daemon(world: World) -> Iterator[str]:
    """`git daemon` serving the world's directory, pushes enabled; yields origin's git:// URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
         "--listen=127.0.0.1", f"--port={port}", f"--base-path={world.root}", str(world.root)],
        env=world.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"git://127.0.0.1:{port}/{world.origin.name}"
        for _ in range(100):
            if subprocess.run(["git", "ls-remote", url], env=world.env,
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
