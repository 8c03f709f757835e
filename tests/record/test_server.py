"""The server's pre-receive hook, through real pushes into a real bare repository (file:// and
`git daemon`): what goes into a protected branch is judged where `--no-verify` cannot skip it,
protected history is never rewritten, and a refused push leaves the server exactly as it was."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Person, policy_text
from server_support import daemon, git, push, refused, senior_cosigns, serve, state
from world import NOTES, Clone, World, make_world

PAYMENTS = {"payments/refund.py": "def refund():\n    return 1\n"}


@pytest.fixture
def served(tmp_path: Path, people: dict[str, Person]) -> World:
    """The team's server with the hook installed, pushed to as a path (file://)."""
    world = make_world(tmp_path, people)
    serve(world)
    return world


@pytest.fixture(params=["file", "git-daemon"])
def reached(request: pytest.FixtureRequest, tmp_path: Path, people: dict[str, Person]
            ) -> Iterator[World]:
    """The same server, reached by file:// and by git:// (`git daemon`)."""
    world = make_world(tmp_path, people)
    serve(world)
    if request.param == "file":
        yield world
        return
    with daemon(world) as url:
        yield World(world.root, world.origin, world.people, {**world.env, "PROVENANCE_URL": url})


def clone(world: World, name: str) -> Clone:
    c = world.clone(name)
    url = world.env.get("PROVENANCE_URL")
    if url:
        c.git("remote", "set-url", "origin", url)
    return c


def test_an_uncosigned_ai_change_is_refused_on_main_names_commit_and_fix_and_goes_to_a_branch(
        reached: World) -> None:
    served = reached
    bob = clone(served, "bob")
    sha = bob.commit("Add refunds", PAYMENTS, agent=True)
    before = state(served.origin)

    out = refused(push(bob, "main"), "refs/heads/main")
    assert f"{sha} missing-cosign:" in out
    assert f"git provenance cosign {sha[:12]}" in out  # the audit's own fix
    assert f"git push origin {sha}:refs/heads/review/main" in out
    assert state(served.origin) == before

    assert push(bob, "HEAD:refs/heads/feature").returncode == 0  # any other branch takes it
    assert state(served.origin) != before


def test_a_push_with_a_refused_ref_moves_none_of_its_refs(served: World) -> None:
    bob = clone(served, "bob")
    bob.commit("Add refunds", PAYMENTS, agent=True)
    before = state(served.origin)
    out = refused(push(bob, "main", "HEAD:refs/heads/feature", "HEAD:refs/tags/v1"),
                  "refs/heads/main")
    assert "no ref of it moved" in out
    assert state(served.origin) == before


def test_a_cosign_synced_before_the_push_lets_it_in(served: World) -> None:
    bob = clone(served, "bob")
    sha = bob.commit("Add refunds", PAYMENTS, agent=True)
    assert push(bob, "HEAD:refs/heads/review/refunds").returncode == 0
    senior_cosigns(served, "carol", sha, sync=True)
    before = state(served.origin)
    assert push(bob, "main").returncode == 0  # bob never fetched the notes: the server has them
    # The accepted push added its objects and nothing else: the hook wrote none.
    assert set(state(served.origin).objects.split()) == set(before.objects.split())


def test_a_seniors_cosign_pushed_with_the_commit_lets_it_in(reached: World) -> None:
    bob = clone(reached, "bob")
    sha = bob.commit("Add refunds", PAYMENTS, agent=True)
    assert push(bob, "HEAD:refs/heads/review/refunds").returncode == 0
    carol = senior_cosigns(reached, "carol", sha, sync=False)
    url = reached.env.get("PROVENANCE_URL")
    if url:
        carol.git("remote", "set-url", "origin", url)
    assert git(reached.origin, "for-each-ref", NOTES) == ""  # the server has no notes yet
    out = push(carol, f"{sha}:refs/heads/main", NOTES)
    assert out.returncode == 0, out.stderr
    assert git(reached.origin, "rev-parse", "main") == sha


def test_the_authors_own_cosign_pushed_with_the_commit_is_refused(served: World) -> None:
    alice = clone(served, "alice")  # a senior, co-signing her own AI-assisted change
    sha = alice.commit("Add refunds", PAYMENTS, agent=True)
    # `git provenance cosign` refuses one's own commit: what it would have signed, made by hand.
    alice.run(sys.executable, "-c", "from provenance.commands import cosign as c; "
              f"c.store_as_note(c.build_cosign('{sha}'))")
    assert alice.git("notes", f"--ref={NOTES}", "show", sha)
    before = state(served.origin)
    out = refused(push(alice, "main", NOTES), "refs/heads/main")
    assert f"{sha} missing-cosign:" in out and "0 of 1 co-sign(s)" in out
    assert state(served.origin) == before  # neither main nor the notes moved


def test_an_undeclared_commit_is_refused_on_main(served: World) -> None:
    bob = clone(served, "bob")
    sha = bob.commit("Tidy", {"lib/util.py": "x = 1\n"}, env={"PROVENANCE_SKIP": "1"})
    before = state(served.origin)
    assert f"{sha} missing-declaration:" in refused(push(bob, "main"), "refs/heads/main")
    assert state(served.origin) == before


