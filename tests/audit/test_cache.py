"""The per-commit cache: never a stale verdict, and cached audits equal uncached ones."""

from __future__ import annotations

import json
import marshal
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import factory as f
import pytest

import provenance
from provenance.audit import cache, covers, report, stream, walk
from provenance.audit import judge as judge_module
from provenance.audit.records import CommitRecord, Judgement
from provenance.policy.schema import POLICY_FILE
from provenance.ssh import signing, sshsig
from provenance.wire import digest

TIER1: dict[str, object] = {"name": "tier-1", "paths": ["payments/**"]}


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


@pytest.mark.parametrize("chunk", [5000, 2])  # the light walk reads the cache a chunk at a time
def test_a_warm_audit_reads_no_patch_and_verifies_no_signature_again(
    tmp_path: Path, people: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    repo, _ = _history_with_merges(tmp_path, people)
    cold = walk.audit(None, None, None, repo)
    monkeypatch.setattr(stream, "CHUNK", chunk)

    def no_patches(*args: object, **kwargs: object) -> object:
        raise AssertionError("the warm audit streamed commits from git")

    def no_crypto(*args: object) -> object:
        raise AssertionError("the warm audit verified a signature again")

    before = sshsig.verify
    monkeypatch.setattr(stream, "commit_lines", no_patches)
    monkeypatch.setattr(cache, "_VERIFY", no_crypto)
    monkeypatch.setattr(stream, "walk_order", no_patches)  # the range's light rows hold its order
    result = walk.audit(None, None, None, repo)
    assert list(result.judgements) == list(cold.judgements)
    assert len(result.judgements) == 7
    assert sshsig.verify == before  # restored after the walk


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
    db.execute("DELETE FROM light_rows")  # their copy of the digests
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
    blob = signing.sign(message, people["alice"].key_path)
    assert db.verify(blob, message) == people["alice"].public
    db.flush()
    assert db.verify(blob, message) == people["alice"].public  # from the database
    with pytest.raises(sshsig.InvalidSignature):
        db.verify(blob, message + b"x")
    with pytest.raises(sshsig.InvalidSignature):
        db.verify(blob, message + b"x")  # a cached "invalid" stays invalid


def test_an_unusable_cache_file_is_ignored(tmp_path: Path, people: dict[str, f.Actor]) -> None:
    repo, uncosigned = _history_with_merges(tmp_path, people)
    _cache_file(repo).write_bytes(b"not a database at all" * 100)
    assert _codes(walk.audit(None, None, None, repo), uncosigned) == ["missing-cosign"]


# ---- cached verdicts ----------------------------------------------------------------------------


def _history_with_covers(tmp_path: Path, p: dict[str, f.Actor]) -> tuple[Path, str, str]:
    """`_history_with_merges`, then an AI-assisted critical commit approved only by the co-sign
    (with `covers`) of the merge that brings it in; returns (repo, uncosigned, covered)."""
    repo, uncosigned = _history_with_merges(tmp_path, p)
    f.git(repo, "checkout", "-qb", "t2")
    brought = f.commit(repo, p["bob"], {"payments/w.py": "w\n"}, ai=True)
    f.git(repo, "checkout", "-q", "main")
    f.commit(repo, p["bob"], {"c.txt": "c\n"})
    f.git(repo, "merge", "-q", "--no-ff", "--no-edit", "t2", who=p["bob"])
    f.amend_trailers(repo, p["bob"], cosigners=[p["alice"]],
                     covers=[digest.of_commit(brought, cwd=repo)])
    return repo, uncosigned, brought


def _poison(repo: Path) -> int:
    """Rewrite every cached verdict's evidence: a poisoned verdict in a result proves it was served."""
    db = sqlite3.connect(_cache_file(repo))
    n = 0
    for sha, key, value in db.execute("SELECT sha, key, value FROM verdicts").fetchall():
        plain = marshal.loads(value)  # cache._encode_verdict: the JSON line first
        plain[0] = plain[0].replace('"declared ', '"POISONED ')  # in the evidence
        if marshal.dumps(plain) != value:
            db.execute("UPDATE verdicts SET value = ? WHERE sha = ? AND key = ?",
                       (marshal.dumps(plain), sha, key))
            n += 1
    db.commit()
    db.close()
    return n


def _poisoned(result: walk.AuditResult) -> list[str]:
    return [j.commit for j in result.judgements if any("POISONED" in e for e in j.evidence)]


def _counting_judge(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = judge_module.judge

    def counted(record: CommitRecord, *args: Any, **kwargs: Any) -> Judgement:
        calls.append(record.sha)
        return real(record, *args, **kwargs)

    monkeypatch.setattr(walk, "judge", counted)
    monkeypatch.setattr(covers, "judge", counted)  # a covered commit judged again
    return calls


def test_a_warm_audit_judges_nothing_and_serves_the_cached_verdicts(
    tmp_path: Path, people: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _, _ = _history_with_covers(tmp_path, people)
    calls = _counting_judge(monkeypatch)
    cold = walk.audit(None, None, None, repo)
    assert len(calls) == len(cold.judgements) + 1  # + the covered commit, judged again
    calls.clear()
    assert report.to_json(walk.audit(None, None, None, repo)) == report.to_json(cold)
    assert calls == []  # not even the covered commit's second judgement
    assert _poison(repo) >= len(cold.judgements)
    served = walk.audit(None, None, None, repo)
    assert set(_poisoned(served)) == {j.commit for j in cold.judgements}
    assert calls == []


def test_cached_and_uncached_audits_agree_with_merges_and_cover_cosigns(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo, uncosigned, covered = _history_with_covers(tmp_path, people)
    uncached = walk.audit(None, None, None, repo, use_cache=False)
    assert _codes(uncached, covered) == [] and _codes(uncached, uncosigned) == ["missing-cosign"]
    (j,) = [j for j in uncached.judgements if j.commit == covered]
    assert j.cosigners == ("alice@example.com",)  # counted through the merge's covers
    expected = json.loads(report.to_json(uncached))
    assert _json(repo, use_cache=True) == expected  # cold
    assert _json(repo, use_cache=True) == expected  # warm
    new = f.commit(repo, people["carol"], {"d.txt": "d\n"})  # one new commit on a warm cache
    assert _json(repo, use_cache=True) == _json(repo, use_cache=False)
    assert new in [j.commit for j in walk.audit(None, None, None, repo).judgements]


def test_a_new_note_invalidates_every_cached_verdict(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo, uncosigned = _history_with_merges(tmp_path, people)
    walk.audit(None, None, None, repo)
    assert _poison(repo)
    change = digest.of_commit(uncosigned, cwd=repo)
    line = f.signature(people["carol"], "cosign", change, people["bob"].email)
    f.add_note(repo, uncosigned, [f"Provenance-Signature: {line}"])
    result = walk.audit(None, None, None, repo)
    assert _poisoned(result) == []
    assert _codes(result, uncosigned) == []
    assert json.loads(report.to_json(result)) == _json(repo, use_cache=False)


def test_a_key_revoked_by_a_later_commit_invalidates_the_verdicts_it_signed(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo, _ = _history_with_merges(tmp_path, people)
    first = walk.audit(None, None, None, repo)
    assert _poison(repo)
    spec = _spec(people, [TIER1])
    spec.revoked = [people["bob"].key_line()]
    f.commit(repo, people["carol"], {POLICY_FILE: spec.text()}, cosigners=[people["alice"]])
    result = walk.audit(None, None, None, repo)
    assert _poisoned(result) == []
    bobs = [j.commit for j in first.judgements if j.author == "bob@example.com"]
    assert bobs and all("revoked-key" in _codes(result, sha) for sha in bobs)
    assert json.loads(report.to_json(result)) == _json(repo, use_cache=False)


def test_another_policy_file_or_new_bytes_in_the_same_file_invalidate_cached_verdicts(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo, uncosigned = _history_with_merges(tmp_path, people)
    # With a note the walk under --policy caches verdicts (without, a scan caches none).
    root = f.git(repo, "rev-list", "--max-parents=0", "HEAD")
    line = f.signature(people["carol"], "cosign", digest.of_commit(root, cwd=repo),
                       people["alice"].email)
    f.add_note(repo, root, [f"Provenance-Signature: {line}"])
    path = tmp_path / "scan.toml"
    path.write_text(_spec(people, [TIER1]).text())
    walk.audit(None, None, str(path), repo)
    assert _poison(repo)
    assert _poisoned(walk.audit(None, None, str(path), repo))  # same file, same bytes: reused
    copy = tmp_path / "copy.toml"
    copy.write_bytes(path.read_bytes())
    assert _poisoned(walk.audit(None, None, str(copy), repo)) == []
    path.write_text(_spec(people, []).text())  # same path, no critical paths any more
    result = walk.audit(None, None, str(path), repo)
    assert _poisoned(result) == []
    assert _codes(result, uncosigned) == []


def test_another_trust_root_invalidates_cached_verdicts(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo, _ = _history_with_merges(tmp_path, people)
    walk.audit(None, None, None, repo)
    assert _poison(repo)
    root = f.git(repo, "rev-list", "--max-parents=0", "HEAD")
    assert _poisoned(walk.audit(None, root, None, repo))  # the default root, pinned: reused
    later = f.git(repo, "rev-parse", "HEAD~3")
    result = walk.audit(None, later, None, repo)
    assert _poisoned(result) == []
    assert json.loads(report.to_json(result)) == json.loads(report.to_json(
        walk.audit(None, later, None, repo, use_cache=False)))


def test_a_new_tool_version_reads_no_cached_verdict(
    tmp_path: Path, people: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = _history_with_merges(tmp_path, people)
    walk.audit(None, None, None, repo)
    assert _poison(repo)
    assert _poisoned(walk.audit(None, None, None, repo))
    monkeypatch.setattr(provenance, "__version__", provenance.__version__ + ".post1")
    result = walk.audit(None, None, None, repo)
    assert _poisoned(result) == []
    assert json.loads(report.to_json(result)) == _json(repo, use_cache=False)
    rows = sqlite3.connect(_cache_file(repo)).execute("SELECT value FROM verdicts").fetchall()
    assert rows and not any(b"POISONED" in r[0] for r in rows)  # the old version's are dropped


@pytest.mark.parametrize("changed", ["detect/fingerprints.toml", "wire/trailer_block.py", "audit/records.py"])
def test_a_change_to_any_source_or_data_file_retires_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changed: str
) -> None:
    package = Path(provenance.__file__).parent
    copy = tmp_path / "provenance"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "__file__", str(copy / "__init__.py"))
    cache._rules_fingerprint.cache_clear()
    before = cache.generation()
    assert (copy / changed).is_file()  # appending to a new file would change the hash too
    with (copy / changed).open("a") as f:
        f.write("\n# a fix\n")
    cache._rules_fingerprint.cache_clear()
    appended = cache.generation()
    data = (copy / changed).read_bytes()  # then an edit of the same size
    (copy / changed).write_bytes(data[:-2] + (b"y" if data[-2:-1] != b"y" else b"z") + data[-1:])
    cache._rules_fingerprint.cache_clear()
    try:
        assert len({before, appended, cache.generation()}) == 3
    finally:
        cache._rules_fingerprint.cache_clear()
