"""A fresh clone's first push walks its history once (issue 19): the default trust root and the
policy-relevant graph are read from one walk (audit/whole_history.py), and each answers exactly
what its own walk answered: the default root as `rev-list --first-parent HEAD -- .provenance.toml`
finds it, the boundary's state as the full walk has it, on histories where the policy arrives
after the first commit, by a merge, removed and re-added, with forks from before it and root
commits without it merged in, and with every commit in one second."""

from __future__ import annotations

import random
from pathlib import Path

import factory as f
import pytest
from test_boundary import _full_state, _policy, _rooted, generate
from test_boundary_cache import Listings

from provenance.audit import boundary, incoming, notes, trust, walk, whole_history
from provenance.git.history import changed_path_filters
from provenance.policy.schema import POLICY_FILE


@pytest.fixture
def p(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


@pytest.fixture(params=["dated", "one second"])
def clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Commits a second apart or, as a rebase or a script writes them, all in one second: git's
    date order then differs from the graph's, and nothing may depend on it."""
    if request.param == "one second":
        for variable in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
            monkeypatch.setenv(variable, "@1700000000 +0000")
    return str(request.param)


def _gits_default_root(repo: Path, head: str) -> str | None:
    """What the default trust root was before: its own walk of HEAD's first-parent chain (kept
    where changed-path filters make it the cheaper one)."""
    return trust._first_parent_root(head, repo)


def _orphan(repo: Path, who: f.Actor, name: str, files: dict[str, str | bytes | None]) -> str:
    f.git(repo, "checkout", "-q", "--orphan", name)
    f.git(repo, "rm", "-rqf", ".")
    sha = f.commit(repo, who, files)
    f.git(repo, "checkout", "-q", "main")
    return sha


def _merge(repo: Path, who: f.Actor, branch: str) -> str:
    f.git(repo, "merge", "-q", "--no-ff", "--no-edit", "--allow-unrelated-histories", "-X",
          "ours", branch, who=who)
    return f.amend_trailers(repo, who)


def late_policy_history(repo: Path, p: dict[str, f.Actor], seed: int, graft: bool = True) -> str:
    """A history whose first commit has no policy: a branch forks before the policy arrives and
    lands after it, an orphan without the policy is merged in, and the random history of
    test_boundary (policy changes on branches, rollbacks by merge) grows from the policy's
    commit, which it returns. With `graft`, main then continues from a merge whose first parent
    is another orphan without the policy (a root commit on main's first-parent chain)."""
    f.commit(repo, p["bob"], {"docs/start.md": "s\n"})
    f.git(repo, "checkout", "-qb", "early")
    f.commit(repo, p["bob"], {"docs/early.md": "e\n"})
    f.git(repo, "checkout", "-q", "main")
    root = generate(repo, p, seed, steps=20)
    _merge(repo, p["bob"], "early")
    _orphan(repo, p["bob"], "vendor", {"vendor/lib.py": "v\n"})
    _merge(repo, p["bob"], "vendor")
    if graft:
        _orphan(repo, p["bob"], "graft", {"graft/g.py": "g\n"})
        f.git(repo, "checkout", "-q", "graft")
        _merge(repo, p["bob"], "main")
        f.git(repo, "checkout", "-q", "main")
        f.git(repo, "merge", "-q", "--ff-only", "graft")
    f.commit(repo, p["bob"], {"docs/after.md": "a\n"})
    return root


def _filters(repo: Path) -> None:
    """What `git provenance doctor` suggests: a commit-graph with changed-path filters, with
    which the pruned listings are used instead of the whole walk (the same answers)."""
    f.git(repo, "commit-graph", "write", "--reachable", "--changed-paths")
    assert changed_path_filters(repo)


@pytest.mark.parametrize(("seed", "filters"), [(1, False), (3, False), (1, True)])
def test_the_whole_walks_boundary_state_is_the_full_walks_at_every_commit(
    tmp_path: Path, p: dict[str, f.Actor], seed: int, filters: bool, clock: str
) -> None:
    repo = f.init(tmp_path / "repo")
    root = late_policy_history(repo, p, seed)
    if filters:
        _filters(repo)
    head = f.git(repo, "rev-parse", "HEAD")
    found = trust._default_root(head, repo)
    assert found == _gits_default_root(repo, head) == f.git(repo, "rev-parse", "graft")
    commits = f.git(repo, "rev-list", "--all", f"^{root}").split()
    index = boundary.Notes(*notes.index(notes.read_all(repo)))
    chain, _ = _rooted(repo, root)
    # The walk that found the root covers every commit: the boundary is settled from it.
    assert (whole_history.covering(commits, repo) is None) == filters
    out = boundary.outside(chain, root, commits, frozenset(), index, repo, None)
    for sha in commits:
        assert out.chain.path(out.states[sha]) == _full_state(repo, root, sha, frozenset())[0], sha
    # Asked about one commit, the history since the root is walked for it alone: the same.
    rng = random.Random(seed)
    for sha in rng.sample(commits, 4):
        single = boundary.outside(chain, root, [sha], frozenset(), index, repo, None)
        assert (single.chain.path(single.states[sha]), single.revoked) == _full_state(
            repo, root, sha, frozenset()), sha


@pytest.mark.parametrize("filters", [False, True])
def test_the_default_root_is_the_one_its_own_walk_found(
    tmp_path: Path, p: dict[str, f.Actor], clock: str, filters: bool
) -> None:
    """Behind a merge that brought the policy, after the first commit, removed and re-added,
    changed in mode and type, and moved by an orphan merged in as the first parent."""
    repo = f.init(tmp_path / "repo")
    seen: list[str | None] = []

    def check(head: str = "HEAD") -> None:
        head = f.git(repo, "rev-parse", head)
        if filters:
            _filters(repo)
        found = whole_history.default_root(head, repo)
        if found is not None:
            assert trust._default_root(head, repo) == found
        seen.append(found)
        assert seen[-1] == _gits_default_root(repo, head), len(seen)

    f.commit(repo, p["bob"], {"docs/a.md": "a\n"})
    check()  # no policy anywhere
    f.git(repo, "checkout", "-qb", "adopt")
    f.commit(repo, p["alice"], {POLICY_FILE: _policy(p, 1, False)})
    f.git(repo, "checkout", "-q", "main")
    f.commit(repo, p["bob"], {"docs/b.md": "b\n"})
    merge = _merge(repo, p["alice"], "adopt")
    check()
    assert seen[-1] == merge  # the branch's commit is not on main's first-parent chain
    f.commit(repo, p["bob"], {POLICY_FILE: None})
    f.commit(repo, p["bob"], {"docs/c.md": "c\n"})
    check()
    readded = f.commit(repo, p["alice"], {POLICY_FILE: _policy(p, 2, False)})
    check()
    assert seen[-1] == merge != readded  # the earliest commit holding it
    f.git(repo, "update-index", "--chmod=+x", POLICY_FILE)
    f.git(repo, "commit", "-q", "--no-verify", "-m", "mode")
    (repo / POLICY_FILE).unlink()
    (repo / POLICY_FILE).symlink_to("docs/a.md")
    f.git(repo, "add", "-A")
    f.git(repo, "commit", "-q", "--no-verify", "-m", "type")
    check()
    orphan = _orphan(repo, p["mallory"], "evil", {POLICY_FILE: _policy(p, 3, False)})
    hijack = f.git(repo, "commit-tree", "-p", orphan, "-p", "main", "-m", "Merge main",
                   f"{orphan}^{{tree}}")
    check(hijack)
    assert seen[-1] == orphan  # the history now starts elsewhere: what `trust` refuses


def test_a_fresh_clones_first_push_walks_the_history_once(
    tmp_path: Path, p: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No trust root recorded, no cache: the default root and the boundary's state come from
    one walk of the whole history, then only the pushed range is listed; judged as the full
    audit judges."""
    repo = f.init(tmp_path / "repo")
    root = late_policy_history(repo, p, 2, graft=False)
    have = f.git(repo, "rev-parse", "HEAD")
    pushed = [f.commit(repo, p["bob"], {"auth/x.py": f"{n}\n"}, ai=True) for n in range(2)]
    full = {j.commit: j for j in walk.audit(None, root, None, repo, use_cache=False).judgements}
    whole_history._last.clear()  # as in a new process
    listings = Listings(monkeypatch)
    result = incoming.judge_push(pushed[-1], [have], repo)
    assert result.trust_root == root and result.trust_root_recorded
    assert listings.take() == [([pushed[-1]], []), ([pushed[-1]], [root, have])]
    assert {j.commit for j in result.judgements} == set(pushed)
    assert all(j == full[j.commit] for j in result.judgements)
    assert f.git(repo, "config", trust.FIRST_USE_KEY) == root
