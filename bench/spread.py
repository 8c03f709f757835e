"""The hook benchmark's figures: medians, the spread (p10/p90), and a busy core to time them under."""

from __future__ import annotations

import contextlib
import statistics
import subprocess
from collections.abc import Iterator, Sequence


def pct(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, interpolated between the two nearest."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def figures(name: str, with_hooks: Sequence[float], without: Sequence[float]) -> dict[str, float]:
    """Wall times in seconds, measured in pairs, as milliseconds: the added time (the difference
    of the medians), the mean and the p10/p90 of the pairwise differences, each side's
    p10/median/p90."""
    a = [t * 1000 for t in with_hooks]
    b = [t * 1000 for t in without]
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    out = {f"hook_{name}_ms": statistics.median(a) - statistics.median(b),
           f"hook_{name}_mean_ms": statistics.mean(diffs),
           f"hook_{name}_diff_p10_ms": pct(diffs, 0.1), f"hook_{name}_diff_p90_ms": pct(diffs, 0.9)}
    for side, values in (("with", a), ("without", b)):
        out |= {f"hook_{name}_{side}_p10_ms": pct(values, 0.1),
                f"hook_{name}_{side}_median_ms": statistics.median(values),
                f"hook_{name}_{side}_p90_ms": pct(values, 0.9)}
    return out


def line(f: dict[str, float], name: str) -> str:
    def g(key: str) -> float:
        return f[f"hook_{name}_{key}"]

    return (f"+{g('ms'):.0f} ms (median {g('with_median_ms'):.0f} vs {g('without_median_ms'):.0f}; "
            f"p10/p90 {g('with_p10_ms'):.0f}/{g('with_p90_ms'):.0f} vs "
            f"{g('without_p10_ms'):.0f}/{g('without_p90_ms'):.0f}); pairwise difference mean "
            f"+{g('mean_ms'):.0f}, p10/p90 {g('diff_p10_ms'):+.0f}/{g('diff_p90_ms'):+.0f} (budget 80)")


@contextlib.contextmanager
def busy_core(on: bool) -> Iterator[None]:
    """`--load`: a `yes > /dev/null` loop keeps one core busy while the hooks are timed."""
    if not on:
        yield
        return
    proc = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.kill()
        proc.wait()
