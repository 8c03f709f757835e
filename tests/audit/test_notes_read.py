"""The attestations of the notes ref, read whole or from the cache: the notes commit read last is
kept, another one costs only the notes that differ from it, and both reads always agree."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from provenance.audit import cache
from provenance.audit.notes import read_all
from provenance.audit.records import NoteAttestation
from provenance.git import git

NOTES = "refs/notes/provenance"
ENV = {"GIT_AUTHOR_NAME": "n", "GIT_AUTHOR_EMAIL": "n@example.com", "GIT_COMMITTER_NAME": "n",
       "GIT_COMMITTER_EMAIL": "n@example.com", "GIT_CONFIG_NOSYSTEM": "1"}


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=repo, env={**ENV, "HOME": str(repo), **(env or {})},
                          check=True, capture_output=True, text=True).stdout.strip()


def _cosign(n: int) -> str:
    return f"Provenance-Signature: v1 cosign a@example.com sha256:{n:064x} U1NIU0lH{n:08d}"


def _declaration(n: int, ai: str = "yes") -> str:
    return (f"Provenance-Declaration: v1 bob@example.com sha256:{n:064x} {ai} by=x "
            f"U1NIU0lH{n:08d}AAAA")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    for i in range(6):
        _git(repo, "commit", "-q", "--allow-empty", "-m", f"c{i}")
    return repo


def _commits(repo: Path) -> list[str]:
    return _git(repo, "rev-list", "--reverse", "HEAD").split()


def _agrees(repo: Path, db: cache.Cache | None) -> list[NoteAttestation]:
    full = read_all(repo)
    assert read_all(repo, db=db) == full  # from what the cache kept for the tip read before
    assert read_all(repo, db=db) == full  # the tip's own entry
    return full


def test_every_kind_of_notes_change_reads_as_a_full_read(repo: Path, tmp_path: Path) -> None:
    c = _commits(repo)
    db = cache.open_cache(git.common_dir(repo))
    assert read_all(repo, db=db) == []  # no notes ref yet

    def note(commit: str, *lines: str) -> list[NoteAttestation]:
        _git(repo, "notes", "--ref=provenance", "add", "-f", "-m", "\n".join(lines), commit)
        return _agrees(repo, db)

    note(c[0], _declaration(0))
    found = note(c[1], _cosign(1), "AI-Assisted: yes", _cosign(2))  # two lines, read in order
    assert [a.value.split()[3] for a in found if a.note_commit == c[1]] == [
        f"sha256:{1:064x}", f"sha256:{2:064x}"]
    note(c[0], _declaration(0, "no"))  # edited
    _git(repo, "notes", "--ref=provenance", "remove", c[0])
    assert all(a.note_commit != c[0] for a in _agrees(repo, db))
    _git(repo, "notes", "--ref=provenance", "copy", c[1], c[2])
    _agrees(repo, db)
    # Another clone's notes merged in (what `sync` does).
    other = tmp_path / "o"
    subprocess.run(["git", "clone", "-q", str(repo), str(other)], check=True,
                   env={**ENV, "HOME": str(tmp_path)})
    _git(other, "fetch", "-q", "origin", f"{NOTES}:{NOTES}")
    _git(other, "notes", "--ref=provenance", "add", "-f", "-m", _cosign(4), c[4])
    _git(other, "notes", "--ref=provenance", "remove", c[2])
    _git(repo, "fetch", "-q", str(other), f"{NOTES}:refs/notes/theirs")
    note(c[5], _cosign(5))
    _git(repo, "notes", "--ref=provenance", "merge", "-s", "cat_sort_uniq", "refs/notes/theirs")
    _agrees(repo, db)
    # Rewritten to a tree of its own, not grown from the one read last.
    _git(repo, "update-ref", NOTES, _git(repo, "commit-tree", "-m", "n", _tree(repo, {
        c[3]: _cosign(3)})))
    assert [a.note_commit for a in _agrees(repo, db)] == [c[3]]
    db.close()


def _tree(repo: Path, notes: dict[str, str], fanout: Sequence[str] = ()) -> str:
    """A notes tree; the notes on `fanout` at `ab/cdef…`, as git writes them once notes are many."""
    index = repo / ".git" / "scratch-index"
    env = {"GIT_INDEX_FILE": str(index)}
    index.unlink(missing_ok=True)
    for commit, text in notes.items():
        blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=text + "\n",
                              capture_output=True, text=True, check=True).stdout.strip()
        path = f"{commit[:2]}/{commit[2:]}" if commit in fanout else commit
        _git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
    return _git(repo, "write-tree", env=env)


def test_a_fan_out_rewrite_moves_every_note_and_reads_the_same(repo: Path) -> None:
    c = _commits(repo)
    db = cache.open_cache(git.common_dir(repo))
    notes = {sha: _cosign(i) for i, sha in enumerate(c)}
    flat = _git(repo, "commit-tree", "-m", "n", _tree(repo, notes))
    _git(repo, "update-ref", NOTES, flat)
    before = _agrees(repo, db)
    fanned = _git(repo, "commit-tree", "-p", flat, "-m", "n", _tree(repo, notes, fanout=c[::2]))
    _git(repo, "update-ref", NOTES, fanned)
    assert _agrees(repo, db) == before
    db.close()


def _blob_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The blob ids read from now on (until the patch is undone), in order."""
    asked: list[str] = []
    real = git.read_blobs

    def counted(ids: Sequence[str], **kwargs: object) -> dict[str, bytes]:
        asked.extend(ids)
        return real(ids, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(git, "read_blobs", counted)
    return asked


def test_a_push_pays_for_the_notes_it_changes_only(repo: Path, monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    c = _commits(repo)
    db = cache.open_cache(git.common_dir(repo))
    for i, sha in enumerate(c[:4]):
        _git(repo, "notes", "--ref=provenance", "add", "-m", _cosign(i), sha)
    read_all(repo, db=db)
    _git(repo, "notes", "--ref=provenance", "add", "-m", _cosign(9), c[5])
    asked = _blob_reads(monkeypatch)
    grown = read_all(repo, db=db)
    assert asked == [_git(repo, "rev-parse", f"{NOTES}:{c[5]}")]
    asked.clear()
    assert read_all(repo, db=db) == grown and asked == []
    monkeypatch.undo()
    assert grown == read_all(repo)
    db.close()


def test_a_tip_read_last_whose_objects_are_gone_is_read_whole(repo: Path) -> None:
    """A server caches the notes of a push it then refuses: the quarantined objects vanish."""
    c = _commits(repo)
    db = cache.open_cache(git.common_dir(repo))
    _git(repo, "notes", "--ref=provenance", "add", "-m", _cosign(0), c[0])
    kept = _git(repo, "rev-parse", NOTES)
    _git(repo, "notes", "--ref=provenance", "add", "-m", _cosign(1), c[1])
    read_all(repo, db=db)  # the cache now holds this tip, which is about to vanish
    _git(repo, "update-ref", NOTES, kept)
    _git(repo, "reflog", "expire", "--expire=now", "--all")
    _git(repo, "gc", "-q", "--prune=now")
    _git(repo, "notes", "--ref=provenance", "add", "-m", _cosign(2), c[2])
    assert [a.note_commit for a in _agrees(repo, db)] == sorted([c[0], c[2]])
    db.close()


def test_the_first_audit_keeps_the_notes_it_read_so_the_next_reads_none(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No cache yet (a fresh clone, or `install` settling the upstream): the audit creates it before
    # reading the notes, so the next audit (the first push) does not read every note again.
    from provenance.audit import walk

    (repo / ".provenance.toml").write_text('version = 1\n')
    _git(repo, "add", ".provenance.toml")
    _git(repo, "commit", "-q", "-m", "policy")
    for i, sha in enumerate(_commits(repo)[:3]):
        _git(repo, "notes", "--ref=provenance", "add", "-m", _cosign(i), sha)
    assert not (git.common_dir(repo) / cache.FILE_NAME).exists()
    walk.audit(None, None, None, repo)
    asked = _blob_reads(monkeypatch)
    walk.audit(None, None, None, repo)
    assert not [i for i in asked if i in _git(repo, "ls-tree", "-r", NOTES)]
