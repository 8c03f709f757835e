"""Submodules (Trust II item 9): the gitlink at P is matched as the directory P, so an agent's
change to a critical submodule needs the co-sign, however it changes it (added, bumped, in a
merge's own change, replaced by a file or a directory, removed) and wherever paths are judged: the
audit, a range audit, a `--policy` scan, co-signs, the pre-push gate and the commit-time hint.

One history, built once through the real hooks, with a rule per kind of glob: each names the
critical submodule (`vendor/crypto`) as a directory or reaches into it; none names `vendor/other`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from conftest import Person, Repo, new_repo, policy_text, with_origin
from scenarios_support import AGENT, audit, entry, provenance

from provenance.git.merges import own_changes
from provenance.wire.patch import patch_gitlinks, raw_gitlinks

# (`**/crypto/` and `*.c` would reach into every submodule: tests/policy/test_match.py has them.)
GLOBS = {"dir": "vendor/crypto/", "tree": "vendor/crypto/**", "inside": "vendor/crypto/src/*.c"}
RULES = "".join(f'[[rule]]\nname = "{name}"\npaths = ["{glob}"]\ncosign-roles = ["senior"]\n'
                'threshold = 1\napplies-to = "ai-assisted"\n' for name, glob in GLOBS.items())
SUB = "vendor/crypto"
ALLOW = ("-c", "protocol.file.allow=always")


class History(NamedTuple):
    repo: Repo
    critical: dict[str, str]  # what the agent did to vendor/crypto -> its commit
    plain: dict[str, str]  # commits that touch no critical submodule -> their commit
    base: str  # the commit before the agent's first change (a range audit starts there)


def library(root: Path, env: dict[str, str]) -> tuple[Path, list[str]]:
    """A repository of three releases to vendor; its commits, oldest first."""
    lib = root / "lib"
    ident = ["-c", "user.name=L", "-c", "user.email=l@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(lib)], check=True, env=env)
    for n in range(3):
        (lib / "aes.c").write_text(f"int rounds = {10 + n};\n")
        subprocess.run(["git", "add", "aes.c"], cwd=lib, check=True, env=env)
        subprocess.run(["git", *ident, "commit", "-q", "-m", f"v{n}"], cwd=lib, check=True, env=env)
    return lib, subprocess.run(["git", "rev-list", "--reverse", "main"], cwd=lib, check=True,
                               env=env, capture_output=True, text=True).stdout.split()


def point(repo: Repo, path: str, commit: str) -> None:
    """Stage the gitlink at `path` at `commit` (what `git add` of a moved submodule stages)."""
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{commit},{path}")


def agent_commit(repo: Repo, bob: Person, message: str) -> str:
    repo.run("git", "commit", "-q", "-m", message, env={**repo.as_person(bob), **AGENT})
    return repo.git("rev-parse", "HEAD").strip()


def build(root: Path, people: dict[str, Person]) -> History:
    repo = new_repo(root, people, policy=policy_text(people, rules=RULES))
    lib, (v0, v1, v2) = library(root, repo.env)
    alice, bob = people["alice"], people["bob"]
    base = repo.git("rev-parse", "HEAD").strip()
    done: dict[str, str] = {}
    plain: dict[str, str] = {}
    repo.run("git", *ALLOW, "submodule", "-q", "add", str(lib), SUB, env=repo.as_person(bob))
    done["added"] = agent_commit(repo, bob, "Vendor the crypto library")
    repo.run("git", *ALLOW, "submodule", "-q", "add", str(lib), "vendor/other",
             env=repo.as_person(bob))
    plain["other added"] = agent_commit(repo, bob, "Vendor another copy")
    point(repo, SUB, v1)
    done["bumped"] = agent_commit(repo, bob, "Move crypto back a release")
    point(repo, "vendor/other", v0)
    plain["other bumped"] = agent_commit(repo, bob, "Move the other copy back")
    # A conflicting bump on each side; the agent's merge resolves to a third release.
    repo.git("checkout", "-q", "-b", "side", plain["other added"])
    point(repo, SUB, v0)
    plain["side"] = repo.commit(alice, "Crypto v0 on the side")  # a human's: no co-sign needed
    repo.git("checkout", "-q", "main")
    conflict = repo.run("git", "merge", "-q", "--no-commit", "side", check=False,
                        env=repo.as_person(bob))
    assert conflict.returncode == 1 and b"CONFLICT (submodule)" in conflict.stdout
    point(repo, SUB, v2)
    done["merge resolution"] = agent_commit(repo, bob, "Merge side")
    # An evil octopus merge: one side moves the submodule, the merge silently undoes that (its
    # tree keeps main's release: no combined diff shows it).
    for n in (1, 2):
        repo.git("checkout", "-q", "-b", f"docs{n}", done["merge resolution"])
        if n == 1:
            point(repo, SUB, v0)
        plain[f"docs{n}"] = repo.commit(alice, "Docs", {f"docs/{n}.md": "a\n"})
    repo.git("checkout", "-q", "main")
    repo.run("git", "merge", "-q", "--no-commit", "docs1", "docs2", env=repo.as_person(bob))
    point(repo, SUB, v2)
    done["evil octopus merge"] = agent_commit(repo, bob, "Merge docs")
    assert not repo.git("show", "--cc", "--format=", "HEAD")
    repo.git("rm", "-q", "--cached", SUB)
    shutil.rmtree(repo.path / SUB)  # the submodule's checkout (its .git is absorbed)
    repo.write(SUB, "a file now\n")
    repo.git("add", SUB)
    done["to a file"] = agent_commit(repo, bob, "Crypto is a file")
    repo.git("rm", "-q", "--cached", SUB)
    point(repo, SUB, v1)
    done["back to a submodule"] = agent_commit(repo, bob, "Crypto is a submodule again")
    repo.git("rm", "-q", "--cached", SUB)
    (repo.path / SUB).unlink()
    repo.write(f"{SUB}/README", "vendored by hand\n")
    repo.git("add", f"{SUB}/README")
    done["to a directory"] = agent_commit(repo, bob, "Crypto is a directory")
    repo.git("rm", "-q", "-r", SUB)
    point(repo, SUB, v2)
    repo.run("git", "commit", "-q", "-m", "Crypto back", env=repo.as_person(alice))
    repo.git("rm", "-q", "--cached", SUB)
    done["removed"] = agent_commit(repo, bob, "Drop crypto")
    return History(repo, done, plain, base)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, people: dict[str, Person]) -> History:
    return build(tmp_path_factory.mktemp("submodules"), people)


def copied(history: History, tmp_path: Path) -> Repo:
    """A copy of the history to add notes to without touching the shared one."""
    shutil.copytree(history.repo.path, tmp_path / "copy", symlinks=True)
    return Repo(tmp_path / "copy", history.repo.home, history.repo.env)


def judged(e: dict[str, Any]) -> tuple[list[str], list[str], bool]:
    """The rules that name the submodule, the violation codes, and whether a message names the
    submodule with the glob that reaches into it."""
    return (sorted(r for r, paths in e["critical_paths"].items() if SUB in paths),
            [v["code"] for v in e["violations"]],
            any(f"{SUB} ({GLOBS['inside']})" in v["message"] for v in e["violations"]))


@pytest.mark.parametrize("how", ["audit", "range", "scan"])
def test_an_agents_change_to_a_critical_submodule_needs_the_cosign(
        history: History, people: dict[str, Person], how: str) -> None:
    repo = history.repo
    args = {"audit": (), "range": (f"{history.base}..main",),
            "scan": ("--policy", str(repo.path / ".provenance.toml"))}[how]
    code, doc = audit(repo, people["alice"], *args)
    assert code == 1
    # Every kind of change at once, so that a failure shows which kinds escape.
    assert {what: judged(entry(doc, sha)) for what, sha in history.critical.items()} == dict.fromkeys(
        history.critical, (sorted(GLOBS), ["missing-cosign"] * len(GLOBS), True))
    assert {what: judged(entry(doc, sha)) for what, sha in history.plain.items()} == dict.fromkeys(
        history.plain, ([], [], False))


def test_a_seniors_cosign_approves_the_submodule_change_and_review_shows_it(
        history: History, people: dict[str, Person], tmp_path: Path) -> None:
    repo = copied(history, tmp_path)
    repo.git("branch", "-m", "main", "feature")  # not yet on a protected branch: for review
    alice = people["alice"]
    assert audit(repo, alice)[0] == 1  # the facts (submodules too) are cached here
    shown = provenance(repo, alice, "review", "--yes", f"{history.base}..feature").stdout.decode()
    for sha in history.critical.values():
        assert f"co-signed {sha[:12]}" in shown
    assert f"rule inside: {SUB}" in shown
    code, doc = audit(repo, alice)  # judged again from the cached facts: still critical
    assert code == 0
    assert {what: (judged(entry(doc, sha))[0], entry(doc, sha)["cosigners"])
            for what, sha in history.critical.items()} == dict.fromkeys(
        history.critical, (sorted(GLOBS), ["alice@example.com"]))


def test_the_pre_push_gate_and_the_commit_stop_an_agents_bump(
        tmp_path: Path, people: dict[str, Person]) -> None:
    repo = new_repo(tmp_path, people, policy=policy_text(people, rules=RULES))
    lib, (_, v1, _) = library(tmp_path, repo.env)
    repo.run("git", *ALLOW, "submodule", "-q", "add", str(lib), SUB)
    repo.commit(people["alice"], "Vendor crypto")
    with_origin(repo, tmp_path)
    point(repo, SUB, v1)
    made = repo.run("git", "commit", "-q", "-m", "Bump", env={**repo.as_person(people["bob"]),
                                                               **AGENT})
    hint = made.stderr.decode()
    assert "needs a co-sign" in hint and f"rule inside ({SUB})" in hint, hint
    pushed = repo.run("git", "push", "origin", "main", check=False)
    assert pushed.returncode != 0 and "missing-cosign" in pushed.stderr.decode()
    provenance(repo, people["alice"], "cosign", "HEAD")
    pushed = repo.run("git", "push", "origin", "main", check=False)
    assert pushed.returncode == 0, pushed.stderr.decode()
    code, doc = audit(repo, people["alice"])  # and no rule "matches no tracked file"
    assert code == 0 and doc.get("warnings", []) == []


def test_patches_and_raw_lines_name_the_same_submodules(history: History) -> None:
    """What the audit reads (a commit's patch; a merge's own change, as `--raw` lines) and what a
    scan reads (`--raw`) agree on every commit; a combined diff shows a submodule by its
    `Subproject commit` hunk alone."""
    repo = history.repo
    for sha in repo.git("rev-list", "--no-merges", "main").split():
        patch = repo.run("git", "diff-tree", "-p", "--root", "-r", "--full-index", sha).stdout
        raw = repo.run("git", "diff-tree", "--raw", "--root", "-r", "--no-abbrev", sha).stdout
        names = repo.git("diff-tree", "--root", "-r", "--name-only", sha).split("\n")
        submodules = tuple(p for p in names if p in (SUB, "vendor/other"))  # never plain files
        assert patch_gitlinks(patch) == raw_gitlinks(raw) == submodules, sha
    combined = repo.run("git", "show", "--cc", "--format=", history.critical["merge resolution"])
    assert b"mode 160000" not in combined.stdout and patch_gitlinks(combined.stdout) == (SUB,)
    own = own_changes([history.critical["evil octopus merge"]], repo.path)
    assert raw_gitlinks(next(iter(own.values())).raw) == (SUB,)
