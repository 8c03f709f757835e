"""The post-commit correction, when HEAD cannot be re-written, is a one-line note declaration."""

from __future__ import annotations

import sys

from conftest import Person, Repo
from scenarios_support import audit, entry


def test_a_correction_in_a_note_keeps_its_values_with_its_signature(
        repo: Repo, people: dict[str, Person]) -> None:
    bob = people["bob"]
    repo.commit(bob, "Agent work", {"tools/a.py": "A = 1\n"}, env={"CLAUDECODE": "1"})
    message = repo.message()
    assert "AI-Assisted: yes" in message
    # The same message over new content, with an `encoding` header: a commit the hook must not
    # re-write, so its correction goes to a note.
    repo.write("tools/a.py", "A = 2\n")
    repo.git("add", "tools/a.py")
    tree = repo.git("write-tree").strip()
    parent = repo.git("rev-parse", "HEAD~1").strip()
    raw = (f"tree {tree}\nparent {parent}\nauthor Bob <bob@example.com> 1700000000 +0000\n"
           f"committer Bob <bob@example.com> 1700000000 +0000\nencoding ISO-8859-1\n\n{message}")
    sha = repo.run("git", "hash-object", "-t", "commit", "-w", "--stdin",
                   input=raw.encode()).stdout.decode().strip()
    repo.git("update-ref", "HEAD", sha)
    proc = repo.run(sys.executable, "-m", "provenance", "hook", "post-commit",
                    env={**repo.as_person(bob), "CLAUDECODE": "1"})
    assert b"corrected in a note" in proc.stderr
    assert repo.git("rev-parse", "HEAD").strip() == sha  # not re-written
    note = repo.git("notes", "--ref=provenance", "show", sha).splitlines()
    assert len(note) == 1 and note[0].startswith("Provenance-Declaration: v1 bob@example.com ")
    assert " yes by=claude-code" in note[0]
    _, doc = audit(repo, people["alice"])
    e = entry(doc, sha)
    # The note's valid yes supersedes the trailer's stale one.
    assert e["ai_assisted"] and e["violations"] == []
    assert "declared yes (note, signed by bob@example.com)" in e["evidence"]
