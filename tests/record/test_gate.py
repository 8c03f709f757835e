"""The pre-push gate, as git runs it: it judges what the push adds, as the full audit would, and a
commit only this clone has is fixed by first sharing it for review (issue 16 item 8)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Person, Repo, new_repo, with_origin

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
