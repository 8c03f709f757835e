"""The GitHub builders write what GitHub writes: each method on a tiny repository, and golden
replays of real squash and merge commits (sources in tests/forges/FORGES.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from forges import github, plumbing
from forges.golden import GOLDEN
from forges.history import (
    ALICE,
    BOB,
    MAINTAINER,
    T0,
    base_repo,
    commit,
    git,
    nearby_edits,
    pr_two_authors,
    raw,
    show,
)
from forges.plumbing import Identity, Stamp


def test_github_squash_multi_commit_two_authors(repo: Path) -> None:
    base = base_repo(repo)
    pr = pr_two_authors(repo, base)
    main2 = commit(repo, [base], {"README": "hi there\n"}, "docs\n", MAINTAINER, Stamp(T0 + 50))
    git(repo, "update-ref", "refs/heads/main", main2)
    when = Stamp(T0 + 1000, "-0700")

    new = github.squash(
        repo, "main", "feature", 42, "Add a and b", merger=MAINTAINER, when=when, pr_author=ALICE
    )

    hdr, msg = raw(repo, new)
    assert msg == (
        b"Add a and b (#42)\n\n"
        b"* Add a\n\nLonger explanation.\n\n"
        b"* Add b\n\nSigned-off-by: Bob Example <bob@example.org>\n\n"
        b"* Fix a\n\n"
        b"---------\n\n"
        b"Signed-off-by: Bob Example <bob@example.org>\n"
        b"Co-authored-by: Bob Example <bob@example.org>"
    )
    assert hdr["author"] == [
        f"Alice Example <alice@example.com> {T0 + 1000} +0200"
    ]  # PR author, merge time, own tz
    assert hdr["committer"] == [f"GitHub <noreply@github.com> {T0 + 1000} -0700"]
    assert hdr["parent"] == [main2]  # the base tip at merge time
    assert hdr["tree"] == [git(repo, "merge-tree", "--write-tree", main2, pr[-1]).split("\n")[0]]
    assert git(repo, "rev-parse", "refs/heads/main") == new
    assert show(repo, new, "README") == "hi there" and show(repo, new, "a.txt") == "a2"


def test_github_squash_single_commit_and_styles(repo: Path) -> None:
    base = base_repo(repo)
    c1 = commit(repo, [base], {"x": "x\n"}, "Tweak x\n\nBecause.\n", BOB, Stamp(T0 + 10))
    git(repo, "update-ref", "refs/heads/one", c1)
    when = Stamp(T0 + 20)
    cs = [plumbing.read_commit(repo, c1)]
    # single commit: its subject + (#N), its body
    assert github.squash_message(cs, 7, "PR title", pr_author=BOB) == b"Tweak x (#7)\n\nBecause."
    # the committer is not the PR author: a co-author line joins the body
    assert github.squash_message(cs, 7, "PR title", pr_author=ALICE) == (
        b"Tweak x (#7)\n\nBecause.\n\nCo-authored-by: Bob Example <bob@example.org>"
    )
    assert (
        github.squash_message(cs, 7, "PR title", pr_author=BOB, style=github.SquashStyle.PR_TITLE)
        == b"PR title (#7)"
    )
    assert github.squash_message(cs, 7, "PR title", pr_author=ALICE, style=github.SquashStyle.PR_TITLE) == (
        b"PR title (#7)\n\nCo-authored-by: Bob Example <bob@example.org>"
    )
    assert (
        github.squash_message(
            cs,
            7,
            "PR title",
            pr_author=BOB,
            style=github.SquashStyle.PR_TITLE_AND_DESCRIPTION,
            description="Body\r\ntext\r\n",
        )
        == b"PR title (#7)\n\nBody\ntext"
    )
    # era 2023: an empty body still gets the blank line
    assert github.squash_message(
        cs, 7, "PR title", pr_author=BOB, style=github.SquashStyle.PR_TITLE, era="2023"
    ) == (b"PR title (#7)\n\n")
    # web UI (CRLF body) as written until ~2024
    assert github.squash_message(cs, 7, "PR title", pr_author=ALICE, crlf=True) == (
        b"Tweak x (#7)\n\nBecause.\r\n\r\nCo-authored-by: Bob Example <bob@example.org>"
    )
    new = github.squash(
        repo, "refs/heads/main", "one", 7, "PR title", merger=MAINTAINER, when=when, pr_author=BOB
    )
    hdr, msg = raw(repo, new)
    assert msg == b"Tweak x (#7)\n\nBecause."
    assert hdr["parent"] == [base]


def test_github_squash_trailer_appended_to_existing_block(repo: Path) -> None:
    base = base_repo(repo)
    c1 = commit(
        repo,
        [base],
        {"x": "x\n"},
        "Fix\n\nWhy.\n\nSigned-off-by: Bob Example <bob@example.org>\n",
        BOB,
        Stamp(T0 + 1),
    )
    msg = github.squash_message([plumbing.read_commit(repo, c1)], 3, "t", pr_author=ALICE)
    assert msg == (
        b"Fix (#3)\n\nWhy.\n\nSigned-off-by: Bob Example <bob@example.org>\n"
        b"Co-authored-by: Bob Example <bob@example.org>"
    )


def test_github_squash_conflict_leaves_base_alone(repo: Path) -> None:
    base = base_repo(repo)
    c1 = commit(repo, [base], {"f.txt": "one\n2\n3\n4\n5\n6\n7\n"}, "pr\n", BOB, Stamp(T0 + 1))
    m1 = commit(repo, [base], {"f.txt": "uno\n2\n3\n4\n5\n6\n7\n"}, "main\n", ALICE, Stamp(T0 + 2))
    git(repo, "update-ref", "refs/heads/main", m1)
    with pytest.raises(plumbing.MergeConflict):
        github.squash(repo, "main", c1, 1, "t", merger=MAINTAINER, when=Stamp(T0 + 3), pr_author=BOB)
    assert git(repo, "rev-parse", "main") == m1


@pytest.mark.parametrize("case", GOLDEN, ids=[c["source"].rsplit("/", 1)[1][:10] for c in GOLDEN])
def test_github_squash_golden(repo: Path, case: dict[str, Any]) -> None:
    """Replay real PRs (authors, dates, messages; synthetic trees) and compare
    with the squash commit GitHub wrote."""
    base = base_repo(repo)
    main_tip = base
    tip = base
    for i, c in enumerate(case["commits"]):
        a = Identity(c["author"][0], c["author"][1])
        aw = Stamp(int(c["author"][2]), c["author"][3])
        cm = Identity(c["committer"][0], c["committer"][1])
        cw = Stamp(int(c["committer"][2]), c["committer"][3])
        if c["merge"]:
            main_tip = commit(
                repo,
                [main_tip],
                {f"main{i}.txt": f"{i}\n"},
                f"main {i}\n",
                MAINTAINER,
                Stamp(int(c["author"][2]) - 60),
            )
            tree = git(repo, "merge-tree", "--write-tree", tip, main_tip).split("\n")[0]
            tip = commit(repo, [tip, main_tip], {}, c["message"], a, aw, committer=cm, cwhen=cw, tree=tree)
        else:
            tip = commit(repo, [tip], {f"pr{i}.txt": f"{i}\n"}, c["message"], a, aw, committer=cm, cwhen=cw)
    git(repo, "update-ref", "refs/heads/main", main_tip)
    when = Stamp(case["when"][0], case["when"][1])
    merger = Identity(*case["pr_author"]) if case["merger_is_author"] else MAINTAINER
    new = github.squash(
        repo,
        "main",
        tip,
        case["number"],
        case["title"],
        merger=merger,
        when=when,
        pr_author=Identity(*case["pr_author"]),
        pr_author_aliases=case["pr_author_aliases"],
        era=case["era"],
        author_tz=case.get("author_tz"),
    )
    hdr, msg = raw(repo, new)
    assert msg == case["expected_message"].encode()
    ea = case["expected_author"]
    assert hdr["author"] == [f"{ea[0]} <{ea[1]}> {ea[2]} {ea[3]}"]
    assert hdr["committer"] == [f"GitHub <noreply@github.com> {when.git}"]
    assert hdr["parent"] == [main_tip]


# --------------------------------------------------------------------------
# GitHub rebase and merge


def test_github_rebase_merge(repo: Path) -> None:
    base = base_repo(repo)
    pr = pr_two_authors(repo, base)
    main2 = commit(repo, [base], {"README": "hi there\n"}, "docs\n", MAINTAINER, Stamp(T0 + 50))
    git(repo, "update-ref", "refs/heads/main", main2)
    when = Stamp(T0 + 5000, "+0100")

    tip = github.rebase_merge(repo, "main", "feature", merger=MAINTAINER, when=when)

    new = git(repo, "rev-list", "--reverse", f"{main2}..{tip}").split()
    assert len(new) == 3 and git(repo, "rev-parse", "main") == tip
    parent = main2
    for old, nc in zip(pr, new, strict=True):
        oh, om = raw(repo, old)
        nh, nm = raw(repo, nc)
        assert nm == om  # message bytes kept
        assert nh["author"] == oh["author"]  # name, email, date, tz kept
        assert nh["committer"] == [f"Mia Maintainer <mia@example.net> {when.git}"]
        assert nh["parent"] == [parent]
        assert "gpgsig" not in nh
        parent = nc
    assert (
        show(repo, tip, "README") == "hi there"
        and show(repo, tip, "a.txt") == "a2"
        and show(repo, tip, "b.txt") == "b"
    )


def test_github_rebase_merge_never_fast_forwards(repo: Path) -> None:
    base = base_repo(repo)
    pr = pr_two_authors(repo, base)  # main has not moved: a fast-forward would be possible
    tip = github.rebase_merge(repo, "main", "feature", merger=MAINTAINER, when=Stamp(T0 + 9000))
    assert tip != pr[-1]
    assert git(repo, "rev-parse", f"{tip}^{{tree}}") == git(repo, "rev-parse", f"{pr[-1]}^{{tree}}")
    assert raw(repo, tip)[0]["committer"] == [f"Mia Maintainer <mia@example.net> {T0 + 9000} +0000"]


def test_github_rebase_merge_conflict(repo: Path) -> None:
    base = base_repo(repo)
    c1 = commit(repo, [base], {"f.txt": "one\n2\n3\n4\n5\n6\n7\n"}, "pr\n", BOB, Stamp(T0 + 1))
    m1 = commit(repo, [base], {"f.txt": "uno\n2\n3\n4\n5\n6\n7\n"}, "main\n", ALICE, Stamp(T0 + 2))
    git(repo, "update-ref", "refs/heads/main", m1)
    with pytest.raises(plumbing.MergeConflict):
        github.rebase_merge(repo, "main", c1, merger=MAINTAINER, when=Stamp(T0 + 3))
    assert git(repo, "rev-parse", "main") == m1
    assert "forges-wt-" not in git(repo, "worktree", "list")


# --------------------------------------------------------------------------
# GitHub merge commit


def test_github_merge_commit_nearby_lines(repo: Path) -> None:
    main, pr = nearby_edits(repo)
    when = Stamp(T0 + 100, "+0530")
    new = github.merge_commit(
        repo, "main", "bob/feature", 9, "bob/feature", "Spell out three", merger=MAINTAINER, when=when
    )
    hdr, msg = raw(repo, new)
    assert msg == b"Merge pull request #9 from bob/feature\n\nSpell out three"
    assert hdr["parent"] == [main, pr]
    assert hdr["author"] == [f"Mia Maintainer <mia@example.net> {when.git}"]
    assert hdr["committer"] == [f"GitHub <noreply@github.com> {when.git}"]
    assert hdr["tree"] == [git(repo, "merge-tree", "--write-tree", main, pr).split("\n")[0]]
    assert show(repo, new, "f.txt") == "one\n2\nthree\n4\n5\n6\n7"


def test_github_merge_commit_styles() -> None:
    assert github.merge_message(9, "o/b", "T", style=github.MergeStyle.PR_TITLE) == b"T (#9)"
    assert (
        github.merge_message(
            9, "o/b", "T", style=github.MergeStyle.PR_TITLE_AND_DESCRIPTION, description="D\r\n"
        )
        == b"T (#9)\n\nD"
    )
    assert github.merge_message(9, "o/b", "", era="2023") == b"Merge pull request #9 from o/b\n\n"


def test_github_merge_commit_golden_cli_9813(repo: Path) -> None:
    """cli/cli 44ee17760 (2024-10-24): message and identities."""
    _main, pr = nearby_edits(repo)
    kynan = Identity("Kynan Ware", "47394200+BagToad@users.noreply.github.com")
    when = Stamp(1729788464, "-0600")
    new = github.merge_commit(
        repo,
        "main",
        pr,
        9813,
        "cli/wm/update-acceptance-test-redaction",
        "Note token redaction in Acceptance test README",
        merger=kynan,
        when=when,
    )
    hdr, msg = raw(repo, new)
    assert msg == (
        b"Merge pull request #9813 from cli/wm/update-acceptance-test-redaction\n\n"
        b"Note token redaction in Acceptance test README"
    )
    assert hdr["author"] == ["Kynan Ware <47394200+BagToad@users.noreply.github.com> 1729788464 -0600"]
    assert hdr["committer"] == ["GitHub <noreply@github.com> 1729788464 -0600"]


def test_github_merge_commit_conflict_adjacent_lines(repo: Path) -> None:
    base = base_repo(repo)
    pr = commit(repo, [base], {"f.txt": "1\ntwo\n3\n4\n5\n6\n7\n"}, "PR: line 2\n", BOB, Stamp(T0 + 10))
    main = commit(repo, [base], {"f.txt": "one\n2\n3\n4\n5\n6\n7\n"}, "main: line 1\n", ALICE, Stamp(T0 + 20))
    git(repo, "update-ref", "refs/heads/main", main)
    with pytest.raises(plumbing.MergeConflict):
        github.merge_commit(repo, "main", pr, 1, "o/b", "t", merger=MAINTAINER, when=Stamp(T0 + 30))


def test_merge_queue_ref_name() -> None:
    assert (
        github.merge_queue_ref("main", 12, "a" * 40) == "refs/heads/gh-readonly-queue/main/pr-12-" + "a" * 40
    )


# --------------------------------------------------------------------------
