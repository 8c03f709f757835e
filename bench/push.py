"""What a push costs (DESIGN §8: the pre-push gate costs what is pushed, not what exists).

A bare `origin` holds the generated history; a developer clones it (the notes too), installs the
hooks from the release install, and makes 10 commits, declared and signed by the hooks. The
installed pre-push hook is then called as git calls it (remote name and URL as arguments, the
pushed ref on stdin):

- warm: after an `audit` in that clone, as a developer who audits or pushed before has;
- fresh: as in a clone that never ran the tool: no cache, no trust root recorded;
- installed: the first push after `install` in such a clone, its trust root pinned first as
  README's set-up does (install settles the policy at the upstream once, untimed; its own time
  is reported beside);
- moved: warm, but the remote's tip moved one commit past the cached one (a push after a fetch).

    .venv/bin/python bench/run.py --push-only --sizes 100000
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import generate
import plan
from cryptography.hazmat.primitives import serialization

from provenance.audit import cache

PUSHED = 10
WARM_BUDGET, FRESH_BUDGET = 0.3, 1.0


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def _developer_key(where: Path) -> tuple[plan.Person, Path]:
    dev = next(p for p in plan.PEOPLE if not p.senior)
    key = where / "dev-key"
    key.write_bytes(dev.private.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.OpenSSH,
                                              serialization.NoEncryption()))
    key.chmod(0o600)
    return dev, key


def setup(h: generate.History, release: Path) -> tuple[Path, str]:
    """(the developer's clone, the pushed ref's stdin line), made once per history."""
    where = generate.OUT / f"{h.path.parent.name}-push"
    clone = where / "dev"
    stamp = where / "stdin"
    if stamp.exists():
        return clone, stamp.read_text()
    subprocess.run(["rm", "-rf", str(where)], check=True)
    where.mkdir()
    origin = where / "origin.git"
    _git(where, "clone", "-q", "--bare", str(h.path), str(origin))
    _git(origin, "fetch", "-q", str(h.path), "refs/notes/provenance:refs/notes/provenance")
    _git(where, "clone", "-q", str(origin), str(clone))
    _git(clone, "fetch", "-q", "origin", "refs/notes/provenance:refs/notes/provenance")
    dev, key = _developer_key(where)
    for k, v in (("user.name", dev.name), ("user.email", dev.email),
                 ("provenance.signingKey", str(key)), ("commit.gpgsign", "false")):
        _git(clone, "config", k, v)
    env = _env(release)
    subprocess.run([str(release / "python"), "-m", "provenance", "install"], cwd=clone,
                   check=True, env=env, capture_output=True)
    base = _git(clone, "rev-parse", "HEAD")
    for n in range(PUSHED):
        path = clone / "docs" / f"push-{n}.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"change {n}\n")
        _git(clone, "add", "-A")
        _git(clone, "commit", "-q", "-m", f"Docs {n}", env=env)
    line = f"refs/heads/main {_git(clone, 'rev-parse', 'HEAD')} refs/heads/main {base}\n"
    stamp.write_text(line)
    return clone, line


def _env(release: Path) -> dict[str, str]:
    env = os.environ | {"PATH": f"{release}:{os.environ['PATH']}", "GIT_CONFIG_NOSYSTEM": "1"}
    env.pop("CLAUDECODE", None)
    return env


def _forget(clone: Path) -> Callable[[], None]:
    """Make the clone fresh again: no cache, no trust root recorded."""

    def forget() -> None:
        for suffix in ("", "-wal", "-shm"):
            (clone / ".git" / (cache.FILE_NAME + suffix)).unlink(missing_ok=True)
        for key in ("provenance.trustRoot", "provenance.firstUseTrustRoot"):
            subprocess.run(["git", "config", "--unset", key], cwd=clone, capture_output=True)

    return forget


def bench_push(h: generate.History, n: int, release: Path, timed: Callable[..., object],
               report: Callable[[str], None]) -> dict[str, float]:
    clone, line = setup(h, release)
    env = _env(release)
    hook = [str(clone / ".git" / "hooks" / "pre-push"), "origin", "unused-url"]
    check = subprocess.run(hook, cwd=clone, env=env, input=line, capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(f"the pushed commits do not pass the gate: {check.stderr}")
    root = _git(clone, "config", "provenance.trustRoot")  # the check above trusted it on first use
    forget = _forget(clone)
    fresh = [timed(hook, clone, env, before=forget, stdin=line) for _ in range(n + 1)][1:]
    install = [str(release / "python"), "-m", "provenance", "install"]

    def forget_and_pin() -> None:
        forget()
        _git(clone, "config", "provenance.trustRoot", root)

    setups = [timed(install, clone, env, before=forget_and_pin) for _ in range(n)]

    def forget_and_install() -> None:
        forget_and_pin()
        said = subprocess.run(install, cwd=clone, env=env, check=True, capture_output=True,
                              text=True).stdout
        assert "settled the policy in force" in said, said

    installed = [timed(hook, clone, env, before=forget_and_install, stdin=line) for _ in range(n)]
    audit = [str(release / "python"), "-m", "provenance", "audit", "--format", "json"]
    subprocess.run(audit, cwd=clone, env=env, capture_output=True, check=False)  # warms the cache
    warm = [timed(hook, clone, env, stdin=line) for _ in range(n + 1)][1:]
    tip, restore = _git(clone, "rev-parse", f"HEAD~{PUSHED - 1}"), _restore(clone)
    moved = [timed(hook, clone, env, before=restore, stdin=_moved(line, tip)) for _ in range(n)]
    out = {"push_warm_s": _median(warm), "push_fresh_s": _median(fresh),
           "push_installed_s": _median(installed), "install_s": _median(setups),
           "push_moved_s": _median(moved)}
    report(f"  push of {PUSHED} commits, the pre-push hook as git calls it: warm "
           f"{out['push_warm_s']:.2f}s (budget {WARM_BUDGET}), fresh clone "
           f"{out['push_fresh_s']:.2f}s (budget {FRESH_BUDGET}), the first push after `install` "
           f"{out['push_installed_s']:.2f}s (install itself {out['install_s']:.2f}s); after a "
           f"fetch moved the remote's tip one commit past the cached one, {PUSHED - 1} commits: "
           f"{out['push_moved_s']:.2f}s")
    return out


def _moved(line: str, tip: str) -> str:
    """The push's line, the remote's tip being `tip` (the first pushed commit: as if another
    developer had pushed it and this clone had fetched it)."""
    local_ref, local, remote_ref, _ = line.split()
    return f"{local_ref} {local} {remote_ref} {tip}\n"


def _restore(clone: Path) -> Callable[[], None]:
    """Put back the cache as it is now (warm), before each run: a run caches the state at the
    moved tip, which the next run must not find."""
    saved = clone.parent / "warm-cache"
    saved.mkdir(exist_ok=True)
    names = [cache.FILE_NAME + suffix for suffix in ("", "-wal", "-shm")]
    for name in names:
        if (clone / ".git" / name).exists():
            shutil.copy2(clone / ".git" / name, saved / name)

    def restore() -> None:
        for name in names:
            (clone / ".git" / name).unlink(missing_ok=True)
            if (saved / name).exists():
                shutil.copy2(saved / name, clone / ".git" / name)
        # The copy leaves ~180 MB of the cache dirty in the page cache: the hook's first
        # fdatasync (sqlite's checkpoint as it closes) would wait for all of it (0.27 s here),
        # a cost of this restore, not of the push.
        os.sync()

    return restore


def _median(runs: list[object]) -> float:
    walls = sorted(r.wall for r in runs)  # type: ignore[attr-defined]
    return walls[len(walls) // 2]


if __name__ == "__main__":
    sys.exit("run it through bench/run.py --push-only")
