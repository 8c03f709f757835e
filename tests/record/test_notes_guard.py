"""On the server, refs/notes/provenance only grows: every way of pushing a notes ref that lacks an
attestation the server holds is refused, and leaves the server as it was; a merge goes in."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Person
from server_support import git, push, refused, senior_cosigns, serve, state
from world import NOTES, Clone, World, make_world

PAYMENTS = {"payments/refund.py": "def refund():\n    return 1\n"}


@pytest.fixture
def cosigned(tmp_path: Path, people: dict[str, Person]) -> tuple[World, Clone, str]:
    """A server whose notes hold carol's co-sign of bob's commit; carol's clone has the notes."""
    world = make_world(tmp_path, people)
    serve(world)
    bob = world.clone("bob")
    sha = bob.commit("Add refunds", PAYMENTS, agent=True)
    assert push(bob, "HEAD:refs/heads/review/refunds").returncode == 0
    carol = senior_cosigns(world, "carol", sha, sync=True)
    return world, carol, sha


def notes(clone: Clone, *args: str) -> None:
    clone.git("notes", f"--ref={NOTES}", *args)


def rewrite_without_history(clone: Clone) -> None:
    """The same notes, in a commit that does not descend from the server's."""
    tree = clone.git("rev-parse", f"{NOTES}^{{tree}}")
    clone.git("update-ref", NOTES, clone.git("commit-tree", tree, "-m", "Notes, rebuilt"))


@pytest.mark.parametrize("how", ["remove", "edit", "move", "rebuild", "delete"])
def test_a_notes_push_that_loses_an_attestation_is_refused(
        cosigned: tuple[World, Clone, str], how: str) -> None:
    world, carol, sha = cosigned
    before = state(world.origin)
    line = carol.git("notes", f"--ref={NOTES}", "show", sha)
    if how == "remove":
        notes(carol, "remove", sha)
    elif how == "edit":
        notes(carol, "add", "-f", "-m", "Provenance-Signature: cosign carol@example.com x y", sha)
    elif how == "move":
        notes(carol, "copy", sha, "origin/main")
        notes(carol, "remove", sha)
    elif how == "rebuild":
        rewrite_without_history(carol)
    refspec = f":{NOTES}" if how == "delete" else f"+{NOTES}"
    out = refused(push(carol, refspec), NOTES)
    if how in ("remove", "edit", "move"):
        assert "drops 1 attestation line(s) that the server holds" in out
        assert f"on {sha[:12]}: {line[:40]}" in out
    elif how == "rebuild":
        assert "is not a fast-forward" in out
    else:
        assert "would drop every co-sign and declaration" in out
    assert "never force-push refs/notes/provenance" in out
    assert state(world.origin) == before


def test_a_notes_merge_keeps_every_line_and_goes_in(cosigned: tuple[World, Clone, str]) -> None:
    world, _, sha = cosigned
    alice = senior_cosigns(world, "alice", sha, sync=True)  # fetch, cat_sort_uniq merge, push
    held = git(world.origin, "notes", f"--ref={NOTES}", "show", sha)
    assert "carol@example.com" in held and "alice@example.com" in held
    assert git(world.origin, "rev-parse", NOTES) == alice.git("rev-parse", NOTES)
