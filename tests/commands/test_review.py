"""`review` (commands/review.py) as a senior meets it: without a range it covers what waits on
remote branches, and a missing key is said before the first question. Real clones of one remote.
"""

from __future__ import annotations

from pathlib import Path

from conftest import Person
from test_targets import noted
from test_workflow import make_world


def test_review_without_a_range_covers_what_waits_on_remote_branches(
    tmp_path: Path, people: dict[str, Person],
) -> None:
    world = make_world(tmp_path, people)
    alice, bob = world.clone("alice"), world.clone("bob")
    bob.git("switch", "-q", "-c", "feature/refunds")
    waiting = bob.commit("Add refunds", {"payments/refund.py": "x = 1\n"}, agent=True)
    assert bob.push("feature/refunds").returncode == 0

    alice.git("fetch", "-q")  # she stays on main: the change is on no branch of hers
    asked = alice.cli("review", input="n\n")
    assert f"Co-sign {waiting[:12]}?" in asked.stdout
    assert "reviewing remote branches and HEAD" in asked.stderr
    assert f"co-signed {waiting[:12]}" in alice.cli("review", "--yes").stdout
    assert alice.cli("review").stdout.strip() == "nothing needs your co-sign"
    assert noted(alice) == {waiting}


def test_review_reports_a_missing_signing_key_before_the_first_question(
    tmp_path: Path, people: dict[str, Person],
) -> None:
    world = make_world(tmp_path, people)
    alice, bob = world.clone("alice"), world.clone("bob")
    waiting = bob.commit("Add refunds", {"payments/refund.py": "x = 1\n"}, agent=True)
    assert bob.push("HEAD:refs/heads/feature").returncode == 0
    alice.git("fetch", "-q")
    alice.git("config", "--unset", "provenance.signingKey")

    stopped = alice.cli("review", "origin/feature", input="y\n", check=False)
    assert stopped.returncode == 2
    assert "Co-sign" not in stopped.stdout and waiting[:12] not in stopped.stdout
    assert "git-provenance: error: no signing key: run `git provenance keygen`" in stopped.stderr
