"""The policy at a range's boundary, computed from the trust root over the policy-relevant history,
is exactly what the full walk computes there (issue 14 item 3): on generated histories with policy
changes on branches, authorised and not, revocations and rollbacks by merge."""

from __future__ import annotations

import random
from pathlib import Path

import factory as f
import pytest

from provenance.audit import boundary, cache, notes, trust, walk
from provenance.audit.chain import PolicyChain
from provenance.audit.stream import log_stream
from provenance.policy.schema import POLICY_FILE

RULES = [{"name": "tier-1", "paths": ["payments/**"]}, {"name": "auth", "paths": ["auth/**"]},
         {"name": "audit", "paths": ["audit/**"]}]


@pytest.fixture
def p(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


def _policy(p: dict[str, f.Actor], rules: int, revoke_carol: bool) -> str:
    return f.PolicySpec(
        people=[(p["alice"], ["senior"]), (p["bob"], []), (p["carol"], ["senior"])],
        rules=RULES[:rules], revoked=[p["carol"].key_line()] if revoke_carol else []).text()


def generate(repo: Path, p: dict[str, f.Actor], seed: int, steps: int = 36) -> str:
    """A random history on `main` and branches; returns the trust root."""
    rng = random.Random(seed)
    root = f.commit(repo, p["alice"], {POLICY_FILE: _policy(p, 1, False)})
    branches = ["main"]
    for n in range(steps):
        branch = rng.choice(branches)
        f.git(repo, "checkout", "-q", branch)
        roll = rng.random()
        if roll < 0.15 and len(branches) < 5:
            new = f"b{n}"
            f.git(repo, "checkout", "-qb", new)
            branches.append(new)
        elif roll < 0.40:  # a policy change, co-signed or not (carol's co-sign fails once revoked)
            text = _policy(p, rng.randint(1, 3), rng.random() < 0.3)
            signers = rng.choice([[], [p["alice"]], [p["carol"]]])
            f.commit(repo, p["bob"], {POLICY_FILE: text}, cosigners=signers)
        elif roll < 0.65 and len(branches) > 1:  # a merge, sometimes taking the other's policy
            other = rng.choice([b for b in branches if b != branch])
            f.git(repo, "merge", "-q", "--no-ff", "--no-commit", other, who=p["bob"],
                  check=False)
            side = rng.choice(["--ours", "--theirs"])
            f.git(repo, "checkout", side, "--", POLICY_FILE)
            f.git(repo, "add", POLICY_FILE)
            f.git(repo, "commit", "-q", "--no-verify", "--allow-empty", "-m", "merge", who=p["bob"])
            signers = [p["alice"]] if rng.random() < 0.4 else []
            f.amend_trailers(repo, p["bob"], cosigners=signers)
        else:
            path = rng.choice(["payments", "auth", "audit", "docs"]) + f"/f{n}.py"
            f.commit(repo, p["bob"], {path: f"{n}\n"}, ai=rng.random() < 0.5,
                     cosigners=[p["alice"]] if rng.random() < 0.5 else [])
    f.git(repo, "checkout", "-q", "main")
    for other in branches[1:]:
        f.git(repo, "merge", "-q", "--no-ff", "--no-edit", "-X", "ours", other, who=p["bob"],
              check=False)
    return root


def _rooted(repo: Path, root: str) -> tuple[PolicyChain, str]:
    policy, blob, ident, _ = trust.root_policy(root, None, repo)
    return PolicyChain.rooted(policy, blob), ident


def _full_state(repo: Path, root: str, tip: str, revoked: frozenset) -> tuple[object, frozenset]:
    """What the full walk of root..tip has in force at `tip`, and the keys its policies revoke."""
    chain, ident = _rooted(repo, root)
    ctx = walk.WalkContext(root, chain, ident, False, revoked, notes.read_all(repo), repo, None, None)
    states: dict[str, int] = {}
    _, walked = walk._walk_once(log_stream([tip, f"^{root}"], repo), ctx, states=states)
    node = states.get(tip, 0)
    return walked.path(node), walked.revoked() | revoked


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_boundary_state_equals_the_full_walks_at_every_commit(
    tmp_path: Path, p: dict[str, f.Actor], seed: int
) -> None:
    repo = f.init(tmp_path / "repo")
    root = generate(repo, p, seed)
    commits = f.git(repo, "rev-list", "--all", f"^{root}").split()
    found = notes.read_all(repo)
    index = boundary.Notes(*notes.index(found))
    chain, _ = _rooted(repo, root)
    changes = 0
    for revoked in (frozenset(), frozenset({p["carol"].public})):
        out = boundary.outside(chain, root, commits + [root], revoked, index, repo, None)
        for sha in commits:
            path, keys = _full_state(repo, root, sha, revoked)
            assert out.chain.path(out.states[sha]) == path, sha
            single = boundary.outside(chain, root, [sha], revoked, index, repo, None)
            assert single.revoked | revoked == keys, sha
            changes += bool(path)
        assert out.states[root] == 0
    assert changes  # the history put other policies in force somewhere


@pytest.mark.parametrize("seed", [4, 5])
def test_a_range_audit_judges_its_commits_as_the_full_audit_does(
    tmp_path: Path, p: dict[str, f.Actor], seed: int
) -> None:
    repo = f.init(tmp_path / "repo")
    root = generate(repo, p, seed)
    full = {j.commit: j for j in walk.audit(None, root, None, repo, use_cache=False).judgements}
    commits = f.git(repo, "rev-list", "--first-parent", "main", f"^{root}").split()
    for base in commits[1::4]:
        for use_cache in (False, True, True):  # no cache, a cold one, a warm one
            ranged = walk.audit(f"{base}..main", root, None, repo, use_cache=use_cache)
            assert ranged.judgements, base
            for j in ranged.judgements:
                assert j == full[j.commit], (base, j.commit)


def test_a_cached_boundary_state_is_settled_again_when_a_policy_changes_co_sign_arrives(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    repo = f.init(tmp_path / "repo")
    root = f.commit(repo, p["alice"], {POLICY_FILE: _policy(p, 1, False)})
    change = f.commit(repo, p["bob"], {POLICY_FILE: _policy(p, 2, False)})  # not co-signed yet
    base = f.commit(repo, p["bob"], {"docs/a.md": "a\n"})
    tip = f.commit(repo, p["bob"], {"auth/login.py": "x\n"}, ai=True)
    db = cache.open_cache(repo / ".git")
    assert db is not None
    chain, _ = _rooted(repo, root)

    def state() -> object:
        index = boundary.Notes(*notes.index(notes.read_all(repo)))
        out = boundary.outside(chain, root, [base], frozenset(), index, repo, db)
        return out.chain.path(out.states[base])

    assert state() == ()  # unauthorised: the root's policy stays in force
    assert _codes(repo, base, tip, root) == []  # auth/** is not critical under it
    digest = f.git(repo, "log", "-1", "--format=%B", change).split("sha256:")[1].split()[0]
    blob = f.git(repo, "rev-parse", f"{change}:{POLICY_FILE}")
    line = f.signature(p["alice"], "cosign", f"sha256:{digest}", p["bob"].email, policy=blob)
    f.add_note(repo, change, [f"Provenance-Signature: {line}"])
    assert state() == (blob,)
    assert _codes(repo, base, tip, root) == ["missing-cosign"]


def _codes(repo: Path, base: str, tip: str, root: str) -> list[str]:
    result = walk.audit(f"{base}..{tip}", root, None, repo)
    return [v.code for j in result.judgements for v in j.violations]


def test_a_range_audit_judges_by_the_policy_in_force_at_its_boundary(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    """`audit origin/main..HEAD`, as docs/ci.md recommends for a pull request: a rule added since
    the trust root applies, a key revoked since is rejected, a developer registered since is known."""
    repo = f.init(tmp_path / "repo")
    root = f.commit(repo, p["alice"], {POLICY_FILE: _policy(p, 1, False)})
    since = f.PolicySpec(
        people=[(p["alice"], ["senior"]), (p["bob"], []), (p["carol"], ["senior"]),
                (p["mallory"], [])], rules=RULES[:2], revoked=[p["carol"].key_line()]).text()
    f.commit(repo, p["bob"], {POLICY_FILE: since}, cosigners=[p["alice"]])
    base = f.commit(repo, p["bob"], {"docs/a.md": "a\n"})
    auth = f.commit(repo, p["bob"], {"auth/login.py": "x\n"}, ai=True)
    revoked = f.commit(repo, p["bob"], {"payments/pay.py": "x\n"}, ai=True, cosigners=[p["carol"]])
    newcomer = f.commit(repo, p["mallory"], {"docs/b.md": "b\n"})
    result = walk.audit(f"{base}..HEAD", root, None, repo, use_cache=False)
    codes = {j.commit: sorted(v.code for v in j.violations) for j in result.judgements}
    assert codes == {auth: ["missing-cosign"], revoked: ["missing-cosign", "revoked-key"],
                     newcomer: []}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_commits_sharing_one_timestamp_get_the_full_walks_policy(
    tmp_path: Path, p: dict[str, f.Actor], seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebase or a script writes many commits in one second; git's date order then differs
    from the graph's, and the boundary's policy listing must not depend on it."""
    for variable in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.setenv(variable, "@1700000000 +0000")
    repo = f.init(tmp_path / "repo")
    root = generate(repo, p, seed)
    commits = f.git(repo, "rev-list", "--all", f"^{root}").split()
    index = boundary.Notes(*notes.index(notes.read_all(repo)))
    chain, _ = _rooted(repo, root)
    out = boundary.outside(chain, root, commits + [root], frozenset(), index, repo, None)
    wrong = [sha for sha in commits
             if out.chain.path(out.states[sha]) != _full_state(repo, root, sha, frozenset())[0]]
    assert wrong == []
