"""The budgets of DESIGN §8, each with the figure a run of bench/run.py measured: one table, last."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


class Budget(NamedTuple):
    name: str
    where: tuple[str, ...]  # the result keys: size (or section), figure
    limit: float
    unit: str  # "x", "s", "ms", "MB"; every budget is an upper bound


BUDGETS = (
    Budget("signed audit vs git log -p, 100k", ("100000", "signed_ratio"), 1.6, "x"),
    Budget("scan vs git log --raw, marginal, 100k", ("100000", "scan_marginal_ratio"), 1.3, "x"),
    Budget("scan vs git log --raw, marginal, 1M", ("million", "scan_marginal_ratio"), 1.3, "x"),
    Budget("warm re-audit vs first, 100k", ("100000", "warm_ratio"), 0.10, "x"),
    Budget("gate, 10 pushed on 100k, warm", ("100000", "push_warm_s"), 0.3, "s"),
    Budget("gate, 10 pushed on 100k, fresh clone", ("100000", "push_fresh_s"), 1.0, "s"),
    Budget("gate, 10 pushed on 100k, the first push after `install` (trust root pinned)",
           ("100000", "push_installed_s"), 1.0, "s"),
    Budget("gate, 9 pushed on 100k, remote's tip moved past the cached one",
           ("100000", "push_moved_s"), 0.3, "s"),
    Budget("hooks, native", ("hooks", "hook_native_ms"), 80, "ms"),
    Budget("hooks, through pre-commit", ("hooks", "hook_precommit_ms"), 80, "ms"),
    Budget("the audit's own peak memory, 1M scan", ("million", "scan_own_peak_mb"), 300, "MB"),
)


def report(results: dict[str, dict[str, float]], out: Callable[[str], None]) -> None:
    """One line a budget: the measured figure and whether it is met; "not measured" otherwise."""
    out("budgets (DESIGN §8)")
    for b in BUDGETS:
        section, key = b.where
        value = results.get(section, {}).get(key)
        if value is None:
            out(f"  {b.name}: not measured in this run (budget {b.limit:g}{b.unit})")
            continue
        verdict = "met" if value <= b.limit else "MISSED"
        out(f"  {b.name}: {value:.3g}{b.unit} (budget {b.limit:g}{b.unit}) {verdict}")
