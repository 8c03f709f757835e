"""The boundary states a walk remembers (issue 17, issue 19: a push costs what is pushed): the
state at a range's tips is cached, and a commit not cached is settled from its nearest cached
ancestors; every answer is exactly the full walk's."""

from __future__ import annotations

import random
from pathlib import Path

import factory as f
import pytest
from test_boundary import _full_state, _policy, _rooted, generate

from provenance.audit import boundary, cache, notes, policy_history, whole_history
from provenance.policy.schema import POLICY_FILE


@pytest.fixture
def p(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


@pytest.mark.parametrize("seed", [3, 25, 31])  # seeds whose history lands an old fork
def test_a_state_settled_from_cached_ancestors_is_the_full_walks(
    tmp_path: Path, p: dict[str, f.Actor], seed: int
) -> None:
    repo = f.init(tmp_path / "repo")
    root = generate(repo, p, seed)
    commits = f.git(repo, "rev-list", "--topo-order", "--reverse", "--all", f"^{root}").split()
    index = boundary.Notes(*notes.index(notes.read_all(repo)))
    chain, _ = _rooted(repo, root)
    rng = random.Random(seed)
    for revoked in (frozenset(), frozenset({p["carol"].public})):
        db = cache.open_cache(repo / ".git")
        assert db is not None
        # Pushes, oldest first, each caching its tip; then every commit asked from them.
        for sha in commits[:: rng.randint(3, 6)]:
            boundary.outside(chain, root, [sha], revoked, index, repo, db)
        for sha in rng.sample(commits, len(commits)):
            out = boundary.outside(chain, root, [sha], revoked, index, repo, db)
            path, keys = _full_state(repo, root, sha, revoked)
            assert (out.chain.path(out.states[sha]), out.revoked | revoked) == (path, keys), sha
        db.close()
        (repo / ".git" / cache.FILE_NAME).unlink()


class Listings:
    """Every policy listing asked of git, and every walk of a whole history: (tips, excluded)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.asked: list[tuple[list[str], list[str]]] = []
        real, whole = policy_history.listing, whole_history.commits_touching

        def spy(tips: list[str], exclude: list[str], cwd: object) -> object:
            self.asked.append((list(tips), list(exclude)))
            return real(tips, exclude, cwd)  # type: ignore[arg-type]

        def spy_whole(revs: list[str], path: str, cwd: object) -> bytes:
            self.asked.append(([r for r in revs if not r.startswith("^")],
                               [r[1:] for r in revs if r.startswith("^")]))
            return whole(revs, path, cwd)  # type: ignore[arg-type]

        monkeypatch.setattr(policy_history, "listing", spy)
        monkeypatch.setattr(whole_history, "commits_touching", spy_whole)

    def take(self) -> list[tuple[list[str], list[str]]]:
        asked, self.asked = self.asked, []
        return asked


def test_a_tips_state_is_cached_and_answers_the_next_boundary_with_no_listing(
    tmp_path: Path, p: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = f.init(tmp_path / "repo")
    root = f.commit(repo, p["alice"], {POLICY_FILE: _policy(p, 1, False)})
    first = f.commit(repo, p["bob"], {"docs/a.md": "a\n"})
    since = f.commit(repo, p["bob"], {POLICY_FILE: _policy(p, 2, True)}, cosigners=[p["alice"]])
    tip = f.commit(repo, p["bob"], {"docs/b.md": "b\n"})
    index = boundary.Notes(*notes.index(notes.read_all(repo)))
    chain, _ = _rooted(repo, root)
    db = cache.open_cache(repo / ".git")
    assert db is not None
    listings = Listings(monkeypatch)
    boundary.outside(chain, root, [first], frozenset(), index, repo, db, tips=[tip])
    assert listings.take() == [([first], [root]), ([tip], [root, first])]  # the range only
    out = boundary.outside(chain, root, [tip], frozenset(), index, repo, db)
    assert listings.take() == []  # the next push's boundary: cached
    assert out.chain.path(out.states[tip]) == (f.git(repo, "rev-parse", f"{since}:{POLICY_FILE}"),)
    assert out.revoked == {p["carol"].public}
    # Another revoked context, another trust root: neither reads that answer.
    boundary.outside(chain, root, [tip], frozenset({p["carol"].public}), index, repo, db)
    assert listings.take() == [([tip], [root])]
    other, _ = _rooted(repo, first)
    boundary.outside(other, first, [tip], frozenset(), index, repo, db)
    assert listings.take() == [([tip], [first])]


def test_a_co_sign_reaching_a_policy_change_before_a_cached_commit_settles_again(
    tmp_path: Path, p: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = f.init(tmp_path / "repo")
    root = f.commit(repo, p["alice"], {POLICY_FILE: _policy(p, 1, False)})
    change = f.commit(repo, p["bob"], {POLICY_FILE: _policy(p, 2, False)})  # not co-signed yet
    cached = f.commit(repo, p["bob"], {"docs/a.md": "a\n"})
    f.git(repo, "checkout", "-qb", "side", root)
    f.commit(repo, p["bob"], {"docs/side.md": "s\n"})
    f.git(repo, "checkout", "-q", "main")
    f.git(repo, "merge", "-q", "--no-ff", "--no-edit", "side", who=p["bob"])
    later = f.commit(repo, p["bob"], {"docs/b.md": "b\n"})
    chain, _ = _rooted(repo, root)
    db = cache.open_cache(repo / ".git")
    assert db is not None
    listings = Listings(monkeypatch)

    def state(sha: str) -> object:
        index = boundary.Notes(*notes.index(notes.read_all(repo)))
        out = boundary.outside(chain, root, [sha], frozenset(), index, repo, db)
        return out.chain.path(out.states[sha])

    assert state(cached) == ()
    listings.take()
    assert state(later) == ()  # settled from the cached ancestor: only the history since
    assert listings.take() == [([later], [root, cached])]
    digest = f.git(repo, "log", "-1", "--format=%B", change).split("sha256:")[1].split()[0]
    blob = f.git(repo, "rev-parse", f"{change}:{POLICY_FILE}")
    line = f.signature(p["alice"], "cosign", f"sha256:{digest}", p["bob"].email, policy=blob)
    f.add_note(repo, change, [f"Provenance-Signature: {line}"])
    assert state(later) == (blob,)  # neither cached answer is read: both depended on that note
    assert listings.take() == [([later], [root])]
