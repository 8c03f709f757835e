"""The co-sign workflow end to end: a bare repository on disk is the remote, each person works in a
clone of their own (hooks installed with `python -m provenance install`, their identity and key in
that clone's git config), and notes travel only through `git provenance sync`.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import Person, policy_text
from world import NOTES, Clone, World, make_world


@pytest.fixture
def world(tmp_path: Path, people: dict[str, Person]) -> World:
    return make_world(tmp_path, people)


def violations(clone: Clone, *args: str) -> dict[str, list[str]]:
    """`audit --format json` in `clone`: violation codes by commit (only commits that have some)."""
    proc = clone.audit("--format", "json", *args)
    doc = json.loads(proc.stdout)
    found = {c["commit"]: sorted(v["code"] for v in c["violations"]) for c in doc["commits"]}
    out = {sha: found_codes for sha, found_codes in found.items() if found_codes}
    assert proc.returncode == (1 if out else 0), proc.stderr
    return out


def fresh_audit(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    """What CI sees: a new clone that fetches the notes explicitly, then audits."""
    ci = world.clone("dave", directory=f"ci-{len(list(world.root.glob('ci-*')))}",
                     hooks=False)
    ci.git("fetch", "-q", "origin", f"{NOTES}:{NOTES}")
    return ci.audit(*args)


def test_a_stopped_push_passes_once_a_senior_reviews_cosigns_and_both_sync(world: World) -> None:
    bob = world.clone("bob")
    first = bob.commit("Add refunds", {"payments/refund.py": "def refund():\n    return 1\n"}, agent=True)
    second = bob.commit("Add checkout", {"checkout/cart.py": "items = []\n"}, agent=True)

    stopped = bob.push("main")
    assert stopped.returncode != 0
    assert "push to main stopped: 2 commit(s) fail the audit" in stopped.stderr
    assert f"git provenance cosign {first}   # run by a senior who is not the author" in stopped.stderr
    assert f"git provenance cosign {second}" in stopped.stderr
    assert "git provenance sync origin" in stopped.stderr
    assert bob.git("ls-remote", "origin", "refs/heads/main").split()[0] != second
    shared = bob.push("HEAD:refs/heads/feature/refunds")
    assert shared.returncode == 0 and "warning" in shared.stderr  # not protected: warned, pushed

    alice = world.clone("alice")
    declined = alice.cli("review", "origin/feature/refunds", input="n\nn\n")
    assert declined.stdout.count("Co-sign ") == 2
    assert "written by: Bob <bob@example.com>" in declined.stdout
    assert "agent:      claude-code" in declined.stdout
    assert "rule tier-1: payments/refund.py" in declined.stdout
    assert "rule tier-1: checkout/cart.py" in declined.stdout
    assert "+def refund():" in declined.stdout  # the diff itself
    assert not alice.run("git", "notes", "--ref=provenance", "list", check=False).stdout

    answered = alice.cli("review", "origin/feature/refunds", input="y\nn\n")
    assert f"co-signed {first[:12]}" in answered.stdout
    assert f"co-signed {second[:12]}" not in answered.stdout
    batch = alice.cli("review", "origin/feature/refunds", "--yes")
    assert f"co-signed {second[:12]}" in batch.stdout and first[:12] not in batch.stdout
    assert alice.cli("review", "origin/feature/refunds").stdout.strip() == "nothing needs your co-sign"
    assert alice.cli("sync").stdout.strip() == "pushed refs/notes/provenance to origin"

    assert bob.push("main").returncode != 0  # bob has not fetched the notes yet
    assert "merged the remote's notes" in bob.cli("sync").stdout
    passed = bob.push("main")
    assert passed.returncode == 0 and "git-provenance" not in passed.stderr
    assert bob.git("ls-remote", "origin", "refs/heads/main").split()[0] == second

    ci = fresh_audit(world)
    assert ci.returncode == 0, ci.stdout


def test_two_seniors_cosign_in_their_own_clones_and_sync_loses_neither(
    tmp_path: Path, people: dict[str, Person]
) -> None:
    rules = ('[[rule]]\nname = "tier-0"\npaths = ["payments/**"]\ncosign-roles = ["senior"]\n'
             'threshold = 2\napplies-to = "ai-assisted"\n')
    world = make_world(tmp_path, people, policy_text(people, rules=rules))
    bob = world.clone("bob")
    sha = bob.commit("Add refunds", {"payments/refund.py": "x = 1\n"}, agent=True)
    assert bob.push("HEAD:refs/heads/feature").returncode == 0
    alice, carol = world.clone("alice"), world.clone("carol")
    alice.cli("cosign", "origin/feature")
    carol.cli("cosign", "origin/feature")  # both co-sign before either syncs

    alice.cli("sync")
    one = fresh_audit(world, "origin/feature")
    assert one.returncode == 1 and "has 1 of 2 co-sign(s)" in one.stdout
    assert "merged the remote's notes" in carol.cli("sync").stdout
    alice.cli("sync")

    for clone in (alice, carol):
        lines = clone.git("notes", "--ref=provenance", "show", sha).splitlines()
        assert sorted(ln.split()[3] for ln in lines) == ["alice@example.com", "carol@example.com"]
    both = fresh_audit(world, "origin/feature", "--format", "json")
    assert both.returncode == 0, both.stdout
    (judged,) = [c for c in json.loads(both.stdout)["commits"] if c["commit"] == sha]
    assert judged["cosigners"] == ["alice@example.com", "carol@example.com"]


def test_a_clean_rebase_keeps_the_cosign_and_a_conflicted_one_makes_it_stale_until_renewed(
    world: World,
) -> None:
    bob, alice = world.clone("bob"), world.clone("alice")
    bob.commit("Add refunds", {"payments/refund.py": "a = 1\nb = 2\nc = 3\n"}, agent=True)
    bob.push("HEAD:refs/heads/feature")
    alice.git("fetch", "-q")
    alice.cli("cosign", "origin/feature")
    alice.cli("sync")
    bob.cli("sync")

    alice.commit("Document refunds", {"README": "refunds\n"})
    assert alice.push("main").returncode == 0
    bob.git("pull", "-q", "--rebase", "origin", "main")
    assert violations(bob) == {}  # a clean rebase: same change, same co-sign

    alice.commit("Tune refunds", {"payments/refund.py": "a = 1\nb = 5\nc = 3\n"})
    assert alice.push("main").returncode == 0
    bob.git("fetch", "-q")
    assert bob.run("git", "rebase", "origin/main", check=False).returncode != 0  # the conflict
    (bob.path / "payments/refund.py").write_text("a = 1\nb = 7\nc = 3\n")
    bob.git("add", "payments/refund.py")
    cont = bob.run("git", "rebase", "--continue")
    assert "the rewrite changed 1 signed change(s); their signatures are stale" in cont.stderr
    rebased = bob.git("rev-parse", "HEAD")
    assert violations(bob) == {rebased: ["missing-cosign", "stale-signature"]}

    resigned = bob.cli("resign", "origin/main..HEAD")
    assert (f"{rebased[:12]}: the co-sign by alice@example.com is stale; only alice@example.com can "
            f"renew it (git provenance cosign {rebased[:12]})") in resigned.stdout
    bob.cli("sync")
    assert bob.run("git", "push", "-f", "origin", "HEAD:refs/heads/feature").returncode == 0
    alice.git("fetch", "-q")
    alice.cli("sync")
    alice.cli("cosign", "origin/feature")
    alice.cli("sync")
    bob.cli("sync")
    assert violations(bob) == {}
    assert bob.push("HEAD:main").returncode == 0


def test_resign_renews_a_declaration_a_rebase_without_hooks_left_stale(world: World) -> None:
    bob, alice = world.clone("bob"), world.clone("alice")
    bob.commit("Add a helper", {"lib/util.py": "a = 1\nb = 2\n"}, agent=True)
    alice.commit("Change the helper", {"lib/util.py": "a = 1\nb = 3\n"})
    alice.push("main")
    bob.git("fetch", "-q")
    no_hooks = ("git", "-c", "core.hooksPath=/nonexistent")
    assert bob.run(*no_hooks, "rebase", "origin/main", check=False).returncode != 0
    (bob.path / "lib/util.py").write_text("a = 1\nb = 4\n")
    bob.git("add", "lib/util.py")
    bob.run(*no_hooks, "rebase", "--continue")
    rebased = bob.git("rev-parse", "HEAD")
    assert violations(bob) == {rebased: ["stale-signature"]}

    renewed = bob.cli("resign")
    assert f"renewed your declaration of {rebased[:12]} in a signed note" in renewed.stdout
    assert violations(bob) == {}
    renewal = bob.git("notes", "--ref=provenance", "show", rebased)
    assert re.search(r"^Provenance-Declaration: v1 bob@example.com sha256:\S+ yes ", renewal, re.M)
    assert bob.cli("resign").stdout.strip() == "nothing went stale"


def test_a_cosigned_merge_covers_the_commits_it_brings_in_and_only_those(world: World) -> None:
    bob, alice = world.clone("bob"), world.clone("alice")
    bob.git("switch", "-q", "-c", "feature")
    brought = [
        bob.commit("Add refunds", {"payments/refund.py": "x = 1\n"}, agent=True),
        bob.commit("Add checkout", {"checkout/cart.py": "y = 1\n"}, agent=True),
    ]
    bob.push("feature")
    alice.git("fetch", "-q")
    alice.git("merge", "-q", "--no-ff", "origin/feature", "-m", "Merge refunds")
    merge = alice.git("rev-parse", "HEAD")
    assert set(violations(alice)) == set(brought)
    alice.cli("cosign", "HEAD")  # one co-sign of the merge
    assert violations(alice) == {}
    assert alice.push("main").returncode == 0
    alice.cli("sync")

    bob.git("switch", "-q", "main")
    bob.git("pull", "-q", "origin", "main")
    bob.cli("sync")
    later = bob.commit("Refund fees", {"payments/fees.py": "z = 1\n"}, agent=True)
    assert violations(bob) == {later: ["missing-cosign"]}  # not brought in by that merge
    judged = json.loads(fresh_audit(world, "--format", "json").stdout)["commits"]
    assert {c["commit"] for c in judged if not c["violations"]} >= {*brought, merge}
    stopped = bob.push("main")
    assert stopped.returncode != 0 and f"git provenance cosign {later}" in stopped.stderr


def test_cosign_amend_refuses_published_commits_and_keeps_the_declaration_of_unpublished_ones(
    world: World, people: dict[str, Person],
) -> None:
    bob = world.clone("bob")
    published = bob.commit("Add refunds", {"payments/refund.py": "x = 1\n"}, agent=True)
    bob.push("HEAD:refs/heads/feature")
    # carol reviews at bob's desk: her identity and key for this one command
    as_carol = {"GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "user.email",
                "GIT_CONFIG_VALUE_0": people["carol"].email,
                "GIT_CONFIG_KEY_1": "provenance.signingKey", "GIT_CONFIG_VALUE_1": str(people["carol"].key)}
    refused = bob.cli("cosign", "--amend", "HEAD", env=as_carol, check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"git-provenance: error: {published[:12]} is already on origin/feature: amending would "
        "rewrite published history; co-sign with --note instead")
    assert bob.git("rev-parse", "HEAD") == published

    bob.commit("Refund fees", {"payments/fees.py": "y = 1\n"}, agent=True)
    before = bob.git("log", "-1", "--format=%B")
    bob.cli("cosign", "--amend", "HEAD", env=as_carol)
    after = bob.git("log", "-1", "--format=%B")
    assert after.startswith(before.strip())
    assert after.splitlines()[-1].startswith("Provenance-Signature: v1 cosign carol@example.com sha256:")
    assert violations(bob) == {published: ["missing-cosign"]}  # the amended HEAD passes


def test_declare_after_the_fact_fixes_a_commit_made_without_hooks(world: World) -> None:
    bob = world.clone("bob")
    sha = bob.commit("Web UI edit", {"docs/guide.md": "hi\n"}, env={"PROVENANCE_SKIP": "1"})
    assert violations(bob) == {sha: ["missing-declaration"]}
    bob.cli("declare", sha, "--ai", "--assisted-by", "copilot")
    assert violations(bob) == {}
    assert bob.git("log", "-1", "--format=%B", sha).strip() == "Web UI edit"  # history untouched
    bob.push("HEAD:refs/heads/web")
    alice = world.clone("alice")
    refused = alice.cli("declare", sha, "--no-ai", check=False)
    assert refused.returncode == 2 and "only the author (bob@example.com) can declare" in refused.stderr


def test_the_gate_protects_policy_globs_warns_elsewhere_and_ignores_tags_and_notes(
    tmp_path: Path, people: dict[str, Person]
) -> None:
    world = make_world(tmp_path, people,
                       policy_text(people, extra='[enforcement]\nprotected-branches = ["release/*"]\n'))
    bob = world.clone("bob")
    sha = bob.commit("Add refunds", {"payments/refund.py": "x = 1\n"}, agent=True)
    bob.cli("declare", "HEAD", "--ai")  # a note, so that sync has something to push

    stopped = bob.push("HEAD:refs/heads/release/1.0")
    assert stopped.returncode == 1 and "push to release/1.0 stopped" in stopped.stderr
    warned = bob.push("HEAD:refs/heads/main")  # main is not in this policy's list
    assert warned.returncode == 0 and "push to main warning: 1 commit(s)" in warned.stderr
    bob.git("tag", "v1.0", sha)
    tagged = bob.push("v1.0")
    assert tagged.returncode == 0 and "git-provenance" not in tagged.stderr
    synced = bob.cli("sync")
    assert synced.stdout.strip() == "pushed refs/notes/provenance to origin"
    assert "git-provenance" not in synced.stderr
    assert bob.git("ls-remote", "origin", NOTES)
