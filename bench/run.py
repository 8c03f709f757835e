"""Ratio benchmarks against git itself, each pair measured in one run (interleaved, medians).

    .venv/bin/python bench/run.py            # 10k and 100k commits (generated once, cached in bench/out/)
    .venv/bin/python bench/run.py --quick    # a 2k-commit smoke run

Every figure is the whole-process wall time of a command, A and B alternated (A B A B ...) after one
unmeasured warm-up of each; a ratio is the median of the per-pair ratios, so drift on a noisy
machine cancels out. Peak memory is the command's ru_maxrss (the largest of it and the processes
it waited for), taken by a small launcher process (see `timed`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import budgets  # noqa: E402
import generate  # noqa: E402
import plan  # noqa: E402
import push  # noqa: E402
import spread  # noqa: E402
from measure import Run, interleave, timed  # noqa: E402

from provenance.audit import cache  # noqa: E402
from provenance.ssh import keyfile  # noqa: E402

BIN = Path(sys.executable).parent
AUDIT = [sys.executable, "-m", "provenance", "audit", "--format", "json"]  # main(): the release's


def _drop_cache(repo: Path) -> Callable[[], None]:
    def drop() -> None:
        for suffix in ("", "-wal", "-shm"):
            (repo / ".git" / (cache.FILE_NAME + suffix)).unlink(missing_ok=True)
    return drop


def root_of(repo: Path) -> str:
    return subprocess.run(["git", "rev-list", "--max-parents=0", "main"], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.split()[0]


# The audit's own peak, without the git processes it runs (git's walk holds ~400 bytes a commit
# itself): the audit runs in this wrapper, started by the launcher, and writes its ru_maxrss.
_OWN_PEAK = """
import os, resource, sys
from provenance.cli import cli
try:
    cli(sys.argv[1:])
except SystemExit:
    pass