@pytest.mark.parametrize("how", ["force-push", "delete", "force-push-ancestor"])
def test_protected_history_is_never_rewritten_or_deleted(served: World, how: str) -> None:
    alice = clone(served, "alice")
    alice.commit("Document", {"README": "one\n"})
    alice.commit("Document more", {"README": "two\n"})
    assert push(alice, "main").returncode == 0
    before = state(served.origin)
    if how == "delete":
        proc = push(alice, ":refs/heads/main")
        assert "main is a protected branch: it cannot be deleted here" in refused(
            proc, "refs/heads/main")
    else:
        if how == "force-push":
            alice.git("commit", "-q", "--amend", "-m", "Document more, reworded")
        else:
            alice.git("reset", "-q", "--hard", "HEAD~1")  # drops a judged commit
        out = refused(push(alice, "+HEAD:main"), "refs/heads/main")
        assert "is not a fast-forward" in out
    assert state(served.origin) == before


def test_other_refs_pass_untouched_whatever_their_commits(served: World) -> None:
    bob = clone(served, "bob")
    bob.commit("Add refunds", PAYMENTS, agent=True)
    for refspec in ("HEAD:refs/heads/feature", "HEAD:refs/tags/v1", "HEAD:refs/review/1"):
        assert push(bob, refspec).returncode == 0, refspec
    bob.commit("More refunds", {"payments/refund.py": "x = 2\n"}, agent=True)
    assert push(bob, "+HEAD~2:refs/heads/feature").returncode == 0  # rewound: not protected
    assert push(bob, ":refs/heads/feature").returncode == 0


def test_the_policy_at_the_branch_tip_names_the_protected_branches(
        tmp_path: Path, people: dict[str, Person]) -> None:
    world = make_world(tmp_path, people, policy_text(
        people, extra='[enforcement]\nprotected-branches = ["main", "release/*"]\n'))
    serve(world)
    bob = world.clone("bob")
    sha = bob.commit("Add refunds", PAYMENTS, agent=True)
    assert push(bob, "HEAD:refs/heads/topic").returncode == 0
    # Creating a protected branch judges what no protected branch holds yet, wherever it was.
    out = refused(push(bob, "HEAD:refs/heads/release/1"), "refs/heads/release/1")
    assert f"{sha} missing-cosign:" in out
    assert push(bob, "origin/main:refs/heads/release/0").returncode == 0  # all judged on main


def test_a_protected_branch_created_on_an_empty_server_is_judged_from_the_trust_root(
        tmp_path: Path, people: dict[str, Person]) -> None:
    world = make_world(tmp_path, people)
    serve(world)
    bob = world.clone("bob")
    sha = bob.commit("Add refunds", PAYMENTS, agent=True)
    assert push(bob, "HEAD:refs/heads/topic").returncode == 0
    assert push(bob, ":refs/heads/main").returncode != 0
    # master is protected by default, and no protected branch holds bob's commit.
    assert f"{sha} missing-cosign:" in refused(push(bob, "HEAD:refs/heads/master"),
                                               "refs/heads/master")


def test_without_a_trust_root_nothing_goes_into_a_protected_branch(served: World) -> None:
    git(served.origin, "config", "--unset", "provenance.trustRoot")
    alice = clone(served, "alice")
    alice.commit("Document", {"README": "one\n"})
    out = refused(push(alice, "main"), "refs/heads/main")
    assert "git config provenance.trustRoot COMMIT" in out
    assert push(alice, "HEAD:refs/heads/feature").returncode == 0


def test_the_notes_ref_is_judged_by_its_own_rule_not_the_branch_rule(served: World) -> None:
    bob = clone(served, "bob")
    sha = bob.commit("Add refunds", PAYMENTS, agent=True)
    assert push(bob, "HEAD:refs/heads/review/refunds").returncode == 0
    carol = senior_cosigns(served, "carol", sha, sync=False)
    assert push(carol, NOTES).returncode == 0  # a new notes ref: nothing to drop


def test_a_pushed_merge_is_judged_and_the_accepted_push_adds_only_its_own_objects(
        served: World) -> None:
    """The audit recomputes git's automatic merge (it writes trees): never into the quarantine."""
    alice = clone(served, "alice")
    alice.commit("Document", {"README": "one\n"})
    alice.git("checkout", "-q", "-b", "side", "HEAD~1")
    alice.commit("Notes", {"NOTES": "two\n"})
    alice.git("checkout", "-q", "main")
    alice.git("merge", "-q", "--no-edit", "side")
    pushed = {line.split()[0] for line in
              alice.git("rev-list", "--objects", "main", "^origin/main").splitlines()}
    before = state(served.origin)
    out = push(alice, "main")
    assert out.returncode == 0, out.stderr
    added = set(state(served.origin).objects.split()) - set(before.objects.split())
    assert added and added <= pushed
