"""The per-commit cache: never a stale verdict, and cached audits equal uncached ones."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import factory as f
import pytest

import provenance
from provenance import cache, detect, digest, sshsig
from provenance.audit import report, walk
from provenance.policy import POLICY_FILE

TIER1 = {"name": "tier-1", "paths": ["payments/**"]}


@pytest.fixture
def people(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


def _spec(p: dict[str, f.Actor], rules: list[dict[str, object]]) -> f.PolicySpec:
    return f.PolicySpec(people=[(p["alice"], ["senior"]), (p["bob"], []), (p["carol"], ["senior"])],
                        rules=rules)


def _history_with_merges(tmp_path: Path, p: dict[str, f.Actor]) -> tuple[Path, str]:
    """Signed commits, a co-signed critical change, a clean merge, a conflicted merge, a
    missing co-sign; returns (repo, the AI-assisted critical commit that lacks its co-sign)."""
    repo = f.init(tmp_path / "repo")
    f.commit(repo, p["alice"], {POLICY_FILE: _spec(p, [TIER1]).text(), "a.txt": "1\n2\n3\n"})
    f.git(repo, "checkout", "-qb", "topic")
    f.commit(repo, p["bob"], {"payments/x.py": "x\n"}, ai=True, cosigners=[p["alice"]])
    f.commit(repo, p["bob"], {"a.txt": "1\n2\n3\nside\n"}, ai=True)
    f.git(repo, "checkout", "-q", "main")
    f.commit(repo, p["bob"], {"b.txt": "b\n"})
    f.merge(repo, p["bob"], "topic")  # clean merge, declared
    f.git(repo, "checkout", "-qb", "c2", "HEAD~1")
    f.commit(repo, p["bob"], {"a.txt": "1\n2\n3\nother\n"})
    f.git(repo, "checkout", "-q", "main")
    f.git(repo, "merge", "-q", "--no-edit", "c2", check=False, who=p["bob"])
    f.write(repo, {"a.txt": "00\n2\n3\nside\n"})
    f.git(repo, "commit", "-qam", "conflicted merge", "--no-verify", who=p["bob"])
    f.amend_trailers(repo, p["bob"], ai=False)
    uncosigned = f.commit(repo, p["bob"], {"payments/y.py": "y\n"}, ai=True)
    return repo, uncosigned


def _json(repo: Path, *, use_cache: bool) -> dict[str, object]:
    doc: dict[str, object] = json.loads(report.to_json(walk.audit(None, None, None, repo,
                                                                  use_cache=use_cache)))
    return doc


def _codes(result: walk.AuditResult, sha: str) -> list[str]:
    return [v.code for j in result.judgements if j.commit == sha for v in j.violations]


def _cache_file(repo: Path) -> Path:
    return repo / ".git" / cache.FILE_NAME


def test_cached_and_uncached_audits_give_identical_json_on_a_history_with_merges(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo, uncosigned = _history_with_merges(tmp_path, people)
    uncached = _json(repo, use_cache=False)
    assert not _cache_file(repo).exists()
    cold = _json(repo, use_cache=True)
    assert _cache_file(repo).exists()
    warm = _json(repo, use_cache=True)
    assert cold == uncached and warm == uncached
    merges = [c for c in uncached["commits"] if len(  # type: ignore[union-attr]
        f.git(repo, "rev-list", "--parents", "-n1", c["commit"]).split()) == 3]
    assert len(merges) == 2
    codes = {c["commit"]: [v["code"] for v in c["violations"]]
             for c in uncached["commits"]}  # type: ignore[union-attr]
    assert codes.pop(uncosigned) == ["missing-cosign"]
    assert [v for v in codes.values() if v] == []


def test_a_warm_audit_reads_no_patch_and_verifies_no_signature_again(
    tmp_path: Path, people: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = _history_with_merges(tmp_path, people)
    walk.audit(None, None, None, repo)

    def no_patches(revs: object, cwd: object) -> object:
        raise AssertionError("the warm audit streamed patches")

    def no_crypto(*args: object) -> object:
        raise AssertionError("the warm audit verified a signature again")

    before = (sshsig.verify, detect.commit_signals)
    monkeypatch.setattr(walk, "log_stream", no_patches)
    monkeypatch.setattr(cache, "_VERIFY", no_crypto)
    result = walk.audit(None, None, None, repo)
    assert len(result.judgements) == 7
    assert (sshsig.verify, detect.commit_signals) == before  # restored after the walk


def test_a_new_commit_on_a_warm_cache_is_read_from_the_patch_stream(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo, _ = _history_with_merges(tmp_path, people)
    walk.audit(None, None, None, repo)
    new = f.commit(repo, people["bob"], {"payments/z.py": "z\n"}, ai=True)
    result = walk.audit(None, None, None, repo)
    assert _codes(result, new) == ["missing-cosign"]
    assert _json(repo, use_cache=True) == _json(repo, use_cache=False)


def test_a_policy_change_is_never_answered_by_a_cached_verdict(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo, uncosigned = _history_with_merges(tmp_path, people)
    assert _codes(walk.audit(None, None, None, repo), uncosigned) == ["missing-cosign"]
    relaxed = tmp_path / "relaxed.toml"
    relaxed.write_text(_spec(people, []).text())  # no critical paths at all
    assert _codes(walk.audit(None, None, str(relaxed), repo), uncosigned) == []
    strict = tmp_path / "strict.toml"
    strict.write_text(_spec(people, [{"name": "all", "paths": ["**"], "applies_to": "all"}]).text())
    result = walk.audit(None, None, str(strict), repo)
    assert _codes(result, uncosigned) == ["missing-cosign"]
    assert len([j for j in result.judgements if j.violations]) > 1


def test_a_new_note_is_seen_by_the_next_audit(tmp_path: Path, people: dict[str, f.Actor]) -> None:
    repo, uncosigned = _history_with_merges(tmp_path, people)
    assert _codes(walk.audit(None, None, None, repo), uncosigned) == ["missing-cosign"]
    change = digest.of_commit(uncosigned, cwd=repo)
    line = f.signature(people["carol"], "cosign", change, people["bob"].email)
    f.add_note(repo, uncosigned, [f"Provenance-Signature: {line}"])
    result = walk.audit(None, None, None, repo)
    assert _codes(result, uncosigned) == []
    assert result.judgements[-1].cosigners == ("carol@example.com",)


def test_a_new_tool_version_reads_nothing_the_old_one_wrote(
    tmp_path: Path, people: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, uncosigned = _history_with_merges(tmp_path, people)
    walk.audit(None, None, None, repo)
    # Poison every cached answer of this version: a digest that matches nothing.
    db = sqlite3.connect(_cache_file(repo))
    db.execute("UPDATE facts SET digest = ?", ("sha256:" + "0" * 64,))
    db.commit()
    db.close()
    poisoned = walk.audit(None, None, None, repo)
    assert "stale-signature" in _codes(poisoned, uncosigned)  # proof the cache is read
    monkeypatch.setattr(provenance, "__version__", provenance.__version__ + ".post1")
    fresh = walk.audit(None, None, None, repo)
    assert _codes(fresh, uncosigned) == ["missing-cosign"]
    assert json.loads(report.to_json(fresh)) == _json(repo, use_cache=False)


def test_signature_validity_is_keyed_by_the_exact_bytes(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    db = cache.Cache(tmp_path / "c.sqlite")
    message = b"git-provenance-statement v1\nrole cosign\n"
    blob = sshsig.sign(message, people["alice"].key_path)
    assert db.verify(blob, message) == people["alice"].public
    db.flush()
    assert db.verify(blob, message) == people["alice"].public  # from the database
    with pytest.raises(sshsig.InvalidSignature):
        db.verify(blob, message + b"x")
    with pytest.raises(sshsig.InvalidSignature):
        db.verify(blob, message + b"x")  # a cached "invalid" stays invalid
    signals = db.commit_signals("Bob (aider)", "bob@example.com", "m", "", "")
    db.flush()
    again = db.commit_signals("Bob (aider)", "bob@example.com", "m", "", "")
    assert [dataclasses.asdict(s) for s in again] == [dataclasses.asdict(s) for s in signals]
    assert signals and signals[0].tool == "aider"


def test_an_unusable_cache_file_is_ignored(tmp_path: Path, people: dict[str, f.Actor]) -> None:
    repo, uncosigned = _history_with_merges(tmp_path, people)
    _cache_file(repo).write_bytes(b"not a database at all" * 100)
    assert _codes(walk.audit(None, None, None, repo), uncosigned) == ["missing-cosign"]
