"""Start a program with pipes through os.posix_spawn, for the commands a hook runs.

git/ runs short git commands through here (by way of `env._spawn`): importing subprocess (with
threading, selectors and the signal enums) costs ~5 ms, paid by every commit's prepare-commit-msg
hook. Long-running readers that stream (the audit) still use subprocess.
"""

from __future__ import annotations

import os
import select
import signal
from collections.abc import Mapping, Sequence

# Python ignores these; subprocess restores their default in the child, and so does `run`.
_CHILD_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
_PATHS: dict[tuple[str, str], str] = {}


def find(name: str, env: Mapping[str, str]) -> str:
    """`name` looked up on the child's PATH, as subprocess does (posix_spawnp would use ours);
    FileNotFoundError when it is not there."""
    search = os.get_exec_path(env)
    key = (name, os.pathsep.join(search))
    if key not in _PATHS:
        for directory in search:
            path = os.path.join(directory, name)
            if os.access(path, os.X_OK) and not os.path.isdir(path):
                _PATHS[key] = path
                break
        else:
            raise FileNotFoundError(name)
    return _PATHS[key]


def run(argv: Sequence[str], *, env: Mapping[str, str], input: bytes | None = None
        ) -> tuple[int, bytes, bytes]:
    """Run `argv` to completion: (exit status, stdout, stderr).

    What `subprocess.run(capture_output=True)` does, without importing subprocess (with the
    threading, signal-enum and selectors modules it pulls in, ~5 ms of every commit's hook):
    stdin is inherited unless `input` is given; stdout and stderr are read, and `input` written,
    by `_communicate`. The pipes are close-on-exec: the child inherits only what this process
    inherited.
    """
    return finish(start(argv, env=env, input=input))


class Started:
    """A process `start` started, for `finish`: its id, its pipes and what is left to write."""

    __slots__ = ("err_r", "in_w", "input", "out_r", "pid")

    def __init__(self, pid: int, out_r: int, err_r: int, in_w: int, input: bytes) -> None:
        self.pid, self.out_r, self.err_r, self.in_w, self.input = pid, out_r, err_r, in_w, input


def start(argv: Sequence[str], *, env: Mapping[str, str], input: bytes | None = None) -> Started:
    """Start `argv` as `run` does, without waiting for it (`finish` does)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe() if input is not None else (-1, -1)
    actions = [(os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
    if input is not None:
        actions.append((os.POSIX_SPAWN_DUP2, in_r, 0))
    try:
        pid = os.posix_spawn(find(argv[0], env), list(argv), env, file_actions=actions,
                             setsigdef=_CHILD_DEFAULT_SIGNALS)
    except BaseException:
        for fd in (out_r, err_r, in_w):
            if fd >= 0:
                os.close(fd)
        raise
    finally:
        for fd in (out_w, err_w, in_r):
            if fd >= 0:
                os.close(fd)
    return Started(pid, out_r, err_r, in_w, input or b"")


def finish(p: Started) -> tuple[int, bytes, bytes]:
    """Read a started process to its end: (exit status, stdout, stderr)."""
    stdout, stderr = _communicate(p.out_r, p.err_r, p.in_w, p.input)
    return os.waitstatus_to_exitcode(os.waitpid(p.pid, 0)[1]), stdout, stderr


def _communicate(out_r: int, err_r: int, in_w: int, input: bytes) -> tuple[bytes, bytes]:
    """Write `input` to `in_w` (-1: none) while reading `out_r` and `err_r` to their ends; close all.

    One poll loop, as subprocess's `communicate` does: no pipe can fill up and deadlock.
    """
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    pending = memoryview(input)
    if in_w >= 0 and pending:
        poller.register(in_w, select.POLLOUT)
    elif in_w >= 0:
        os.close(in_w)
    open_fds = len(chunks) + (in_w >= 0 and bool(pending))
    while open_fds:
        for fd, _ in poller.poll():
            if fd == in_w:
                try:  # at most PIPE_BUF bytes: a pipe that polls writable takes them without blocking
                    pending = pending[os.write(fd, pending[:select.PIPE_BUF]):]
                except BrokenPipeError:  # git stopped reading; its exit status tells the rest
                    pending = pending[:0]
                if not pending:
                    poller.unregister(fd)
                    os.close(fd)
                    open_fds -= 1
                continue
            data = os.read(fd, 1 << 16)
            if data:
                chunks[fd].append(data)
            else:
                poller.unregister(fd)
                os.close(fd)
                open_fds -= 1
    return b"".join(chunks[out_r]), b"".join(chunks[err_r])


def widen_pipe(fd: int) -> None:
    """Let a writer run up to 1 MiB ahead of its reader (Linux; 64 KiB otherwise): fewer
    wake-ups of both processes, which on a busy machine each wait for a time slice."""
    try:
        import fcntl

        if hasattr(fcntl, "F_SETPIPE_SZ"):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, OSError):  # no fcntl (Windows), or above fs.pipe-max-size
        pass
