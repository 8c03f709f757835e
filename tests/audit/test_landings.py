"""Landings (issue 15, DESIGN §11.3): every way GitHub and GitLab land a pull request keeps its
provenance. Each method, on a request whose AI change to payments/ a senior co-signed (clean) or
did not (`missing-cosign`), while main changed a nearby line."""

from __future__ import annotations

from pathlib import Path

import factory as f
import pytest
from forges import github, gitlab
from landing_support import LINES, MERGER, WHEN, audit, entry, nearby, request, setup, verdicts


@pytest.fixture
def people(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


def _change(*lines: int, prefix: str = "pr") -> dict[str, str | bytes | None]:
    """payments/pay.py with `lines` changed (a request's commits build on each other)."""
    text = LINES
    for n in lines:
        text = text.replace(f"line {n}\n", f"{prefix} {n}\n")
    return {"payments/pay.py": text}


@pytest.mark.parametrize("cosigned", [True, False], ids=["co-signed", "not co-signed"])
def test_github_squash_of_one_commit(tmp_path: Path, people: dict[str, f.Actor],
                                     cosigned: bool) -> None:
    repo = setup(tmp_path, people)
    (src,) = request(repo, people, [_change(5)], cosigned=cosigned)
    nearby(repo, people)
    squash = github.squash(repo, "main", "pr", 7, "Pay more", merger=MERGER, when=WHEN)
    doc = audit(repo)
    landed = entry(doc, squash)
    assert landed["landed_from"] == {"source": src, "request": "#7", "commits": [src],
                                     "verdicts": {src: [] if cosigned else ["missing-cosign"]}}
    assert landed["ai_assisted"] and landed["critical_paths"] == {"tier-1": ["payments/pay.py"]}
    assert verdicts(doc) == ({} if cosigned else {squash: ["missing-cosign"]})


@pytest.mark.parametrize("cosigned", [True, False], ids=["co-signed", "not co-signed"])
def test_github_squash_of_several_commits(tmp_path: Path, people: dict[str, f.Actor],
                                          cosigned: bool) -> None:
    repo = setup(tmp_path, people)
    srcs = request(repo, people, [_change(5), _change(5, 9), {"docs/pay.md": "d\n"}],
                   cosigned=cosigned)
    nearby(repo, people)
    squash = github.squash(repo, "main", "pr", 7, "Pay more", merger=MERGER, when=WHEN)
    assert f.git(repo, "log", "-1", "--format=%s", squash) == "Pay more (#7)"
    doc = audit(repo)
    assert entry(doc, squash)["landed_from"]["commits"] == srcs
    # the docs commit needs no co-sign: only the two payments/ commits can miss one
    assert verdicts(doc) == ({} if cosigned else {squash: ["missing-cosign"] * 2})


@pytest.mark.parametrize("cosigned", [True, False], ids=["co-signed", "not co-signed"])
def test_github_rebase_merge_with_moved_context(tmp_path: Path, people: dict[str, f.Actor],
                                                cosigned: bool) -> None:
    repo = setup(tmp_path, people)
    srcs = request(repo, people, [_change(5), _change(5, 9)], cosigned=cosigned,
                   note=False)
    nearby(repo, people, 7)  # both picks' context moves: their digests change
    tip = github.rebase_merge(repo, "main", "pr", merger=MERGER, when=WHEN)
    picks = f.git(repo, "rev-list", "--reverse", f"{tip}~2..{tip}").split()
    doc = audit(repo)
    for pick, src in zip(picks, srcs, strict=True):
        assert entry(doc, pick)["landed_from"]["source"] == src
        assert entry(doc, pick)["landed_from"]["request"] is None  # found by author and message
    if cosigned:
        assert verdicts(doc) == {}
    else:  # each pick is judged by the request's commits up to its source
        assert {sha: set(codes) for sha, codes in verdicts(doc).items()} == {
            pick: {"missing-cosign"} for pick in picks}


@pytest.mark.parametrize("cosigned", [True, False], ids=["co-signed", "not co-signed"])
def test_github_merge_commit_with_nearby_changes(tmp_path: Path, people: dict[str, f.Actor],
                                                 cosigned: bool) -> None:
    repo = setup(tmp_path, people)
    (src,) = request(repo, people, [_change(5)], cosigned=cosigned)
    nearby(repo, people)
    merge = github.merge_commit(repo, "main", "pr", 7, "bob/pay", "Pay more", merger=MERGER,
                                when=WHEN)
    assert "pr 5" in f.git(repo, "diff-tree", "--cc", "-p", merge)  # --cc: both sides' lines
    doc = audit(repo)
    assert "landed_from" not in entry(doc, merge)  # clean: no own change, nothing to land
    assert verdicts(doc) == ({} if cosigned else {src: ["missing-cosign"]})


@pytest.mark.parametrize("cosigned", [True, False], ids=["co-signed", "not co-signed"])
def test_gitlab_squash_and_merge_commit(tmp_path: Path, people: dict[str, f.Actor],
                                        cosigned: bool) -> None:
    repo = setup(tmp_path, people)
    srcs = request(repo, people, [_change(5, prefix="mr"), _change(5, 9, prefix="mr")],
                   cosigned=cosigned, forge="gitlab")
    nearby(repo, people)
    bob = f.git(repo, "log", "-1", "--format=%an%x00%ae", srcs[0]).split("\0")
    done = gitlab.squash_and_merge(repo, "main", "pr", title="Pay more", reference="pay/app!7",
                                   mr_author=gitlab.Identity(*bob), merger=MERGER, when=WHEN)
    assert f.git(repo, "log", "-1", "--format=%B", done.squash).strip() == "Pay more"
    doc = audit(repo)
    # the squash names nothing; the merge commit that brings it in names !7
    assert entry(doc, done.squash)["landed_from"] == {
        "source": srcs[-1], "request": "!7", "commits": srcs,
        "verdicts": {s: [] if cosigned else ["missing-cosign"] for s in srcs}}
    assert verdicts(doc) == ({} if cosigned else {done.squash: ["missing-cosign"] * 2})


@pytest.mark.parametrize("cosigned", [True, False], ids=["co-signed", "not co-signed"])
def test_gitlab_fast_forward(tmp_path: Path, people: dict[str, f.Actor], cosigned: bool) -> None:
    repo = setup(tmp_path, people)
    srcs = request(repo, people, [_change(5, prefix="mr"), _change(5, 9, prefix="mr")],
                   cosigned=cosigned, forge="gitlab")
    assert gitlab.fast_forward(repo, "main", "pr") == srcs[-1]  # the request's own commits land
    doc = audit(repo)
    assert not any("landed_from" in c for c in doc["commits"])
    assert verdicts(doc) == ({} if cosigned else {s: ["missing-cosign"] for s in srcs})


@pytest.mark.parametrize("cosigned", [True, False], ids=["co-signed", "not co-signed"])
def test_gitlab_fast_forward_with_squash(tmp_path: Path, people: dict[str, f.Actor],
                                         cosigned: bool) -> None:
    repo = setup(tmp_path, people)
    srcs = request(repo, people, [_change(5, prefix="mr"), _change(5, 9, prefix="mr")],
                   cosigned=cosigned, forge="gitlab")
    bob = gitlab.Identity(*f.git(repo, "log", "-1", "--format=%an%x00%ae", srcs[0]).split("\0"))
    squash = gitlab.fast_forward(repo, "main", "pr", squash=True, title="Pay more",
                                 mr_author=bob, merger=MERGER, when=WHEN)
    doc = audit(repo)  # its message names nothing: found by its exact tree
    assert entry(doc, squash)["landed_from"] == {
        "source": srcs[-1], "request": None, "commits": srcs,
        "verdicts": {s: [] if cosigned else ["missing-cosign"] for s in srcs}}
    assert verdicts(doc) == ({} if cosigned else {squash: ["missing-cosign"] * 2})


def test_landing_refs_name_request_heads_kept_elsewhere(tmp_path: Path,
                                                        people: dict[str, f.Actor]) -> None:
    """CI that fetches request heads to refs/remotes/origin/pr/* names them in
    provenance.landingRefs; a rebase-merge's picks name no request, so only that finds them."""
    repo = setup(tmp_path, people)
    srcs = request(repo, people, [_change(5), _change(5, 9)], cosigned=True, note=False)
    f.git(repo, "update-ref", "refs/remotes/origin/pr/7", srcs[-1])
    f.git(repo, "update-ref", "-d", "refs/pull/7/head")
    nearby(repo, people, 7)
    tip = github.rebase_merge(repo, "main", "pr", merger=MERGER, when=WHEN)
    picks = f.git(repo, "rev-list", "--reverse", f"{tip}~2..{tip}").split()
    assert set(verdicts(audit(repo))) == set(picks)
    f.git(repo, "config", "--add", "provenance.landingRefs", "refs/remotes/origin/pr/*")
    doc = audit(repo)
    assert verdicts(doc) == {}
    assert [entry(doc, p)["landed_from"]["source"] for p in picks] == srcs


def test_a_merge_queue_lands_by_the_same_rules(tmp_path: Path, people: dict[str, f.Actor]) -> None:
    """GitHub's queue builds `gh-readonly-queue/main/pr-7-<base>` with the chosen method; the
    required check audits that branch, with the request's head fetched."""
    repo = setup(tmp_path, people)
    (src,) = request(repo, people, [_change(5)], cosigned=True)
    base = nearby(repo, people)
    queue = github.merge_queue_ref("main", 7, base)
    f.git(repo, "update-ref", queue, base)
    squash = github.squash(repo, queue, "pr", 7, "Pay more", merger=MERGER, when=WHEN)
    f.git(repo, "checkout", "-q", squash)
    doc = audit(repo)
    assert entry(doc, squash)["landed_from"]["source"] == src
    assert verdicts(doc) == {}
