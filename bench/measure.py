"""How bench/run.py times a command: a small launcher's wait4 (wall time and peak memory of the
command alone), and A/B pairs alternated after one unmeasured warm-up each."""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    wall: float
    maxrss_kb: int


# A child forked from this (large) process reports this process's size as its own peak: exec
# records the old address space's high-water mark. So every measured command is started by a
# small launcher, and its time and peak come from the launcher's wait4: what the command alone
# used, from just before its exec to its exit.
_LAUNCHER = """
import os, sys, time
devnull = os.open(os.devnull, os.O_WRONLY)
actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ, file_actions=actions)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
print(wall, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def timed(cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None,
          before: Callable[[], None] | None = None, stdin: str | None = None) -> Run:
    if before is not None:
        before()
    out = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *cmd], cwd=cwd, env=env,
                         input=stdin, capture_output=True, text=True, check=True).stdout.split()
    wall, maxrss, code = float(out[0]), int(out[1]), int(out[2])
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed with exit status {code}")
    return Run(wall, maxrss)


@dataclass(frozen=True)
class Pair:
    a: list[Run]
    b: list[Run]

    def median(self, side: str) -> float:
        return statistics.median(r.wall for r in (self.a if side == "a" else self.b))

    def ratio(self) -> float:
        return statistics.median(x.wall / y.wall for x, y in zip(self.a, self.b, strict=True))

    def peak_mb(self, side: str) -> float:
        return max(r.maxrss_kb for r in (self.a if side == "a" else self.b)) / 1024


def interleave(a: Callable[[], Run], b: Callable[[], Run], n: int) -> Pair:
    a(), b()  # warm-up, not counted
    runs_a, runs_b = [], []
    for _ in range(n):
        runs_a.append(a())
        runs_b.append(b())
    return Pair(runs_a, runs_b)
