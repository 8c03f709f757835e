"""Squashing never launders AI: the hooks OR what is squashed (issue 14 item 11).

Bob commits with an agent (or aider, or declares yes by hand) on a branch he pushes; Dave, a
human at his own desk outside any agent, squashes it — `git merge --squash`, `rebase -i` squash
and fixup, `commit --squash` with autosquash. The result declares yes, with the sources'
`Assisted-by:`, signed by Dave and valid for the squashed change.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import Person, Repo
from desks import AGENT, commit, desk, provenance, shared_remote
from test_hooks import assert_valid_declaration, declaration_of


@pytest.fixture
def team(tmp_path: Path, people: dict[str, Person]) -> tuple[Repo, Repo]:
    """Bob's and Dave's clones of one remote."""
    remote = shared_remote(tmp_path, people)
    return desk(tmp_path, people["bob"], remote), desk(tmp_path, people["dave"], remote)


def push_branch(bob: Repo, name: str, commits: list[tuple[str, dict[str, str], dict[str, str]]]) -> None:
    """Bob commits each (message, files, env) on branch `name` and pushes it."""
    bob.git("checkout", "-q", "-b", name)
    for message, files, env in commits:
        commit(bob, message, files, env=env)
    bob.git("push", "-q", "origin", name)


AIDER = {"GIT_AUTHOR_NAME": "Bob (aider)", "GIT_COMMITTER_NAME": "Bob (aider)",
         "PROVENANCE_SKIP": "1"}  # aider commits itself; Bob's hooks never saw it
# What each kind of AI commit leaves, and the Assisted-by it must pass on.
SOURCES = {
    "claude code, hooks on": ("Add refund endpoint", AGENT, "claude-code"),
    "claude code, no hooks": ("Add refund endpoint\n\nCo-Authored-By: Claude <noreply@anthropic.com>",
                              {"PROVENANCE_SKIP": "1"}, "claude-code"),
    "aider": ("aider: add refund endpoint", AIDER, "aider"),
    "signed yes typed by hand": ("Add refund endpoint\n\nAI-Assisted: yes", {}, None),
}


def fetch(dave: Repo, branch: str) -> None:
    dave.git("fetch", "-q", "origin")
    dave.git("checkout", "-q", "main")
    assert branch in dave.git("branch", "-r")


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_merge_squash_of_an_ai_commit_declares_yes(team: tuple[Repo, Repo], kind: str) -> None:
    bob, dave = team
    message, env, assisted = SOURCES[kind]
    push_branch(bob, "feature", [(message, {"payments/refund.py": "refund = 1\n"}, env)])
    fetch(dave, "origin/feature")
    dave.git("merge", "-q", "--squash", "origin/feature")
    commit(dave, "Refund endpoint (squashed)")
    ai, got_assisted, _ = declaration_of(dave)
    assert ai == ["yes"]
    assert got_assisted == ([assisted] if assisted else [])
    assert_valid_declaration(dave)


def test_merge_squash_of_several_commits_ors_them(team: tuple[Repo, Repo]) -> None:
    bob, dave = team
    push_branch(bob, "feature", [
        ("Human part", {"lib/a.py": "a\n"}, {}),
        ("Agent part", {"lib/b.py": "b\n"}, AGENT),
        ("aider part", {"lib/c.py": "c\n"}, AIDER),
        ("Human again", {"lib/d.py": "d\n"}, {}),
    ])
    fetch(dave, "origin/feature")
    dave.git("merge", "-q", "--squash", "origin/feature")
    commit(dave, "Feature")
    assert declaration_of(dave)[:2] == (["yes"], ["aider", "claude-code"])
    assert_valid_declaration(dave)


def test_merge_squash_of_human_commits_stays_no(team: tuple[Repo, Repo]) -> None:
    bob, dave = team
    push_branch(bob, "feature", [("One", {"lib/a.py": "a\n"}, {}), ("Two", {"lib/b.py": "b\n"}, {})])
    fetch(dave, "origin/feature")
    dave.git("merge", "-q", "--squash", "origin/feature")
    commit(dave, "Feature")
    assert declaration_of(dave)[0] == ["no"]
    assert_valid_declaration(dave)


def test_merge_squash_then_rewriting_the_whole_message_in_the_editor(team: tuple[Repo, Repo]) -> None:
    """The editor shows git's squash log; Dave replaces all of it with his own words."""
    bob, dave = team
    push_branch(bob, "feature", [("Agent part", {"lib/b.py": "b\n"}, AGENT)])
    fetch(dave, "origin/feature")
    dave.git("merge", "-q", "--squash", "origin/feature")
    editor = dave.home / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "My own summary\\n" > "$1"\n')
    editor.chmod(0o755)
    dave.run("git", "commit", "-q", env={"GIT_EDITOR": str(editor)})
    assert dave.message().startswith("My own summary\n\n")
    assert declaration_of(dave)[:2] == (["yes"], ["claude-code"])
    assert_valid_declaration(dave)


