"""bench/plan.py: the plan of the 10k and 100k bench histories is the contract their figures came
from, so it never changes; the light plan (a million commits) keeps every folder small."""

from __future__ import annotations

import hashlib
import sys
from collections import Counter

import pytest
from conftest import PROJECT

sys.path.insert(0, str(PROJECT / "bench"))

import generate  # noqa: E402
import plan  # noqa: E402

# sha256 of the first pass's fast-import stream of the 10k plan (seed 1), taken before the light
# plan got folders of its own: the same stream gives the same trees, digests, signatures and ids
# (the 10k history's head then was db5aeb1c, its notes 72831c7d).
PINNED_10K = "bd4d221d62cf6c31ef236533249a6cad5a668260e9c91f3b3bd062abcf83329e"


def _stream(commits: int, light: bool) -> list[bytes]:
    return [generate._header(c, generate._message(c, None)[0])
            for c in plan.plan(commits, 1, light)]


def test_the_bench_histories_plan_is_the_one_their_figures_came_from() -> None:
    digest = hashlib.sha256()
    for chunk in _stream(10_000, light=False):
        digest.update(chunk)
    assert digest.hexdigest() == PINNED_10K


def _files_per_folder(light: bool) -> Counter[str]:
    live: set[str] = set()
    for c in plan.plan(6_000, 1, light):
        for line in c.changes.split(b"\n"):
            if line.startswith(b"M 100644 inline "):
                live.add(line.split(b" ")[-1].decode())
            elif line.startswith(b"D "):
                live.discard(line[2:].decode())
    return Counter(path.rsplit("/", 1)[0] for path in live if "/" in path)


def test_the_light_plan_puts_at_most_a_part_of_files_in_a_folder(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan, "LIGHT_PART", 4)  # 6k commits hold ~10 files a folder
    assert max(_files_per_folder(light=False).values()) > 4
    per_folder = _files_per_folder(light=True)
    assert max(per_folder.values()) <= 4
    assert len(per_folder) > 2 * 165  # the full plan's 165 folders, split


def test_the_light_plan_has_the_full_plans_shape() -> None:
    light, full = list(plan.plan(3_000, 1, light=True)), list(plan.plan(3_000, 1))
    assert len(light) == len(full) == 3_000
    for commits in (light, full):
        merges = sum(len(c.parents) > 1 for c in commits) / len(commits)
        ai = sum(c.ai for c in commits) / len(commits)
        assert 0.03 < merges < 0.07 and 0.33 < ai < 0.42
    assert _stream(500, light=True) == _stream(500, light=True)  # deterministic
