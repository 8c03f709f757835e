"""Real SSH keys and a real ssh-agent for tests (ssh-keygen, ssh-agent and ssh-add from OpenSSH)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

_KINDS = {"ed25519": [], "rsa": ["-b", "2048"], "ecdsa": ["-b", "256"]}


def make_key(
    directory: Path, name: str, kind: str = "ed25519", passphrase: str | None = None,
    bits: int | None = None,
) -> Path:
    """Create `directory/name` and `name.pub` with ssh-keygen; return the private key path.

    `kind` is ed25519, rsa (2048 bits by default: 3072 is slow) or ecdsa (256 by default).
    """
    path = Path(directory) / name
    size = ["-b", str(bits)] if bits is not None else _KINDS[kind]
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, *size, "-N", passphrase or "", "-C", name,
         "-f", str(path)],
        check=True, stdin=subprocess.DEVNULL, capture_output=True,
    )
    return path


def ssh_keygen(*args: str, stdin: bytes | None = None, cwd: Path | None = None,
               ) -> subprocess.CompletedProcess[bytes]:
    """Run ssh-keygen without a terminal, returning the completed process (never raises)."""
    return subprocess.run(
        ["ssh-keygen", *args], input=stdin if stdin is not None else b"", capture_output=True,
        cwd=cwd, check=False,
    )


def _accepts(sock: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        try:
            client.connect(sock)
        except OSError:
            return False
    return True


@contextlib.contextmanager
def running_agent() -> Iterator[dict[str, str]]:
    """Start a private ssh-agent; yield an environment pointing at it; kill it afterwards."""
    # A short directory: unix socket paths are limited to ~108 bytes; tmp_path can be longer.
    sock_dir = tempfile.mkdtemp(prefix="agent-")
    sock = os.path.join(sock_dir, "sock")
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", sock],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        # The socket's path appears when it is bound, before the agent listens: wait for a
        # connection to succeed (under load, ssh-add in between gets "connection refused").
        while not _accepts(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ssh-agent did not start")
            time.sleep(0.01)
        yield {**os.environ, "SSH_AUTH_SOCK": sock, "SSH_AGENT_PID": str(proc.pid)}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(sock_dir, ignore_errors=True)


@contextlib.contextmanager
def askpass(passphrase: str | None) -> Iterator[dict[str, str]]:
    """Environment additions that make OpenSSH tools answer `passphrase` without a terminal."""
    with tempfile.TemporaryDirectory(prefix="askpass-") as tmp:
        script = Path(tmp, "askpass")
        # The passphrase travels in the environment, so no quoting can go wrong.
        script.write_text('#!/bin/sh\nprintf "%s\\n" "$TEST_SSH_PASSPHRASE"\n')
        script.chmod(0o700)
        yield {"SSH_ASKPASS": str(script), "SSH_ASKPASS_REQUIRE": "force",
               "TEST_SSH_PASSPHRASE": passphrase or ""}


def add_to_agent(env: dict[str, str], key_path: Path, passphrase: str | None = None) -> None:
    """`ssh-add key_path` into the agent of `env`, answering the passphrase through SSH_ASKPASS."""
    with askpass(passphrase) as extra:
        subprocess.run(
            ["ssh-add", str(key_path)], env={**env, **extra},
            stdin=subprocess.DEVNULL, capture_output=True, check=True,
        )
