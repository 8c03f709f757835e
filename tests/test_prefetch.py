"""Signatures checked in a worker process a window ahead of the judge: the same verdicts, sooner."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import factory as f
import pytest

from provenance import cache, digest, sshsig
from provenance.audit import prefetch, report, walk
from provenance.policy import POLICY_FILE

TIER1 = {"name": "tier-1", "paths": ["payments/**"]}


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, list[str]]:
    """Declarations and co-signs in trailers and notes, a forgery, a stale co-sign, a co-signed
    policy change and a merge whose co-sign covers what it brings in."""
    p = f.cast(tmp_path)
    spec = f.PolicySpec(people=[(p["alice"], ["senior"]), (p["bob"], []), (p["carol"], ["senior"])],
                        rules=[TIER1])
    repo = f.init(tmp_path / "repo")
    f.commit(repo, p["alice"], {POLICY_FILE: spec.text(), "README": "hi\n"})
    shas = [f.commit(repo, p["bob"], {"payments/a.py": "a\n"}, ai=True, cosigners=[p["alice"]])]
    shas.append(f.commit(repo, p["bob"], {"payments/b.py": "b\n"}, ai=True))
    f.add_note(repo, shas[-1], ["Provenance-Signature: " + f.signature(
        p["carol"], "cosign", digest.of_commit(shas[-1], cwd=repo), p["bob"].email)])
    shas.append(f.commit(repo, p["bob"], {"payments/c.py": "c\n"}, ai=True,
                         cosigners=[p["mallory"]]))  # a key the policy does not know
    stale = f.commit(repo, p["bob"], {"payments/d.py": "d\n"}, ai=True, cosigners=[p["alice"]])
    f.write(repo, {"payments/d.py": "changed after the co-sign\n"})
    f.git(repo, "add", "-A")
    f.git(repo, "commit", "-q", "--amend", "--no-verify", "--no-edit")
    shas.append(f.git(repo, "rev-parse", "HEAD"))
    assert shas[-1] != stale
    spec.rules.append({"name": "docs", "paths": ["docs/**"]})
    shas.append(f.commit(repo, p["alice"], {POLICY_FILE: spec.text()}, cosigners=[p["carol"]]))
    f.git(repo, "checkout", "-qb", "side")
    brought = f.commit(repo, p["bob"], {"payments/e.py": "e\n"}, ai=True)
    f.git(repo, "checkout", "-q", "main")
    shas.append(f.merge(repo, p["bob"], "side", cosigners=[p["alice"]],
                        covers=[digest.of_commit(brought, cwd=repo)]))
    return repo, [*shas, brought]


def _one_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefetch, "_cpus", lambda: 1)


@pytest.fixture(autouse=True)
def _worker_from_the_first_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefetch, "START_AFTER", 0)  # real audits start it after 2,000 commits
    monkeypatch.setattr(prefetch, "_cpus", lambda: 2)


def test_the_verdicts_with_the_worker_are_the_verdicts_without_it(
    history: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = history
    asked: list[bool] = []
    original = prefetch.Prefetcher.verify

    def counting(self: prefetch.Prefetcher, blob: bytes, message: bytes,
                 namespace: str = sshsig.NAMESPACE) -> sshsig.PublicKey:
        asked.append((blob, message) in self._pending or (blob, message) in self._answers)
        return original(self, blob, message, namespace)

    monkeypatch.setattr(prefetch.Prefetcher, "verify", counting)
    before = sshsig.verify
    with_worker = report.to_json(walk.audit(None, None, None, repo, use_cache=False))
    assert sshsig.verify is before  # put back after the walk
    assert any(asked) and asked.count(True) >= len(asked) - 2  # guesses miss only the merge
    _one_cpu(monkeypatch)
    assert report.to_json(walk.audit(None, None, None, repo, use_cache=False)) == with_worker
    codes = {v["code"] for c in json.loads(with_worker)["commits"]
             for v in c["violations"]}
    assert {"unknown-key", "stale-signature"} <= codes


def test_a_cache_learns_what_the_worker_checked(history: tuple[Path, list[str]],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    repo, shas = history
    cold = report.to_json(walk.audit(None, None, None, repo))
    db = cache.open_cache(repo / ".git")
    assert db is not None
    checked = []
    for sha in shas:
        message = f.git(repo, "log", "-1", "--format=%B", sha)
        for line in message.splitlines():
            if line.startswith("Provenance-Signature: v1 declare "):
                checked.append(line.split()[-1])
    assert checked
    learned = db._db.execute("SELECT COUNT(*) FROM memo").fetchone()[0]
    db.close()
    assert learned >= len(checked)
    _one_cpu(monkeypatch)
    calls: list[bytes] = []
    real = sshsig.verify

    def counted(blob: bytes, message: bytes, namespace: str = sshsig.NAMESPACE) -> sshsig.PublicKey:
        calls.append(blob)
        return real(blob, message, namespace)

    monkeypatch.setattr(cache, "_VERIFY", counted)
    (repo.parent / "more").mkdir()
    p = f.cast(repo.parent / "more")
    extra = f.signature(p["carol"], "cosign", digest.of_commit(shas[0], cwd=repo), "bob@example.com")
    f.add_note(repo, shas[0], ["Provenance-Signature: " + extra])  # new notes: every verdict misses
    again = walk.audit(None, None, None, repo)
    assert len(calls) == 1  # the new note's signature; the others the worker taught the cache
    assert len(again.judgements) == len(json.loads(cold)["commits"])


def test_a_worker_that_cannot_start_leaves_the_checks_to_the_walk(
    history: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = history
    expected = report.to_json(walk.audit(None, None, None, repo, use_cache=False))
    monkeypatch.setattr(prefetch.sys, "executable", str(repo / "no-such-python"))
    assert report.to_json(walk.audit(None, None, None, repo, use_cache=False)) == expected


def test_the_worker_answers_each_batch_in_order(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    alice = f.actor(keys, "Alice", "alice@example.com")
    good = (sshsig.sign(b"statement", alice.key_path), b"statement")
    bad = (good[0], b"another statement")
    source = io.BytesIO(pickle.dumps([good, bad]) + pickle.dumps([bad]))
    sink = io.BytesIO()
    prefetch.serve(source, sink)
    sink.seek(0)
    first, second = pickle.load(sink), pickle.load(sink)
    key = sshsig.public_key_of(alice.key_path)
    assert first[0] == (key.algorithm, key.blob)
    assert isinstance(first[1], str) and first[1] == second[0]
