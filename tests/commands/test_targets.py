"""What `cosign` signs (commands/targets.py): only what the senior reviews, and only where her
co-sign changes something. A range leaves out the commits a protected branch already holds (a
"sync with main" merge brings them in; she never saw them), her own commits, and commits whose
co-sign the audit does not need; each is named with the reason. Real clones of one bare remote.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Person, policy_text
from test_workflow import Clone, make_world, violations


def noted(clone: Clone) -> set[str]:
    """The commits that carry a provenance note in this clone."""
    listed = clone.run("git", "notes", "--ref=provenance", "list", check=False).stdout
    return {line.split()[1] for line in listed.splitlines()}


@pytest.mark.parametrize("protected", ["main", "release/1.0"])
def test_a_range_cosign_leaves_out_what_a_sync_merge_brings_in_from_a_protected_branch(
    tmp_path: Path, people: dict[str, Person], protected: str,
) -> None:
    extra = '[enforcement]\nprotected-branches = ["main", "release/*"]\n'
    world = make_world(tmp_path, people,
                       policy_text(people, extra=extra if protected != "main" else ""))
    alice, bob, dave = world.clone("alice"), world.clone("bob"), world.clone("dave")
    if protected != "main":
        dave.git("push", "-q", "origin", f"main:refs/heads/{protected}")
        dave.git("switch", "-q", "-c", protected, "--track", f"origin/{protected}")
    # An unreviewed AI change lands on the protected branch, its gate bypassed.
    unreviewed = dave.commit("Raise the refund cap", {"payments/cap.py": "cap = 9\n"}, agent=True)
    dave.run("git", "push", "-q", "origin", protected, env={"PROVENANCE_SKIP": "1"})

    bob.git("switch", "-q", "-c", "feature")
    mine = bob.commit("Add refunds", {"payments/refund.py": "x = 1\n"}, agent=True)
    bob.git("fetch", "-q")
    bob.git("merge", "-q", "--no-edit", f"origin/{protected}")  # "sync with main"
    synced = bob.git("rev-parse", "HEAD")
    assert bob.push("feature").returncode == 0

    alice.git("fetch", "-q")  # her own main is stale: main..origin/feature holds dave's commit
    shown = alice.cli("review", "main..origin/feature", input="n\n")
    listing, asked, _ = shown.stdout.partition(f"Co-sign {mine[:12]}?")
    assert asked and "1 change(s) wait for your co-sign" in listing and mine[:12] in listing
    assert unreviewed[:12] not in shown.stdout
    assert "left out 1 commit(s) already on a protected branch" in shown.stderr
    assert unreviewed[:12] in shown.stderr

    signed = alice.cli("cosign", "main..origin/feature")
    assert (f"skipped {unreviewed[:12]}: already on a protected branch: name it on its own to "
            "co-sign it") in signed.stdout
    assert f"skipped {synced[:12]}: needs no co-sign from you" in signed.stdout
    assert f"co-signed {mine[:12]}" in signed.stdout
    assert noted(alice) == {mine}
    # Named on its own, the merge is signed, but its co-sign covers none of what it brings in.
    forced = alice.cli("cosign", "--force", synced)
    assert (f"{synced[:12]} brings in 1 commit(s) already on a protected branch: co-signed "
            "without covering what it brings in") in forced.stdout
    alice.cli("sync")
    bob.cli("sync")
    assert violations(bob) == {unreviewed: ["missing-cosign"]}


def test_cosign_refuses_your_own_commit_and_says_when_a_cosign_changes_nothing(
    tmp_path: Path, people: dict[str, Person],
) -> None:
    world = make_world(tmp_path, people)
    bob = world.clone("bob")
    by_hand = bob.commit("Refunds by hand", {"payments/a.py": "a = 1\n"})
    docs = bob.commit("Docs by an agent", {"docs/guide.md": "hi\n"}, agent=True)
    ai = bob.commit("Refunds by an agent", {"payments/b.py": "b = 1\n"}, agent=True)
    policy = (bob.path / ".provenance.toml").read_text().replace(
        '"checkout/**"', '"checkout/**", "refunds/**"')
    widened = bob.commit("Protect refunds too", {".provenance.toml": policy})
    assert bob.push("HEAD:refs/heads/feature").returncode == 0
    alice = world.clone("alice")

    own = bob.cli("cosign", "--force", ai, check=False)
    assert own.returncode == 2
    assert "your own commit: the audit never counts its author's co-sign" in own.stderr
    for sha, why in [(by_hand, "it is not AI-assisted"), (docs, "it touches no critical path")]:
        said = alice.cli("cosign", sha).stdout  # not an error: nothing is wrong, nothing signed
        assert f"skipped {sha[:12]}: needs no co-sign from you: {why}" in said
        assert "(--force co-signs it anyway)" in said and "nothing to co-sign" in said
    assert noted(alice) == set()

    alice.cli("cosign", ai)
    again = alice.cli("cosign", ai).stdout
    assert "it already has enough co-signs (alice@example.com)" in again
    # A policy change needs its co-sign even when no agent wrote it.
    assert f"co-signed {widened[:12]}" in alice.cli("cosign", widened).stdout
    assert f"co-signed {by_hand[:12]}" in alice.cli("cosign", "--force", by_hand).stdout
    assert noted(alice) == {ai, widened, by_hand}

    ranged = alice.cli("cosign", "origin/main..origin/feature").stdout
    assert f"skipped {docs[:12]}: needs no co-sign from you: it touches no critical path" in ranged
    assert f"skipped {ai[:12]}: needs no co-sign from you: it already has enough" in ranged
    assert "nothing to co-sign" in ranged
    assert violations(alice, "origin/feature") == {}
