"""Old forks: a commit a merge brings into the audited branch is also judged under the policy in
force where that merge lands it (DESIGN §11.2, issue 14 item 4)."""

from __future__ import annotations

from pathlib import Path

import factory as f
import pytest

from provenance.audit import forks, walk
from provenance.policy.schema import POLICY_FILE

TIER1 = {"name": "tier-1", "paths": ["payments/**"]}
AUTH = {"name": "auth", "paths": ["auth/**"]}


@pytest.fixture
def p(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


def _spec(p: dict[str, f.Actor], *rules: dict[str, object]) -> str:
    return f.PolicySpec(people=[(p["alice"], ["senior"]), (p["bob"], []), (p["carol"], ["senior"])],
                        rules=list(rules)).text()


def _forked(tmp_path: Path, p: dict[str, f.Actor], branches: int = 1) -> tuple[Path, list[str]]:
    """Branches `old0`... fork before auth/** becomes critical; each holds an AI change to auth/**
    that its own (older) policy does not ask a co-sign for. main then makes auth/** critical."""
    repo = f.init(tmp_path / "repo")
    f.commit(repo, p["alice"], {POLICY_FILE: _spec(p, TIER1), "README": "hi\n"})
    changes = []
    for n in range(branches):
        f.git(repo, "checkout", "-qb", f"old{n}", "main")
        changes.append(f.commit(repo, p["bob"], {f"auth/login{n}.py": "ok\n"}, ai=True))
    f.git(repo, "checkout", "-q", "main")
    f.commit(repo, p["bob"], {POLICY_FILE: _spec(p, TIER1, AUTH)}, cosigners=[p["alice"]])
    return repo, changes


def _violations(repo: Path, **kw: object) -> dict[str, list[tuple[str, str]]]:
    result = walk.audit(None, None, None, repo, **kw)  # type: ignore[arg-type]
    return {j.commit: [(v.code, v.message) for v in j.violations]
            for j in result.judgements if j.violations}


def test_a_fork_from_before_a_rule_landed_by_a_clean_merge_is_judged_where_it_lands(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    repo, (change,) = _forked(tmp_path, p)
    merge = f.merge(repo, p["bob"], "old0")
    found = _violations(repo, use_cache=False)
    assert list(found) == [change]
    ((code, message),) = found[change]
    assert code == "missing-cosign" and "auth" in message
    assert message.endswith(f"(under the policy in force where merge {merge[:12]} lands it)")


def test_a_fork_that_synced_with_main_is_judged_where_it_lands_for_its_older_commits(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    repo, (change,) = _forked(tmp_path, p)
    f.git(repo, "checkout", "-q", "old0")
    f.merge(repo, p["bob"], "main")  # "sync with main": the branch now has the stricter policy
    later = f.commit(repo, p["bob"], {"auth/later.py": "ok\n"}, ai=True)  # judged under it already
    f.git(repo, "checkout", "-q", "main")
    f.merge(repo, p["bob"], "old0")
    found = _violations(repo, use_cache=False)
    assert set(found) == {change, later}
    assert "where merge" in found[change][0][1] and "where merge" not in found[later][0][1]


def test_an_octopus_lands_every_fork_under_its_first_parents_policy(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    repo, changes = _forked(tmp_path, p, branches=2)
    f.git(repo, "merge", "-q", "--no-ff", "--no-edit", "old0", "old1", who=p["bob"])
    f.amend_trailers(repo, p["bob"])
    found = _violations(repo, use_cache=False)
    assert set(found) == set(changes)


def test_a_co_signed_fork_or_one_merged_before_the_rule_passes(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    repo = f.init(tmp_path / "repo")
    f.commit(repo, p["alice"], {POLICY_FILE: _spec(p, TIER1)})
    f.git(repo, "checkout", "-qb", "early")
    f.commit(repo, p["bob"], {"auth/a.py": "a\n"}, ai=True)
    f.git(repo, "checkout", "-qb", "signed", "main")
    f.commit(repo, p["bob"], {"auth/b.py": "b\n"}, ai=True, cosigners=[p["carol"]])
    f.git(repo, "checkout", "-q", "main")
    f.merge(repo, p["bob"], "early")  # landed before the rule existed
    f.commit(repo, p["bob"], {POLICY_FILE: _spec(p, TIER1, AUTH)}, cosigners=[p["alice"]])
    f.merge(repo, p["bob"], "signed")
    assert _violations(repo, use_cache=False) == {}


def test_warm_and_grown_audits_keep_what_a_landing_adds(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    repo, (change,) = _forked(tmp_path, p)
    f.merge(repo, p["bob"], "old0")
    cold = _violations(repo)
    assert list(cold) == [change]
    assert _violations(repo) == cold  # from the light rows
    tip = f.commit(repo, p["bob"], {"docs/a.md": "a\n"})
    assert _violations(repo) == cold  # the stored range, grown by one commit
    assert _violations(repo, use_cache=False) == cold
    assert walk.audit(f"{tip}~2..{tip}", None, None, repo).judgements[0].violations


def test_a_history_whose_policy_never_changed_lands_nothing(
    tmp_path: Path, p: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = f.init(tmp_path / "repo")
    f.commit(repo, p["alice"], {POLICY_FILE: _spec(p, TIER1)})
    for n in range(3):
        f.git(repo, "checkout", "-qb", f"b{n}", "main")
        f.commit(repo, p["bob"], {f"docs/{n}.md": "x\n"}, ai=True)
        f.git(repo, "checkout", "-q", "main")
        f.commit(repo, p["bob"], {f"main{n}.md": "x\n"})
        f.merge(repo, p["bob"], f"b{n}")
    landed: list[object] = []
    monkeypatch.setattr(forks, "judge_landings", lambda *a, **k: landed.append(a))
    assert _violations(repo, use_cache=False) == {}
    assert landed == []