def test_a_yes_declared_after_the_fact_in_a_note_survives_the_squash(team: tuple[Repo, Repo]) -> None:
    bob, dave = team
    push_branch(bob, "feature", [("Forgot to say", {"lib/b.py": "b\n"}, {})])
    provenance(bob, "declare", "HEAD", "--ai", "--assisted-by", "cursor")
    bob.git("push", "-q", "origin", "refs/notes/provenance")
    dave.git("fetch", "-q", "origin", "refs/notes/provenance:refs/notes/provenance")
    fetch(dave, "origin/feature")
    dave.git("merge", "-q", "--squash", "origin/feature")
    commit(dave, "Feature")
    assert declaration_of(dave)[:2] == (["yes"], ["cursor"])
    assert_valid_declaration(dave)


SEQUENCE_EDITOR = r'''
import json
import sys
path = sys.argv[-1]
lines = open(path).read().split("\n")
picks = [i for i, ln in enumerate(lines) if ln.startswith("pick ")]
for i in picks[1:]:
    lines[i] = "%s " + lines[i][len("pick "):]
open(path, "w").write("\n".join(lines))
'''


@pytest.mark.parametrize("verb", ["squash", "fixup"])
@pytest.mark.parametrize("order", ["human first", "agent first"])
@pytest.mark.parametrize("who", ["bob", "dave"])
def test_rebase_i_squash_and_fixup_or_the_declarations(team: tuple[Repo, Repo], verb: str,
                                                       order: str, who: str) -> None:
    """Bob's agent commit and a human one folded into one, outside any agent, by Bob himself
    (he re-signs) or by Dave (only the author re-signs: Bob's signatures stay, stale, for
    `git provenance resign`; the yes stays either way)."""
    bob, dave = team
    human = ("Human part", {"lib/a.py": "a\n"}, {})
    agent = ("Agent part", {"lib/b.py": "b\n"}, AGENT)
    push_branch(bob, "feature", [human, agent] if order == "human first" else [agent, human])
    repo = bob if who == "bob" else dave
    if who == "dave":
        fetch(dave, "origin/feature")
        dave.git("checkout", "-q", "-b", "feature", "origin/feature")
    seq = repo.home / "seq.py"
    seq.write_text(SEQUENCE_EDITOR % verb)
    repo.run("git", "rebase", "-q", "-i", "main",
             env={"GIT_SEQUENCE_EDITOR": f"{sys.executable} {seq}", "GIT_EDITOR": "true"})
    assert repo.git("rev-list", "--count", "main..HEAD").strip() == "1"
    assert repo.message().count("AI-Assisted:") == 1
    assert declaration_of(repo)[:2] == (["yes"], ["claude-code"])
    assert repo.git("log", "-1", "--format=%ae").strip() == "bob@example.com"
    if who == "bob":
        assert_valid_declaration(repo)


def test_commit_squash_then_autosquash_ors_the_declarations(team: tuple[Repo, Repo]) -> None:
    bob, dave = team
    push_branch(bob, "feature", [("Human part", {"lib/a.py": "a\n"}, {})])
    target = bob.git("rev-parse", "HEAD").strip()
    commit(bob, "ignored", {"lib/a.py": "a\nagent\n"}, env=AGENT, args=(f"--squash={target}",))
    bob.run("git", "rebase", "-q", "-i", "--autosquash", "main",
            env={"GIT_SEQUENCE_EDITOR": "true", "GIT_EDITOR": "true"})
    assert bob.git("rev-list", "--count", "main..HEAD").strip() == "1"
    assert declaration_of(bob)[:2] == (["yes"], ["claude-code"])
    assert bob.message().count("Provenance-Signature:") == 1
    assert_valid_declaration(bob)


# ---- the audit, when the squash was made without the hooks ------------------------------------


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_the_audit_reads_a_squash_body_git_wrote_without_hooks(tmp_path: Path,
                                                               people: dict[str, Person],
                                                               kind: str) -> None:
    """Dave has no hooks, keeps git's squash message (`commit --no-edit`) and then declares the
    result `no` after the fact: the squashed commits' lines, indented by git, still count."""
    remote = shared_remote(tmp_path, people)
    bob, dave = desk(tmp_path, people["bob"], remote), desk(tmp_path, people["dave"], remote, hooks=False)
    message, env, _ = SOURCES[kind]
    push_branch(bob, "feature", [(message, {"payments/refund.py": "refund = 1\n"}, env)])
    fetch(dave, "origin/feature")
    dave.git("merge", "-q", "--squash", "origin/feature")
    dave.run("git", "commit", "-q", "--no-edit")
    assert "Squashed commit of the following:" in dave.message()
    provenance(dave, "declare", "HEAD", "--no-ai")
    squash = dave.git("rev-parse", "HEAD").strip()
    doc = json.loads(provenance(dave, "audit", "--format", "json", check=False).stdout)
    judged = next(c for c in doc["commits"] if c["commit"] == squash)
    assert judged["ai_assisted"] is True
    assert {v["code"] for v in judged["violations"]} == {"undeclared-ai", "missing-cosign"}
