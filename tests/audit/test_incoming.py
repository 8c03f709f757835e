"""What a push adds is judged exactly as the full audit of its tip judges it (issue 19: a push
costs what is pushed), on generated histories with policy changes, revocations, rollbacks and
merges of old forks; with the notes as a push will leave them."""

from __future__ import annotations

import random
from pathlib import Path

import factory as f
import pytest
from test_boundary import _policy, generate

from provenance.audit import incoming, walk
from provenance.policy.schema import POLICY_FILE


@pytest.fixture
def p(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


@pytest.mark.parametrize("seed", [3, 25, 31])  # seeds whose history lands an old fork
def test_a_push_is_judged_as_the_full_audit_judges_each_pushed_commit(
    tmp_path: Path, p: dict[str, f.Actor], seed: int
) -> None:
    repo = f.init(tmp_path / "repo")
    root = generate(repo, p, seed)
    tips = [t for t in f.git(repo, "for-each-ref", "--format=%(objectname)", "refs/heads").split()]
    rng = random.Random(seed)
    landed = 0
    for new in tips:
        full = {j.commit: j for j in walk.audit(new, root, None, repo, use_cache=False).judgements}
        ancestry = f.git(repo, "rev-list", new, f"^{root}").split()
        pushes = [[root]] + [[old, rng.choice(tips)] for old in rng.sample(ancestry, min(3, len(ancestry)))]
        for have in pushes:
            pushed = set(f.git(repo, "rev-list", new, *(f"^{h}" for h in have)).split())
            assert incoming.adds(new, have, repo) == bool(pushed)
            for _ in range(2):  # a cold cache, then a warm one
                result = incoming.judge_push(new, have, repo, trust_root=root)
                assert {j.commit for j in result.judgements} == pushed
                for j in result.judgements:
                    assert j == full[j.commit], (new, have, j.commit)
                    landed += any(v.message.endswith("lands it)") for v in j.violations)
    assert landed  # a pushed merge landed an old fork: judged where it lands, as in full


def test_a_push_judges_with_the_notes_as_it_will_leave_them(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    repo = f.init(tmp_path / "repo")
    root = f.commit(repo, p["alice"], {POLICY_FILE: _policy(p, 1, False)})
    change = f.commit(repo, p["bob"], {"payments/a.py": "a\n"}, ai=True)
    assert [v.code for j in incoming.judge_push(change, [root], repo).judgements
            for v in j.violations] == ["missing-cosign"]
    # A senior's co-sign in a notes commit the ref does not point at yet (a server's quarantine).
    f.add_note(repo, change, [f"Provenance-Signature: {_cosign(repo, p, change)}"])
    pushed_notes = f.git(repo, "rev-parse", "refs/notes/provenance")
    f.git(repo, "update-ref", "-d", "refs/notes/provenance")
    assert incoming.judge_push(change, [root], repo).judgements[0].violations
    judged = incoming.judge_push(change, [root], repo, notes_tip=pushed_notes)
    assert judged.judgements[0].violations == ()


def _cosign(repo: Path, p: dict[str, f.Actor], sha: str) -> str:
    from provenance.wire import digest

    return f.signature(p["alice"], "cosign", digest.of_commit(sha, cwd=repo), p["bob"].email)


def test_a_push_leaves_the_full_audits_light_rows_alone(
    tmp_path: Path, p: dict[str, f.Actor]
) -> None:
    repo = f.init(tmp_path / "repo")
    root = f.commit(repo, p["alice"], {POLICY_FILE: _policy(p, 1, False)})
    for n in range(4):
        f.commit(repo, p["bob"], {f"docs/{n}.md": "x\n"})
    walk.audit(None, root, None, repo)
    rows = f.git(repo, "rev-parse", "HEAD")
    new = f.commit(repo, p["bob"], {"docs/new.md": "x\n"})
    incoming.judge_push(new, [rows], repo, trust_root=root)
    from provenance.audit import cache

    db = cache.open_cache(repo / ".git")
    assert db is not None
    previous = db.previous_range(repo)
    assert previous is not None and previous[0][0] == rows  # still the full audit's
