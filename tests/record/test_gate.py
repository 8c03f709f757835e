"""The pre-push gate, as git runs it: it judges what the push adds, as the full audit would, and a
commit only this clone has is fixed by first sharing it for review (issue 16 item 8); `install`
prepares it in a clone, so the first push costs what it pushes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Person, Repo, clean_env, new_repo, unadopted_origin, with_origin
from world import Clone, World, make_world, policy_listings

AGENT = {"CLAUDECODE": "1"}


@pytest.fixture
def pushing(tmp_path: Path, people: dict[str, Person]) -> Repo:
    """A clone with the hooks whose main is on a bare origin."""
    repo = new_repo(tmp_path, people)
    with_origin(repo, tmp_path)
    return repo


def _push(repo: Repo, *args: str) -> subprocess.CompletedProcess[bytes]:
    return repo.run("git", "push", "origin", *args, check=False)


def test_a_commit_only_this_clone_has_is_fixed_by_first_pushing_a_review_branch(
    pushing: Repo, people: dict[str, Person]
) -> None:
    sha = pushing.commit(people["bob"], "Refunds", {"payments/refund.py": "x = 1\n"}, env=AGENT)
    stopped = _push(pushing, "main")
    err = stopped.stderr.decode()
    assert stopped.returncode != 0
    fixes = err.split("to fix it, run:\n", 1)[1].splitlines()
    assert fixes[0].startswith("  git push origin main:refs/heads/review/main ")
    assert "share the commits for review" in fixes[0]
    assert fixes[1].startswith(f"  git provenance cosign {sha}")
    # Done as it says, the commit is on the remote: the next refusal starts at the co-sign.
    review = fixes[0].split("#")[0].split()
    shared = pushing.run(*review, check=False)
    assert shared.returncode == 0, shared.stderr.decode()  # an unprotected branch: warned, pushed
    again = _push(pushing, "main").stderr.decode()
    assert again.split("to fix it, run:\n", 1)[1].splitlines()[0].startswith(
        f"  git provenance cosign {sha}")


def test_a_failure_the_author_fixes_alone_needs_no_review_branch(
    pushing: Repo, people: dict[str, Person]
) -> None:
    pushing.commit(people["bob"], "Web edit", {"docs/a.md": "a\n"}, env={"PROVENANCE_SKIP": "1"})
    err = _push(pushing, "main").stderr.decode()
    fixes = err.split("to fix it, run:\n", 1)[1]
    assert "missing-declaration" in err and "review/" not in fixes


def test_the_gate_judges_only_what_the_push_adds(pushing: Repo, people: dict[str, Person]) -> None:
    # An old violation already on the remote (pushed past the gate) is not this push's.
    pushing.commit(people["bob"], "Skipped", {"docs/old.md": "x\n"}, env={"PROVENANCE_SKIP": "1"})
    assert _push(pushing, "--no-verify", "main").returncode == 0
    new = pushing.commit(people["bob"], "Docs", {"docs/new.md": "x\n"})
    passed = _push(pushing, "main")
    assert passed.returncode == 0, passed.stderr.decode()
    assert "git-provenance" not in passed.stderr.decode()
    # The hook as git calls it, for a push of the same commit to a new branch: nothing new to judge.
    hook = pushing.run(sys.executable, "-m", "provenance", "hook", "pre-push", "origin", "url",
                       input=f"refs/heads/main {new} refs/heads/other {'0' * 40}\n".encode())
    assert hook.returncode == 0 and not hook.stderr


# `install` in a clone whose trust root is pinned settles the policy at the upstream once (DESIGN
# §8: a push costs what is pushed), so the first push after it reads only what it adds, and judges
# it the same. Choosing the trust root stays the person's: install never trusts one on first use.

def _seeded(tmp_path: Path, people: dict[str, Person]) -> World:
    world = make_world(tmp_path, people)
    seed = world.clone("alice", directory="seed2")
    for n in range(3):
        seed.commit(f"Docs {n}", {f"docs/{n}.md": f"{n}\n"})
    assert seed.push("main").returncode == 0
    return world


def _pinned_then_installed(world: World, name: str) -> tuple[Clone, str]:
    """A clone set up as README says: the adoption commit pinned, then `install`; what it said."""
    clone = world.clone(name, hooks=False)
    clone.git("config", "provenance.trustRoot", clone.git("rev-list", "--max-parents=0", "HEAD"))
    return clone, clone.cli("install").stdout


def test_install_in_a_pinned_clone_settles_the_upstream_once_and_the_first_push_reads_only_its_own(
    tmp_path: Path, people: dict[str, Person]
) -> None:
    world = _seeded(tmp_path, people)
    bob, said = _pinned_then_installed(world, "bob")
    upstream = bob.git("rev-parse", "origin/main")
    root = bob.git("config", "provenance.trustRoot")
    assert f"settled the policy in force at origin/main ({upstream[:12]})" in said
    bob.commit("Docs", {"docs/bob.md": "b\n"})
    trace = tmp_path / "trace"
    pushed = bob.run("git", "push", "origin", "main", check=False, env={"GIT_TRACE": str(trace)})
    assert pushed.returncode == 0, pushed.stderr
    # Nothing listed from the trust root: at most the pushed commit, from the settled upstream.
    tip = bob.git("rev-parse", "HEAD")
    assert policy_listings(trace) in ([], [[tip, f"^{root}", f"^{upstream}"]])


def test_install_without_a_pinned_trust_root_trusts_nothing_and_says_how_to_settle_now(
    tmp_path: Path, people: dict[str, Person]
) -> None:
    world = _seeded(tmp_path, people)
    bob = world.clone("bob", hooks=False)
    said = bob.cli("install").stdout
    assert "settled" not in said
    assert ("the first push will read the history of origin/main once, to find the trust root; "
            "pin it (git config provenance.trustRoot ADOPTION-COMMIT)") in said
    assert bob.run("git", "config", "provenance.trustRoot", check=False).returncode == 1
    bob.commit("Docs", {"docs/bob.md": "b\n"})
    pushed = bob.push("main")  # the first push trusts the default on first use, as before
    assert pushed.returncode == 0 and "trusted on first use" in pushed.stderr, pushed.stderr


def test_after_install_the_gate_stops_what_the_full_audit_fails(
    tmp_path: Path, people: dict[str, Person]
) -> None:
    world = _seeded(tmp_path, people)
    bob, _ = _pinned_then_installed(world, "bob")
    ok = bob.commit("Docs", {"docs/fine.md": "x\n"})
    bad = bob.commit("Refunds", {"payments/refund.py": "x = 1\n"}, agent=True)
    stopped = bob.push("main")
    assert stopped.returncode != 0
    assert f"{bad[:12]} " in stopped.stderr and f"{ok[:12]} " not in stopped.stderr
    full = json.loads(bob.audit("--format", "json").stdout)
    assert [c["commit"] for c in full["commits"] if c["violations"]] == [bad]


def test_install_prepares_nothing_where_the_upstream_has_no_policy(tmp_path: Path) -> None:
    origin = unadopted_origin(tmp_path, {"README.md": "hi\n"})
    clone = tmp_path / "clone"
    env = clean_env(tmp_path)
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True, env=env)
    said = subprocess.run([sys.executable, "-m", "provenance", "install"], cwd=clone, env=env,
                          capture_output=True, text=True)
    assert said.returncode == 0, said.stderr
    assert "pre-push gate" not in said.stdout + said.stderr and "trust root" not in said.stdout


def test_a_shallow_clone_installs_and_leaves_the_settling_to_the_push(
    tmp_path: Path, people: dict[str, Person]
) -> None:
    world = _seeded(tmp_path, people)
    root = subprocess.run(["git", "rev-list", "--max-parents=0", "main"], cwd=world.origin,
                          env=world.env, capture_output=True, text=True, check=True).stdout.strip()
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{world.origin}", str(shallow)],
                   check=True, env=world.env)
    subprocess.run(["git", "config", "provenance.trustRoot", root], cwd=shallow, env=world.env,
                   check=True)
    said = subprocess.run([sys.executable, "-m", "provenance", "install"], cwd=shallow,
                          env=world.env, capture_output=True, text=True)
    assert said.returncode == 0, said.stderr
    assert "installed" in said.stdout and "Traceback" not in said.stderr
    assert "the pre-push gate will settle the policy at origin/main on the first push: " \
        in said.stdout, said.stdout
