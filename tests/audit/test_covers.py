"""What a co-signed merge brings in: the digests the walk remembers for it."""

from __future__ import annotations

from provenance.audit import covers


def test_the_walk_remembers_the_digests_of_at_least_its_latest_generation_of_commits() -> None:
    recent = covers.Recent(2)
    shas = [f"{n:040x}" for n in range(6)]
    for n, sha in enumerate(shas[:3]):
        recent.add(sha, f"d{n}")
    assert [recent.get(s) for s in shas[:3]] == ["d0", "d1", "d2"]  # two generations: up to 4
    for n, sha in enumerate(shas[3:], 3):
        recent.add(sha, f"d{n}")
    assert [recent.get(s) for s in shas] == ["", "", "d2", "d3", "d4", "d5"]  # the older went whole
    nothing = covers.Recent(0)
    nothing.add(shas[0], "d0")
    assert nothing.get(shas[0]) == covers.UNKNOWN
