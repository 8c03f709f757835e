"""The GitLab builders write what GitLab writes, and the refs forges keep for request heads
(sources in tests/forges/FORGES.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from forges import gitlab, plumbing
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
)
from forges.plumbing import GITLAB, Identity, Stamp


def test_gitlab_template_rendering() -> None:
    tpl = gitlab.DEFAULT_MERGE_TEMPLATE
    v = {"source_branch": "feat", "target_branch": "main", "title": "Add x", "reference": "g/p!5"}
    assert gitlab.render_template(tpl, {**v, "issues": None}) == (
        "Merge branch 'feat' into 'main'\n\nAdd x\n\nSee merge request g/p!5"
    )
    assert gitlab.render_template(tpl, {**v, "issues": "Closes #1, #2 and #3"}) == (
        "Merge branch 'feat' into 'main'\n\nAdd x\n\nCloses #1, #2 and #3\n\nSee merge request g/p!5"
    )
    # an empty variable on its own line at the end takes the preceding blank line with it
    assert (
        gitlab.render_template("%{title}\n\n%{co_authored_by}", {"title": "T", "co_authored_by": ""}) == "T"
    )
    # an empty variable line inside a trailer block: only that line goes
    assert (
        gitlab.render_template(
            "T\n\nMerged-by: %{merged_by}\n%{approved_by}\nEnd", {"merged_by": "M <m@x>", "approved_by": None}
        )
        == "T\n\nMerged-by: M <m@x>\nEnd"
    )
    assert gitlab.render_template("a\r\n%{title}", {"title": "T"}) == "a\nT"


def test_gitlab_merge_commit(repo: Path) -> None:
    main, pr = nearby_edits(repo)
    when = Stamp(T0 + 100, "+0200")
    new = gitlab.merge_commit(
        repo,
        "main",
        "bob/feature",
        title="Spell out three",
        reference="group/project!12",
        issues=["#4", "#7"],
        merger=MAINTAINER,
        when=when,
    )
    hdr, msg = raw(repo, new)
    assert msg == (
        b"Merge branch 'bob/feature' into 'main'\n\nSpell out three\n\n"
        b"Closes #4 and #7\n\nSee merge request group/project!12"
    )
    assert hdr["parent"] == [main, pr]
    assert hdr["author"] == hdr["committer"] == [f"Mia Maintainer <mia@example.net> {when.git}"]
    assert hdr["tree"] == [git(repo, "merge-tree", "--write-tree", main, pr).split("\n")[0]]


def test_gitlab_merge_commit_golden_gitlab_shell_681(repo: Path) -> None:
    """gitlab-org/gitlab-shell 2094323308 (default template, no closing issues)."""
    _main, pr = nearby_edits(repo)
    new = gitlab.merge_commit(
        repo,
        "main",
        pr,
        source_branch="id-bump-gitaly",
        target_branch="main",
        title="Update Gitaly to 15.4.0-rc2",
        reference="gitlab-org/gitlab-shell!681",
        merger=MAINTAINER,
        when=Stamp(T0),
        committer=GITLAB,
    )
    hdr, msg = raw(repo, new)
    assert msg == (
        b"Merge branch 'id-bump-gitaly' into 'main'\n\nUpdate Gitaly to 15.4.0-rc2\n\n"
        b"See merge request gitlab-org/gitlab-shell!681"
    )
    assert hdr["committer"] == [f"GitLab <noreply@gitlab.com> {T0} +0000"]
    assert hdr["author"] == [f"Mia Maintainer <mia@example.net> {T0} +0000"]


def test_gitlab_semi_linear_requires_up_to_date(repo: Path) -> None:
    main, pr = nearby_edits(repo)
    with pytest.raises(plumbing.NotFastForward):
        gitlab.merge_commit(
            repo,
            "main",
            pr,
            title="t",
            reference="g/p!1",
            merger=MAINTAINER,
            when=Stamp(T0),
            semi_linear=True,
        )
    rebased = commit(
        repo, [main], {"f.txt": "one\n2\nthree\n4\n5\n6\n7\n"}, "PR: line 3\n", BOB, Stamp(T0 + 10)
    )
    new = gitlab.merge_commit(
        repo,
        "main",
        rebased,
        title="t",
        reference="g/p!1",
        merger=MAINTAINER,
        when=Stamp(T0 + 1),
        semi_linear=True,
    )
    assert raw(repo, new)[0]["parent"] == [main, rebased]


def test_gitlab_squash_and_merge(repo: Path) -> None:
    base = base_repo(repo)
    pr = pr_two_authors(repo, base)
    start = commit(
        repo, [base], {"README": "hi there\n"}, "docs\n", MAINTAINER, Stamp(T0 + 50)
    )  # target when last pushed
    later = commit(
        repo, [start], {"z.txt": "z\n"}, "later\n", MAINTAINER, Stamp(T0 + 60)
    )  # target moved since
    git(repo, "update-ref", "refs/heads/main", later)
    when = Stamp(T0 + 7000, "+0100")

    res = gitlab.squash_and_merge(
        repo,
        "main",
        "feature",
        title="Add a and b",
        reference="g/p!3",
        mr_author=ALICE,
        merger=MAINTAINER,
        when=when,
        start=start,
        author_tz="-0300",
    )
    sh, sm = raw(repo, res.squash)
    assert sm == b"Add a and b\n"  # %{title}, plus the newline Gitaly adds
    assert sh["parent"] == [start]
    assert sh["author"] == [f"Alice Example <alice@example.com> {T0 + 7000} -0300"]
    assert sh["committer"] == [f"Mia Maintainer <mia@example.net> {when.git}"]
    assert sh["tree"] == [git(repo, "merge-tree", "--write-tree", start, pr[-1]).split("\n")[0]]
    mh, mm = raw(repo, res.tip)
    assert mh["parent"] == [later, res.squash]
    assert mm == b"Merge branch 'feature' into 'main'\n\nAdd a and b\n\nSee merge request g/p!3"
    assert git(repo, "rev-parse", "main") == res.tip


def test_gitlab_squash_skipped_for_single_commit(repo: Path) -> None:
    base = base_repo(repo)
    c1 = commit(repo, [base], {"x": "x\n"}, "Only\n", BOB, Stamp(T0 + 1))
    res = gitlab.squash_and_merge(
        repo, "main", c1, title="t", reference="g/p!1", mr_author=BOB, merger=MAINTAINER, when=Stamp(T0 + 2)
    )
    assert res.squash == c1
    assert raw(repo, res.tip)[0]["parent"] == [base, c1]
    res2 = gitlab.squash_and_merge(
        repo,
        "main",
        c1,
        title="t",
        reference="g/p!1",
        mr_author=BOB,
        merger=MAINTAINER,
        when=Stamp(T0 + 3),
        squash_message="Custom",
    )
    assert res2.squash != c1 and raw(repo, res2.squash)[1] == b"Custom\n"


def test_gitlab_fast_forward(repo: Path) -> None:
    base = base_repo(repo)
    pr = pr_two_authors(repo, base)
    assert gitlab.fast_forward(repo, "main", "feature") == pr[-1]
    assert git(repo, "rev-parse", "main") == pr[-1]


def test_gitlab_fast_forward_squash_and_refusal(repo: Path) -> None:
    base = base_repo(repo)
    pr = pr_two_authors(repo, base)
    when = Stamp(T0 + 100)
    tip = gitlab.fast_forward(
        repo,
        "main",
        "feature",
        squash=True,
        title="Squashed",
        reference="g/p!2",
        mr_author=ALICE,
        merger=MAINTAINER,
        when=when,
    )
    h, m = raw(repo, tip)
    assert m == b"Squashed\n" and h["parent"] == [base]
    assert h["tree"] == [git(repo, "rev-parse", f"{pr[-1]}^{{tree}}")]
    other = commit(repo, [base], {"q": "q\n"}, "q\n", BOB, Stamp(T0 + 5))
    with pytest.raises(plumbing.NotFastForward):
        gitlab.fast_forward(repo, "main", other)


# --------------------------------------------------------------------------
# request heads


def test_publish_request_head(repo: Path) -> None:
    base = base_repo(repo)
    pr = pr_two_authors(repo, base)
    assert plumbing.publish_request_head(repo, 42, "feature", "github") == "refs/pull/42/head"
    assert plumbing.publish_request_head(repo, 42, pr[0], "gitlab") == "refs/merge-requests/42/head"
    assert plumbing.publish_request_head(repo, 5, pr[1], "forgejo") == "refs/pull/5/head"
    assert git(repo, "rev-parse", "refs/pull/42/head") == pr[-1]
    assert git(repo, "rev-parse", "refs/merge-requests/42/head") == pr[0]
    with pytest.raises(ValueError):
        plumbing.request_head_ref(1, "bitbucket")


def test_gitlab_co_authored_by(repo: Path) -> None:
    base = base_repo(repo)
    pr_two_authors(repo, base)
    assert gitlab.co_authored_by(repo, "main", "feature", exclude_email=MAINTAINER.email) == (
        "Co-authored-by: Alice Example <alice@example.com>\nCo-authored-by: Bob Example <bob@example.org>"
    )
    assert gitlab.co_authored_by(repo, "main", "feature", exclude_email=ALICE.email) == (
        "Co-authored-by: Bob Example <bob@example.org>"
    )


# A project template that reproduces gitlab-org/cli's merge commits (the
# template itself is inferred from its output; the variables are GitLab's).
GLAB_TEMPLATE = (
    "Merge branch '%{source_branch}' into '%{target_branch}'\n\n%{title}\n\n%{issues}\n\n"
    "See merge request %{url}\n\nMerged-by: %{merged_by}\n%{approved_by}\n%{reviewed_by}\n%{co_authored_by}"
)


def test_gitlab_golden_glab_2630_squash_and_merge(repo: Path) -> None:
    """gitlab-org/cli !2630: squash ef41e5685 + merge 29d6f2968 (2025-12-05)."""
    base = base_repo(repo)
    c1 = commit(
        repo,
        [base],
        {"x": "1\n"},
        "wip\n",
        Identity("Daniël Sonck", "dsonck@bauwatch.com"),
        Stamp(1764900000),
    )
    c2 = commit(
        repo, [c1], {"x": "2\n"}, "more\n", Identity("Daniël Sonck", "dsonck@bauwatch.com"), Stamp(1764900100)
    )
    timo = Identity("Timo Furrer", "tfurrer@gitlab.com")
    daniel = Identity("Daniel Sonck", "daniel@sonck.nl")
    title = "fix(variable export): provide clean JSON output on stdout"
    res = gitlab.squash_and_merge(
        repo,
        "main",
        c2,
        title=title,
        reference="gitlab-org/cli!2630",
        mr_author=daniel,
        merger=timo,
        when=Stamp(1764949786, "+0100"),
        author_tz="+0000",
        source_branch="dsonck92/write-human-readable-to-stderr",
        target_branch="main",
        issues=["#8076"],
        template=GLAB_TEMPLATE,
        extra={
            "url": "https://gitlab.com/gitlab-org/cli/-/merge_requests/2630",
            "merged_by": str(timo),
            "approved_by": "Approved-by: Timo Furrer <tfurrer@gitlab.com>",
            "reviewed_by": "Reviewed-by: Daniel Sonck <daniel@sonck.nl>",
            "co_authored_by": gitlab.co_authored_by(repo, "main", c2, exclude_email=timo.email),
        },
    )
    sh, sm = raw(repo, res.squash)
    assert sh["author"] == ["Daniel Sonck <daniel@sonck.nl> 1764949786 +0000"]
    assert sh["committer"] == ["Timo Furrer <tfurrer@gitlab.com> 1764949786 +0100"]
    assert sm == (title + "\n").encode()
    mh, mm = raw(repo, res.tip)
    assert mh["author"] == mh["committer"] == ["Timo Furrer <tfurrer@gitlab.com> 1764949786 +0100"]
    assert (
        mm
        == (
            "Merge branch 'dsonck92/write-human-readable-to-stderr' into 'main'\n\n"
            "fix(variable export): provide clean JSON output on stdout\n\nCloses #8076\n\n"
            "See merge request https://gitlab.com/gitlab-org/cli/-/merge_requests/2630\n\n"
            "Merged-by: Timo Furrer <tfurrer@gitlab.com>\nApproved-by: Timo Furrer <tfurrer@gitlab.com>\n"
            "Reviewed-by: Daniel Sonck <daniel@sonck.nl>\nCo-authored-by: Daniël Sonck <dsonck@bauwatch.com>"
        ).encode()
    )


def test_gitlab_template_golden_glab_2667_trailing_newline() -> None:
    """gitlab-org/cli 45aa37be: empty %{reviewed_by} and %{co_authored_by} leave a final newline."""
    msg = gitlab.merge_message(
        source_branch="fallback-default-branch-release",
        target_branch="main",
        title="feat(release): fallback to predefined CI/CD variable for default branch",
        reference="gitlab-org/cli!2667",
        template=GLAB_TEMPLATE,
        extra={
            "url": "https://gitlab.com/gitlab-org/cli/-/merge_requests/2667",
            "merged_by": "Timo Furrer <tfurrer@gitlab.com>",
            "approved_by": "Approved-by: Filip Aleksic <faleksic@gitlab.com>",
            "reviewed_by": "",
            "co_authored_by": "",
        },
    )
    assert msg == (
        b"Merge branch 'fallback-default-branch-release' into 'main'\n\n"
        b"feat(release): fallback to predefined CI/CD variable for default branch\n\n"
        b"See merge request https://gitlab.com/gitlab-org/cli/-/merge_requests/2667\n\n"
        b"Merged-by: Timo Furrer <tfurrer@gitlab.com>\nApproved-by: Filip Aleksic <faleksic@gitlab.com>\n"
    )