with open(os.environ["OWN_PEAK_FILE"], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"""


def own_peak_mb(args: Sequence[str], cwd: Path, python: str | None = None) -> float:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "peak"
        timed([python or AUDIT[0], "-c", _OWN_PEAK, *args], cwd, env={**os.environ,
                                                                       "OWN_PEAK_FILE": str(out)})
        return int(out.read_text()) / 1024


def memory_slope(h: generate.History, report: Callable[[str], None]) -> dict[str, float]:
    """Bytes a commit the audit's own peak grows by between the older half of the history and the
    whole: both past the walk's bounded buffers (50k recent digests, 20k judgements in memory)."""
    repo, unadopted = h.path, generate.generate_unadopted(h.commits)
    out: dict[str, float] = {}
    for name, args, where in (
        ("signed", ["audit", "--format", "json", "--no-cache"], repo),
        ("warm", ["audit", "--format", "json"], repo),
        ("scan", ["audit", "--format", "json", "--no-cache", "--policy",
                  str(repo.parent / "scan-policy.toml")], unadopted),
    ):
        first_parents = subprocess.run(["git", "rev-list", "--first-parent", "main"], cwd=where,
                                       check=True, capture_output=True, text=True).stdout.split()
        peaks = {}
        for tip in (first_parents[len(first_parents) // 2], "main"):
            count = int(subprocess.run(["git", "rev-list", "--count", tip], cwd=where, check=True,
                                       capture_output=True, text=True).stdout)
            if name == "warm":
                subprocess.run([*AUDIT, tip], cwd=where, capture_output=True)  # fills the cache
            peaks[count] = own_peak_mb([*args, tip], where)
        (small, a), (large, b) = sorted(peaks.items())
        out[f"{name}_own_bytes_per_commit"] = (b - a) * 2**20 / (large - small)
        report(f"  {name}: own peak {a:.1f} MB at {small} commits, {b:.1f} MB at {large}: "
               f"{out[f'{name}_own_bytes_per_commit']:.0f} bytes a commit")
    return out


def bench_signed(h: generate.History, n: int, report: Callable[[str], None]) -> dict[str, float]:
    """The fully signed audit against `git log -p` (`--signed-only` runs this alone)."""
    repo = h.path
    out: dict[str, float] = {}
    judged = h.commits - 1  # the trust root (the first commit) is not judged
    check = subprocess.run([*AUDIT, "--no-cache"], cwd=repo, capture_output=True, text=True)
    summary = json.loads(check.stdout)["summary"]
    report(f"  audit check: {summary} (generator: {h.ai} AI-assisted, expect 0 violations)")
    if summary["violations"] or summary["commits"] != judged:
        raise SystemExit("the generated history does not audit clean: the generator is wrong")

    git_p = ["git", "log", "-p", "--cc", "--root", "main"]
    p = interleave(lambda: timed([*AUDIT, "--no-cache"], repo), lambda: timed(git_p, repo), n)
    out["signed_ratio"] = p.ratio()
    out["signed_peak_mb"] = p.peak_mb("a")
    report(f"  signed audit (no cache) {p.median('a'):.2f}s vs git log -p {p.median('b'):.2f}s: "
           f"ratio {p.ratio():.2f} (budget 1.6 at 100k); audit peak {p.peak_mb('a'):.0f} MB, "
           f"git {p.peak_mb('b'):.0f} MB")
    return out


def bench_history(h: generate.History, n: int, report: Callable[[str], None]) -> dict[str, float]:
    repo = h.path
    out = bench_signed(h, n, report)
    drop = _drop_cache(repo)
    p = interleave(lambda: timed(AUDIT, repo, before=drop), lambda: timed(AUDIT, repo), n)
    out["warm_ratio"] = 1 / p.ratio()
    out["warm_peak_mb"] = p.peak_mb("b")
    report(f"  warm re-audit {p.median('b'):.2f}s vs first (cold cache) {p.median('a'):.2f}s: "
           f"ratio {1 / p.ratio():.3f} (budget 0.10); warm peak {p.peak_mb('b'):.0f} MB")

    # The scan runs where DESIGN puts it: an unadopted history (the same trees, no signatures or
    # notes; AI-assisted commits carry their agent's fingerprint), under an external policy.
    unadopted = generate.generate_unadopted(h.commits, log=lambda s: report(f"  {s}"))
    policy = repo.parent / "scan-policy.toml"
    policy.write_bytes(plan.policy_text(True))
    scan = [*AUDIT, "--no-cache", "--policy", str(policy)]
    check = subprocess.run(scan, cwd=unadopted, capture_output=True, text=True)
    report(f"  scan check: {json.loads(check.stdout)['summary']}")
    raw = ["git", "log", "--format=%H%x00%P%x00%an%x00%ae%x00%B", "--raw", "--no-renames", "main"]
    full = interleave(lambda: timed(scan, unadopted), lambda: timed(raw, unadopted), n)
    root = root_of(unadopted)  # the same range with one commit: start-up alone
    one = interleave(lambda: timed([*scan[:-2], root, *scan[-2:]], unadopted),
                     lambda: timed([*raw[:-1], root], unadopted), n)
    m_scan = (full.median("a") - one.median("a")) / (h.commits - 1) * 1e6
    m_raw = (full.median("b") - one.median("b")) / (h.commits - 1) * 1e6
    out["scan_marginal_ratio"] = m_scan / m_raw
    out["scan_peak_mb"] = full.peak_mb("a")
    report(f"  scan --policy {full.median('a'):.2f}s (start-up {one.median('a'):.3f}s) vs git log "
           f"--raw {full.median('b'):.2f}s (start-up {one.median('b'):.3f}s): marginal "
           f"{m_scan:.0f} vs {m_raw:.1f} us/commit, ratio {m_scan / m_raw:.1f} (budget 1.3); "
           f"scan peak {full.peak_mb('a'):.0f} MB")
    return out


def _hook_repo(where: Path, key: Path, setup: Callable[[Path], None], env: dict[str, str]) -> Path:
    repo = where
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    for k, v in (("user.name", "Bob Developer"), ("user.email", "bob@example.com"),
                 ("provenance.signingKey", str(key)), ("commit.gpgsign", "false")):
        subprocess.run(["git", "config", k, v], cwd=repo, check=True)
    # Bob signs with his registered key, as a developer does every day: an unregistered key
    # takes the warning's path (the policy is loaded), which no plain commit should measure.
    bob = next(p for p in plan.PEOPLE if p.email == "bob@example.com")
    mine = " ".join(key.with_name(key.name + ".pub").read_text().split()[:2])
    (repo / ".provenance.toml").write_bytes(
        plan.policy_text(False).replace(bob.public.openssh().encode(), mine.encode()))
    setup(repo)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "init"], cwd=repo, check=True,
                   env=env | {"PROVENANCE_SKIP": "1"})
    return repo


def release_install() -> Path:
    """A regular (non-editable, byte-compiled) install of this checkout, as users get from pip.

    The development venv's editable install adds an import finder and, where
    PYTHONDONTWRITEBYTECODE is set, recompiles every module on each hook run: neither is what a
    user's commit pays. Rebuilt when the package's sources change.
    """
    root = Path(__file__).resolve().parent.parent
    sources = sorted((root / "provenance").rglob("*.py")) + sorted((root / "provenance").glob("*.toml"))
    stamp = str(max(p.stat().st_mtime_ns for p in sources))
    venv = root / "bench" / "out" / "release-venv"
    if (venv / "stamp").exists() and (venv / "stamp").read_text() == stamp:
        return venv / "bin"
    shutil.rmtree(venv, ignore_errors=True)
    shutil.rmtree(root / "build", ignore_errors=True)  # setuptools would ship deleted modules
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(root)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "compileall", "-q",
                    str(venv / "lib")], check=True, capture_output=True)
    (venv / "stamp").write_text(stamp)
    return venv / "bin"


