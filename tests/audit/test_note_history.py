"""What the notes ref's history holds that its tip does not: read in full, or grown from the
answer the cache kept for an earlier tip; the two always agree."""

from __future__ import annotations

import subprocess
from pathlib import Path

from provenance.audit import cache
from provenance.audit.notes import read_all, read_gone
from provenance.git import git

NOTES = "refs/notes/provenance"
ENV = {"GIT_AUTHOR_NAME": "n", "GIT_AUTHOR_EMAIL": "n@example.com", "GIT_COMMITTER_NAME": "n",
       "GIT_COMMITTER_EMAIL": "n@example.com", "GIT_CONFIG_NOSYSTEM": "1"}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env={**ENV, "HOME": str(repo)}, check=True,
                          capture_output=True, text=True).stdout.strip()


def _declaration(n: int, ai: str = "yes") -> str:
    return (f"Provenance-Declaration: v1 bob@example.com sha256:{n:064x} {ai} by=x "
            f"U1NIU0lH{n:08d}AAAA")


def _gone(repo: Path, db: cache.Cache | None) -> set[tuple[str, str]]:
    current = read_all(repo)
    return {(a.value + " " + " ".join(a.ai_assisted), a.note_commit)
            for a in read_gone(current, repo, db)}


def test_a_grown_notes_history_gives_what_a_full_read_gives(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    commits = []
    for i in range(6):
        _git(repo, "commit", "-q", "--allow-empty", "-m", f"c{i}")
        commits.append(_git(repo, "rev-parse", "HEAD"))
    db = cache.open_cache(git.common_dir(repo))
    assert db is not None

    def step(*args: str, text: str | None = None) -> set[tuple[str, str]]:
        if text is not None:
            _git(repo, "notes", "--ref=provenance", "add", "-f", "-m", text, *args)
        else:
            _git(repo, "notes", "--ref=provenance", *args)
        grown, full = _gone(repo, db), _gone(repo, None)
        assert grown == full, args
        assert _gone(repo, db) == full  # the stored answer for this tip
        return full

    def declared(n: int) -> str:
        return f"v1 declare bob@example.com sha256:{n:064x} U1NIU0lH{n:08d}AAAA yes"

    assert step(commits[0], text=_declaration(0)) == set()
    step(commits[1], text=_declaration(1))
    step(commits[0], text=_declaration(0) + "\nAssisted-by: appended")  # an old-style context
    assert step(commits[1], text=_declaration(1, "no")) == {(declared(1), commits[1])}
    assert (declared(0), commits[0]) in step("remove", commits[0])
    step("copy", commits[1], commits[2])
    step(commits[3], text="Provenance-Signature: v1 cosign a@example.com sha256:" + "c" * 64 + " QQ==")
    # Another clone's notes merged in (what `sync` does).
    other = tmp_path / "o"
    subprocess.run(["git", "clone", "-q", str(repo), str(other)], check=True,
                   env={**ENV, "HOME": str(tmp_path)})
    _git(other, "fetch", "-q", "origin", f"{NOTES}:{NOTES}")
    _git(other, "notes", "--ref=provenance", "add", "-f", "-m", _declaration(4), commits[4])
    _git(other, "notes", "--ref=provenance", "remove", commits[3])
    _git(repo, "fetch", "-q", str(other), f"{NOTES}:refs/notes/theirs")
    _git(repo, "notes", "--ref=provenance", "add", "-f", "-m", _declaration(5), commits[5])
    step("merge", "-s", "cat_sort_uniq", "refs/notes/theirs")
    # Rewritten without its history: nothing to read, whatever the cache kept.
    orphan = _git(repo, "commit-tree", "-m", "notes", f"{NOTES}^{{tree}}")
    _git(repo, "update-ref", NOTES, orphan)
    assert _gone(repo, db) == _gone(repo, None) == set()
    db.close()
