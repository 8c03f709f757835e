"""The policy chain: a merge takes another parent's policy only as a fast-forward from the policy
in force at its first parent; every other way of putting a policy in force is a policy change
that needs the co-sign the first parent's policy asks for (DESIGN §4, issue 14 item 1)."""

from __future__ import annotations

from pathlib import Path

import factory as f
import pytest

from provenance.audit import walk
from provenance.audit.chain import ROOT, PolicyChain
from provenance.policy.schema import POLICY_FILE

TIER1 = {"name": "tier-1", "paths": ["payments/**"]}
AUTH = {"name": "auth", "paths": ["auth/**"]}


@pytest.fixture
def p(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


def _spec(p: dict[str, f.Actor], *rules: dict[str, object]) -> f.PolicySpec:
    return f.PolicySpec(people=[(p["alice"], ["senior"]), (p["bob"], []), (p["carol"], ["senior"])],
                        rules=list(rules or [TIER1]))


def _history(tmp_path: Path, p: dict[str, f.Actor]) -> tuple[Path, str]:
    """main: the trust root (payments/** critical), then a co-signed change making auth/**
    critical too. Branch `old` forks before that change and adds a harmless commit."""
    repo = f.init(tmp_path / "repo")
    root = f.commit(repo, p["alice"], {POLICY_FILE: _spec(p).text(), "README": "hi\n"})
    f.git(repo, "checkout", "-qb", "old")
    f.commit(repo, p["bob"], {"docs/old.md": "old\n"})
    f.git(repo, "checkout", "-q", "main")
    f.commit(repo, p["bob"], {POLICY_FILE: _spec(p, TIER1, AUTH).text()}, cosigners=[p["alice"]])
    return repo, root


def _merge_resolving(repo: Path, who: f.Actor, branches: list[str], policy_from: str,
                     **kw: object) -> str:
    """Merge `branches` into HEAD with the policy file taken from `policy_from`."""
    f.git(repo, "merge", "-q", "--no-ff", "--no-commit", "--allow-unrelated-histories",
          *branches, who=who, check=False)
    f.git(repo, "checkout", policy_from, "--", POLICY_FILE)
    f.git(repo, "commit", "-q", "--no-verify", "-m", "merge", who=who)
    return f.amend_trailers(repo, who, **kw)  # type: ignore[arg-type]


def _verdicts(repo: Path) -> dict[str, list[str]]:
    result = walk.audit(None, None, None, repo, use_cache=False)
    return {j.commit: [v.code for v in j.violations] for j in result.judgements if j.violations}


def _after(repo: Path, p: dict[str, f.Actor], n: int = 0) -> str:
    """An AI change to auth/**: it needs a co-sign while the stricter policy stays in force."""
    return f.commit(repo, p["bob"], {"auth/login.py": f"ok = {n}\n"}, ai=True)


def test_merging_an_old_branch_with_its_old_policy_is_a_policy_change(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    repo, _ = _history(tmp_path, p)
    merge = _merge_resolving(repo, p["bob"], ["old"], "old")
    after = _after(repo, p)
    assert _verdicts(repo) == {merge: ["unauthorized-policy-change"], after: ["missing-cosign"]}


def test_naming_the_trust_root_as_a_parent_does_not_bring_its_policy_back(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    repo, root = _history(tmp_path, p)
    # `git merge` refuses an ancestor ("Already up to date"): the merge is written by hand.
    f.git(repo, "checkout", root, "--", POLICY_FILE)
    tree = f.git(repo, "write-tree")
    merge = f.git(repo, "commit-tree", tree, "-p", "HEAD", "-p", root, "-m", "merge", who=p["bob"])
    f.git(repo, "reset", "-q", "--hard", merge)
    merge = f.amend_trailers(repo, p["bob"])
    after = _after(repo, p)
    assert _verdicts(repo) == {merge: ["unauthorized-policy-change"], after: ["missing-cosign"]}


def test_an_octopus_merge_cannot_roll_the_policy_back(tmp_path: Path, p: dict[str, f.Actor]) -> None:
    repo, _ = _history(tmp_path, p)
    f.git(repo, "checkout", "-qb", "other", "main")
    f.commit(repo, p["bob"], {"docs/other.md": "other\n"})
    f.git(repo, "checkout", "-q", "main")
    merge = _merge_resolving(repo, p["bob"], ["old", "other"], "old")
    assert len(f.git(repo, "rev-list", "--parents", "-n1", merge).split()) == 4
    after = _after(repo, p)
    assert _verdicts(repo) == {merge: ["unauthorized-policy-change"], after: ["missing-cosign"]}


def test_a_foreign_policy_authorised_on_an_orphan_branch_is_not_a_fast_forward(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    repo, _ = _history(tmp_path, p)
    f.git(repo, "checkout", "-q", "--orphan", "foreign")
    f.git(repo, "rm", "-rqf", ".")
    # Its root commit is judged under the trust root's policy: co-signed, it is authorised there.
    f.commit(repo, p["bob"], {POLICY_FILE: _spec(p).text() + "\n# foreign\n"},
             cosigners=[p["carol"]])
    f.git(repo, "checkout", "-q", "main")
    merge = _merge_resolving(repo, p["bob"], ["foreign"], "foreign")
    after = _after(repo, p)
    assert _verdicts(repo) == {merge: ["unauthorized-policy-change"], after: ["missing-cosign"]}
    # An orphan whose policy nobody authorised is flagged at its root and at the merge.
    f.git(repo, "checkout", "-q", "--orphan", "evil")
    f.git(repo, "rm", "-rqf", ".")
    evil = f.commit(repo, p["mallory"], {POLICY_FILE: _spec(p).text() + "\n# evil\n"})
    f.git(repo, "checkout", "-q", "main")
    merge2 = _merge_resolving(repo, p["mallory"], ["evil"], "evil")
    after2 = _after(repo, p, 2)
    found = _verdicts(repo)
    assert "unauthorized-policy-change" in found[evil]
    assert "unauthorized-policy-change" in found[merge2] and found[after2] == ["missing-cosign"]


def test_a_rollback_co_signed_under_the_first_parents_policy_is_authorised(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    repo, _ = _history(tmp_path, p)
    merge = _merge_resolving(repo, p["bob"], ["old"], "old", cosigners=[p["alice"]])
    f.commit(repo, p["bob"], {"auth/login.py": "ok = True\n"}, ai=True)
    assert _verdicts(repo) == {}  # a senior put the older policy back in force
    assert merge


def test_a_branch_that_changed_the_policy_in_force_merges_as_a_fast_forward(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    repo, _ = _history(tmp_path, p)
    f.git(repo, "checkout", "-qb", "stricter", "main")
    audit = {"name": "audit", "paths": ["audit/**"]}
    f.commit(repo, p["bob"], {POLICY_FILE: _spec(p, TIER1, AUTH, audit).text()},
             cosigners=[p["carol"]])
    f.git(repo, "checkout", "-q", "main")
    f.commit(repo, p["bob"], {"docs/main.md": "m\n"})
    f.merge(repo, p["bob"], "stricter")  # takes the branch's policy: no co-sign needed
    after = f.commit(repo, p["bob"], {"audit/log.py": "x = 1\n"}, ai=True)
    assert _verdicts(repo) == {after: ["missing-cosign"]}  # the branch's policy is in force


def test_a_branch_that_changed_an_older_policy_is_not_a_fast_forward(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    """Authorised on its own branch, from the policy in force there, not from main's."""
    repo, _ = _history(tmp_path, p)
    f.git(repo, "checkout", "-q", "old")
    f.commit(repo, p["bob"], {POLICY_FILE: _spec(p).text() + "\n# tweak\n"},
             cosigners=[p["alice"]])
    f.git(repo, "checkout", "-q", "main")
    merge = _merge_resolving(repo, p["bob"], ["old"], "old")
    after = _after(repo, p)
    assert _verdicts(repo) == {merge: ["unauthorized-policy-change"], after: ["missing-cosign"]}


def test_a_policy_put_back_by_an_authorised_change_is_a_new_node(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    """A -> B -> A on main: merging a branch still at B is a rollback of the second change."""
    repo, root = _history(tmp_path, p)
    f.git(repo, "checkout", "-qb", "at-b", "main")
    f.commit(repo, p["bob"], {"docs/b.md": "b\n"})
    f.git(repo, "checkout", "-q", "main")
    original = f.git(repo, "show", f"{root}:{POLICY_FILE}") + "\n"
    f.commit(repo, p["bob"], {POLICY_FILE: original}, cosigners=[p["alice"]])
    merge = _merge_resolving(repo, p["bob"], ["at-b"], "at-b")
    assert _verdicts(repo) == {merge: ["unauthorized-policy-change"]}


def test_a_chain_knows_its_nodes_by_what_they_were_adopted_from(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    repo, root = _history(tmp_path, p)
    policy = walk.trust.root_policy(root, None, repo)
    chain = PolicyChain.rooted(policy[0], policy[1])
    strict = f.git(repo, "rev-parse", f"main:{POLICY_FILE}")
    one = chain.adopt(strict, ROOT, "c" * 40, repo)
    assert one == chain.adopt(strict, ROOT, "d" * 40, repo) == 1  # the same change: one node
    back = chain.adopt(policy[1] or "", 1, "e" * 40, repo)
    assert back == 2 and chain.on_chain(ROOT, back) and chain.on_chain(1, back)
    assert not chain.on_chain(back, 1) and not chain.on_chain(1, ROOT)
    assert chain.fast_forward(1, policy[1] or "", [ROOT]) is None  # a rollback
    assert chain.fast_forward(1, policy[1] or "", [back]) == back  # a fast-forward
    again = PolicyChain.rooted(policy[0], policy[1])
    assert again.follow(chain.path(back), repo) == 2 and again.path(2) == chain.path(back)
    assert isinstance(chain.adopt(f.git(repo, "rev-parse", f"{root}:README"), 1, "f" * 40,
                                  repo), str)  # not a policy: a reason, no node
