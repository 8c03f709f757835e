"""What the server's pre-receive hook adds to a push of one commit on a long history (issue 17:
well under half a second).

A bare copy of a history is the server, with `git provenance install --server` and its trust
root; a developer's clone (client hooks installed, so each commit is declared and signed) makes
one commit at a time and pushes it with `--no-verify` (only the server judges). Pushes alternate
between the hook and no hook (`core.hooksPath` pointed away on the server), so the difference of
the medians is what the hook adds. The first push, before the server has any cache, is reported
apart. Each push is measured in wall-clock time and in CPU time (user + system of the push and
every process it waited for: receive-pack, the hook, its gits): on a machine shared with other
work, waiting for a core can make the wall clock several times the work done, and the CPU time
is what the same push costs on an idle server.

    .venv/bin/python bench/server.py --history bench/out/history-v1-n100000-s1
    .venv/bin/python bench/server.py --adopt /path/to/any/repository   # e.g. redis, ~12k commits
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plan import PEOPLE  # noqa: E402
from run import release_install  # noqa: E402

from provenance.ssh import keyfile  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
BUDGET = 0.5


class Took(NamedTuple):
    wall: float
    cpu: float


class Figures(NamedTuple):
    commits: int
    first: Took  # the first push with the hook: no cache on the server yet
    with_hook: Took  # medians
    without: Took


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "CLAUDE", "PROVENANCE", "PRE_COMMIT"))}
    return {**env, "GIT_CONFIG_NOSYSTEM": "1", "GIT_EDITOR": "true"}


def _provenance(repo: Path, *args: str) -> None:
    """The release install's `git provenance`: the hooks it writes run that byte-compiled Python,
    as a server's pip install does (the editable one may recompile every module on each run)."""
    subprocess.run([str(release_install() / "python"), "-m", "provenance", *args], cwd=repo,
                   check=True, capture_output=True, env=_env())


def _developer(dev: Path, where: Path) -> tuple[str, str, str]:
    """(name, email, public key) of the developer, whose key signs the commits."""
    from cryptography.hazmat.primitives import serialization

    person = next(p for p in PEOPLE if not p.senior)
    key = where / "dev-key"
    key.write_bytes(person.private.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.OpenSSH,
                                                 serialization.NoEncryption()))
    key.chmod(0o600)
    for k, v in (("user.name", person.name), ("user.email", person.email),
                 ("provenance.signingKey", str(key)), ("commit.gpgsign", "false")):
        _git(dev, "config", k, v)
    return person.name, person.email, keyfile.public_key_of(key).openssh()


def _adopt(dev: Path, name: str, email: str, public: str) -> None:
    """A policy adopted at the tip, as a team adopting the tool on an existing project does."""
    (dev / ".provenance.toml").write_text(
        'version = 1\n\n[[rule]]\nname = "tier-1"\npaths = ["src/**"]\n'
        'cosign-roles = ["senior"]\nthreshold = 1\napplies-to = "ai-assisted"\n\n'
        f'[[person]]\nname = "{name}"\nemail = "{email}"\nroles = ["senior"]\n'
        f'keys = ["{public}"]\n')
    _git(dev, "add", ".provenance.toml")
    _git(dev, "commit", "-q", "-m", "Adopt git-provenance", env=_env())


def setup(source: Path, where: Path, *, adopt: bool) -> tuple[Path, Path]:
    """(the server, the developer's clone)."""
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    server, dev = where / "server.git", where / "dev"
    _git(where, "clone", "-q", "--bare", str(source), str(server))
    if _git(source, "for-each-ref", "refs/notes/provenance"):
        _git(server, "fetch", "-q", str(source), "refs/notes/provenance:refs/notes/provenance")
    branch = _git(server, "symbolic-ref", "--short", "HEAD")
    _git(where, "clone", "-q", str(server), str(dev))
    _provenance(dev, "install")
    name, email, public = _developer(dev, where)
    if adopt:
        _adopt(dev, name, email, public)
        _git(dev, "push", "-q", "--no-verify", "origin", f"HEAD:{branch}")
        root = _git(dev, "rev-parse", "HEAD")
    else:
        root = _git(server, "log", "--diff-filter=A", "--format=%H", "--reverse", branch, "--",
                    ".provenance.toml").splitlines()[0]
    _git(server, "config", "provenance.trustRoot", root)
    _provenance(server, "install", "--server")
    return server, dev


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _median(runs: list[Took]) -> Took:
    return Took(statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs))


def _push_one(dev: Path, n: int) -> Took:
    path = dev / "docs" / f"server-bench-{n}.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"change {n}\n")
    _git(dev, "add", "-A")
    _git(dev, "commit", "-q", "-m", f"Docs {n}", env=_env())
    start, cpu = time.perf_counter(), _cpu()
    _git(dev, "push", "-q", "--no-verify", "origin", "HEAD", env=_env())
    return Took(time.perf_counter() - start, _cpu() - cpu)


def measure(source: Path, where: Path, *, adopt: bool, pairs: int) -> Figures:
    server, dev = setup(source, where, adopt=adopt)
    commits = int(_git(server, "rev-list", "--count", "HEAD"))
    first = _push_one(dev, 0)
    with_hook, without = [], []
    for n in range(1, pairs + 1):
        with_hook.append(_push_one(dev, 2 * n))
        _git(server, "config", "core.hooksPath", "/nonexistent")
        without.append(_push_one(dev, 2 * n + 1))
        _git(server, "config", "--unset", "core.hooksPath")
    return Figures(commits, first, _median(with_hook), _median(without))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--history", type=Path, help="a generated history (bench/generate.py)")
    source.add_argument("--adopt", type=Path, help="any repository: a policy is adopted at its tip")
    ap.add_argument("-n", type=int, default=5, help="measured pairs of pushes")
    args = ap.parse_args()
    repo = args.adopt or (args.history / "repo")
    named = repo.resolve().parent if repo.resolve().name == "repo" else repo.resolve()
    where = OUT / f"server-{named.name}"
    f = measure(repo, where, adopt=args.adopt is not None, pairs=args.n)
    wall, cpu = f.with_hook.wall - f.without.wall, f.with_hook.cpu - f.without.cpu
    print(f"{f.commits} commits, median of {args.n} one-commit pushes with the hook and without:\n"
          f"  CPU  {f.with_hook.cpu:.3f} s with, {f.without.cpu:.3f} s without: "
          f"the hook adds {cpu:.3f} s (budget {BUDGET} s)\n"
          f"  wall {f.with_hook.wall:.3f} s with, {f.without.wall:.3f} s without: "
          f"the hook adds {wall:.3f} s\n"
          f"  the first push, before the server has a cache: {f.first.cpu:.3f} s CPU, "
          f"{f.first.wall:.3f} s wall\n"
          f"  load average when done: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    shutil.rmtree(where, ignore_errors=True)
    sys.exit(0 if cpu < BUDGET else 1)


if __name__ == "__main__":
    main()
