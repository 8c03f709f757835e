"""The light rows: a warm audit's order, digests and children counts, and a range that grew."""
# ruff: noqa: F811 (a fixture imported from test_cache is named again by each test using it)

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import factory as f
import pytest
from test_cache import (
    TIER1,
    _cache_file,
    _codes,
    _history_with_merges,
    _json,
    _spec,
    people,  # noqa: F401 (the fixture)
)

from provenance.audit import report, stream, walk
from provenance.policy.schema import POLICY_FILE


def test_only_the_latest_range_is_remembered(tmp_path: Path, people: dict[str, f.Actor]) -> None:
    """A range's order and digests are megabytes at 100k commits: audits of a growing history
    must not pile them up."""
    repo, _ = _history_with_merges(tmp_path, people)
    for i in range(3):
        walk.audit(None, None, None, repo)
        f.commit(repo, people["bob"], {f"docs/{i}.md": "d\n"})
    walk.audit(None, None, None, repo)
    ranges = sqlite3.connect(_cache_file(repo)).execute(
        "SELECT COUNT(DISTINCT key), COUNT(*) FROM light_rows").fetchall()
    assert ranges == [(1, 2)]  # one range: its head row and one chunk of rows


def test_a_grown_range_walks_only_its_new_commits_in_full(
    tmp_path: Path, people: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before a push: the range audited last, plus new commits. The old ones come from their light
    rows and cached verdicts; a new branch forked from an old commit that put a stricter policy in
    force must still be judged under it."""
    repo, _ = _history_with_merges(tmp_path, people)
    strict = _spec(people, [TIER1, {"name": "docs", "paths": ["docs/**"]}]).text()
    fork = f.commit(repo, people["bob"], {POLICY_FILE: strict}, cosigners=[people["alice"]])
    f.commit(repo, people["bob"], {"c.txt": "c\n"})  # the fork's one child in the old range
    walk.audit(None, None, None, repo)
    f.git(repo, "checkout", "-qb", "late", fork)
    late = f.commit(repo, people["bob"], {"docs/new.md": "d\n"}, ai=True)  # critical by the fork
    f.git(repo, "checkout", "-q", "main")
    merge = f.merge(repo, people["bob"], "late")
    on_top = f.commit(repo, people["bob"], {"payments/z.py": "z\n"}, ai=True)

    streamed: list[str] = []
    real = stream.commit_lines

    def counted(order: bytes, *args: object, **kwargs: object) -> object:
        streamed.extend(order.decode().split())
        return real(order, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(stream, "commit_lines", counted)
    grown = walk.audit(None, None, None, repo)
    assert sorted(set(streamed)) == sorted([late, merge, on_top])  # nothing old read from git
    assert _codes(grown, late) == ["missing-cosign"]
    assert _codes(grown, on_top) == ["missing-cosign"]
    monkeypatch.setattr(stream, "commit_lines", real)
    assert json.loads(report.to_json(grown)) == _json(repo, use_cache=False)
    streamed.clear()
    monkeypatch.setattr(stream, "commit_lines", counted)
    assert list(walk.audit(None, None, None, repo).judgements) == list(grown.judgements)
    assert streamed == []  # and the grown range's own rows answer the next audit
