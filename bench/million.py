"""A real million commits: the scan of an unadopted history, its time per commit against git, and
the audit process's own peak memory (DESIGN §8: under 300 MB at 1M, measured, not projected).

The history is `generate.py --unadopted --light`: a plan of the bench plan's shape (the same
directories, merges, AI-assisted share and messages) with one-line file contents and at most 64
files a folder (plan.py `LIGHT_PART`): the full plan's flat directories reach ~1,600 files each at
1M commits, and writing such trees for every commit made the generator's cost grow with history.
A scan reads `git log --raw`, which compares trees, not contents.

    .venv/bin/python bench/run.py --million        # or: bench/million.py
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import generate  # noqa: E402
import measure  # noqa: E402
import plan  # noqa: E402
import run  # noqa: E402

MILLION = 1_000_000


def bench_million(report: Callable[[str], None], python: str, commits: int = MILLION
                  ) -> dict[str, float]:
    """`python`: the interpreter of the install to time (run.py's release install)."""
    repo = generate.generate_unadopted(commits, light=True, log=lambda s: report(f"  {s}"))
    policy = repo.parent / "scan-policy.toml"
    policy.write_bytes(plan.policy_text(True))
    args = ["audit", "--format", "json", "--no-cache", "--policy", str(policy)]
    scan = [python, "-m", "provenance", *args]
    raw = ["git", "log", "--format=%H%x00%P%x00%an%x00%ae%x00%B", "--raw", "--no-renames", "main"]
    root = run.root_of(repo)
    # One measured pair each (a 1M scan takes about a minute): the whole range and one commit.
    full = measure.interleave(lambda: measure.timed(scan, repo), lambda: measure.timed(raw, repo), 1)
    one = measure.interleave(lambda: measure.timed([*scan[:-2], root, *scan[-2:]], repo),
                         lambda: measure.timed([*raw[:-1], root], repo), 1)
    m_scan = (full.median("a") - one.median("a")) / (commits - 1) * 1e6
    m_raw = (full.median("b") - one.median("b")) / (commits - 1) * 1e6
    own = run.own_peak_mb(args, repo, python)
    out = {"commits": commits, "scan_s": full.median("a"), "git_log_raw_s": full.median("b"),
           "scan_marginal_ratio": m_scan / m_raw, "scan_tree_peak_mb": full.peak_mb("a"),
           "git_peak_mb": full.peak_mb("b"), "scan_own_peak_mb": own}
    report(f"  scan --policy of {commits} commits {full.median('a'):.1f}s vs git log --raw "
           f"{full.median('b'):.1f}s: marginal {m_scan:.1f} vs {m_raw:.1f} us/commit, ratio "
           f"{m_scan / m_raw:.2f} (budget 1.3)")
    report(f"  peak memory: the audit process alone {own:.0f} MB (budget 300), with its git "
           f"{full.peak_mb('a'):.0f} MB; git log --raw alone {full.peak_mb('b'):.0f} MB")
    return out


if __name__ == "__main__":
    print(run.machine(), flush=True)
    release = str(run.release_install() / "python")
    print(json.dumps(bench_million(lambda s: print(s, flush=True), release), indent=1))