def _commit(repo: Path, env: dict[str, str]) -> Callable[[], Run]:
    counter = [0]

    def step() -> Run:
        counter[0] += 1
        path = repo / f"services/api/f{counter[0] % 7}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write(f"change {counter[0]}\n")
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
        return timed(["git", "commit", "-q", "-m", f"change {counter[0]}"], repo, env)
    return step


_STAGES = ("prepare-commit-msg", "commit-msg", "post-commit")


def _precommit_config(entry: Callable[[str], str]) -> str:
    hooks = [{"id": stage, "name": stage, "entry": entry(stage), "language": "system",
              "stages": [stage], "always_run": True}
             # the message stages take the file, as .pre-commit-hooks.yaml does
             | ({"pass_filenames": False} if stage == "post-commit" else {})
             for stage in _STAGES]
    return json.dumps({"repos": [{"repo": "local", "hooks": hooks}]}, indent=1) + "\n"  # JSON is YAML


def _shipped_entries() -> dict[str, str]:
    """Each stage's `entry` in .pre-commit-hooks.yaml: the benchmark runs what users get."""
    import yaml  # pre-commit's own dependency

    manifest = yaml.safe_load((Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml").read_text())
    return {h["stages"][0]: h["entry"] for h in manifest}


def bench_hooks(n: int, report: Callable[[str], None]) -> dict[str, float]:
    out: dict[str, float] = {}
    release = release_install()
    env = os.environ | {"PATH": f"{release}:{os.environ['PATH']}", "GIT_CONFIG_NOSYSTEM": "1"}
    env.pop("CLAUDECODE", None)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        key = base / "key"
        keyfile.keygen(key, "bob@example.com")

        def native(repo: Path) -> None:
            subprocess.run([str(release / "python"), "-m", "provenance", "install"], cwd=repo,
                           check=True, env=env, capture_output=True)

        def precommit(entry: Callable[[str], str]) -> Callable[[Path], None]:
            def setup(repo: Path) -> None:
                (repo / ".pre-commit-config.yaml").write_text(_precommit_config(entry))
                subprocess.run([str(BIN / "pre-commit"), "install", *(a for s in _STAGES
                                for a in ("-t", s))], cwd=repo, check=True, env=env,
                               capture_output=True)
            return setup

        with_hooks = _hook_repo(base / "native", key, native, env)
        without = _hook_repo(base / "plain", key, lambda r: None, env)
        p = interleave(_commit(with_hooks, env), _commit(without, env), n)
        out.update(spread.figures("native", [r.wall for r in p.a], [r.wall for r in p.b]))
        report(f"  native hooks vs none, {n} commits each: {spread.line(out, 'native')}")
        shipped = _shipped_entries()
        pc = _hook_repo(base / "pc", key, precommit(lambda s: shipped[s]), env)
        noop = _hook_repo(base / "noop", key, precommit(lambda s: "true"), env)
        p = interleave(_commit(pc, env), _commit(noop, env), n)
        out.update(spread.figures("precommit", [r.wall for r in p.a], [r.wall for r in p.b]))
        report(f"  pre-commit vs pre-commit running `true`, {n} commits each: "
               f"{spread.line(out, 'precommit')}")
        last = subprocess.run(["git", "log", "-1", "--format=%B"], cwd=pc, capture_output=True,
                              text=True).stdout
        if "Provenance-Signature: v1 declare" not in last:
            raise SystemExit("the pre-commit route left no signed declaration: benchmark invalid")
    return out


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    git_v = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} cores, {cpu}, {git_v}, Python {platform.python_version()}, "
            f"load average {load:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a 2k-commit smoke run")
    ap.add_argument("--sizes", type=int, nargs="*", default=None, help="history sizes (commits)")
    ap.add_argument("-n", type=int, default=None, help="measured pairs per figure")
    ap.add_argument("--no-hooks", action="store_true", help="skip the hook latency benchmark")
    ap.add_argument("--hooks-only", action="store_true", help="only the hook latency benchmark")
    ap.add_argument("--push-only", action="store_true", help="only the push (pre-push gate) figures")
    ap.add_argument("--signed-only", action="store_true",
                    help="only the signed audit against git log -p, for each size")
    ap.add_argument("--million", action="store_true",
                    help="also scan a generated 1M-commit history (bench/million.py)")
    ap.add_argument("--load", action="store_true",
                    help="time the hooks with one core kept busy by `yes > /dev/null`")
    ap.add_argument("--hook-commits", type=int, default=None,
                    help="commits timed per hook figure (default 50; 10 with --quick)")
    args = ap.parse_args()
    sizes = [] if args.hooks_only else (args.sizes or ([2000] if args.quick else [10_000, 100_000]))
    n = args.n or (3 if args.quick else 5)
    if shutil.which("git") is None:
        raise SystemExit("git is needed")
    print(machine(), flush=True)
    # Audits run from a regular, byte-compiled install, as users get it (see release_install):
    # where PYTHONDONTWRITEBYTECODE is set, the editable one recompiles every module each run.
    AUDIT[0] = str(release_install() / "python")
    results: dict[str, dict[str, float]] = {}
    for size in sizes:
        h = generate.generate(size, log=lambda s: print(f"  {s}", flush=True))
        print(f"history: {h.commits} commits, {h.merges} merges, {h.ai} AI-assisted, "
              f"{h.cosigned_trailer} trailer + {h.cosigned_note} note co-signs", flush=True)
        if args.signed_only:
            results[str(size)] = bench_signed(h, n, lambda s: print(s, flush=True))
            continue
        results[str(size)] = {} if args.push_only else bench_history(h, n, lambda s: print(s, flush=True))
        results[str(size)] |= push.bench_push(h, n, Path(AUDIT[0]).parent, timed,
                                              lambda s: print(s, flush=True))
    if args.push_only or args.signed_only:
        if args.signed_only:
            budgets.report(results, lambda s: print(s, flush=True))
        print(json.dumps(results, indent=1))
        return
    if sizes:
        largest = max(sizes)
        print(f"memory slope of the audit process alone, {largest // 2}-ish vs {largest} commits",
              flush=True)
        results["slope"] = memory_slope(generate.generate(largest), lambda s: print(s, flush=True))
    if len(sizes) > 1:  # flat memory: the peak may not grow with the history
        small, large = str(min(sizes)), str(max(sizes))
        for key in ("signed_peak_mb", "warm_peak_mb", "scan_peak_mb"):
            grown = results[large][key] - results[small][key]
            print(f"{key}: {results[small][key]:.0f} MB at {small} commits, {results[large][key]:.0f}"
                  f" MB at {large}: {grown * 2**20 / (int(large) - int(small)):.0f} bytes a commit")
    if args.million:
        import million

        print("a million commits", flush=True)
        results["million"] = million.bench_million(lambda s: print(s, flush=True), AUDIT[0])
    if not args.no_hooks:
        print("hook latency" + (" with one core kept busy (`yes`)" if args.load else ""), flush=True)
        with spread.busy_core(args.load):
            results["hooks"] = bench_hooks(args.hook_commits or (10 if args.quick else 50),
                                           lambda s: print(s, flush=True))
            print(f"  load average at the end: {os.getloadavg()[0]:.1f}", flush=True)
    budgets.report(results, lambda s: print(s, flush=True))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
