"""Every git the tool starts sees the objects as stored: replace refs and grafts are ignored.

`git replace` swaps an object's content for every read, `info/grafts` a commit's parents. An
attacker who can write either in the repository under audit would choose the policy the audit
applies, or hide commits from the pre-push gate (git push itself sends the real objects).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import factory as f
import pytest
from conftest import Person, Repo, new_repo, with_origin

from provenance.audit import walk
from provenance.policy.schema import POLICY_FILE

AGENT = {"CLAUDECODE": "1"}


@pytest.fixture
def actors(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


def _strict_repo(tmp_path: Path, p: dict[str, f.Actor]) -> tuple[Path, str, str]:
    """A trust root whose policy makes payments/** critical, and an AI change to it, not co-signed."""
    spec = f.PolicySpec(people=[(p["alice"], ["senior"]), (p["bob"], [])],
                        rules=[{"name": "tier-1", "paths": ["payments/**"]}])
    repo = f.init(tmp_path / "repo")
    root = f.commit(repo, p["alice"], {POLICY_FILE: spec.text()})
    bad = f.commit(repo, p["bob"], {"payments/pay.py": "x = 1\n"}, ai=True)
    return repo, root, bad


def _weak_policy(p: dict[str, f.Actor]) -> str:
    return f.PolicySpec(people=[(p["alice"], ["senior"]), (p["bob"], [])]).text()


def _codes(repo: Path, sha: str, trust_root: str | None = None) -> list[str]:
    result = walk.audit(None, trust_root, None, repo, use_cache=False)
    return [v.code for j in result.judgements if j.commit == sha for v in j.violations]


def test_a_replaced_policy_blob_is_not_the_policy_the_audit_applies(
    tmp_path: Path, actors: dict[str, f.Actor]
) -> None:
    repo, root, bad = _strict_repo(tmp_path, actors)
    weak = _blob(repo, _weak_policy(actors))
    f.git(repo, "replace", f.git(repo, "rev-parse", f"{root}:{POLICY_FILE}"), weak)
    assert "payments" not in f.git(repo, "show", f"{root}:{POLICY_FILE}")  # git now reads the weak one
    assert _codes(repo, bad) == ["missing-cosign"]
    assert _codes(repo, bad, trust_root=root) == ["missing-cosign"]


def test_a_replaced_trust_root_commit_is_not_where_the_policy_comes_from(
    tmp_path: Path, actors: dict[str, f.Actor]
) -> None:
    repo, root, bad = _strict_repo(tmp_path, actors)
    tree = _tree(repo, _weak_policy(actors))
    fake = f.git(repo, "commit-tree", tree, "-m", "the same root, honestly")
    f.git(repo, "replace", root, fake)
    assert _codes(repo, bad, trust_root=root) == ["missing-cosign"]
    assert _codes(repo, bad) == ["missing-cosign"]


def _blob(repo: Path, text: str) -> str:
    return subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=text.encode(),
                          capture_output=True, check=True).stdout.decode().strip()


def _tree(repo: Path, policy: str) -> str:
    line = f"100644 blob {_blob(repo, policy)}\t{POLICY_FILE}\n"
    return subprocess.run(["git", "mktree"], cwd=repo, input=line.encode(), capture_output=True,
                          check=True).stdout.decode().strip()


# ---- the pre-push gate -------------------------------------------------------------------------


def _pushing_repo(tmp_path: Path, people: dict[str, Person]) -> tuple[Repo, str, str, str]:
    """A clone with the hooks whose main is on a bare origin; then two local commits: an AI change
    to a critical path (`hidden`) and a harmless one on top (`tip`). Returns (repo, base, hidden,
    tip)."""
    repo = new_repo(tmp_path, people)
    with_origin(repo, tmp_path)
    base = repo.git("rev-parse", "HEAD").strip()
    hidden = repo.commit(people["bob"], "Refunds", {"payments/refund.py": "x = 1\n"}, env=AGENT)
    tip = repo.commit(people["bob"], "Docs", {"docs/a.md": "a\n"})
    return repo, base, hidden, tip


def test_a_replaced_commit_cannot_hide_a_pushed_commit_from_the_gate(
    tmp_path: Path, people: dict[str, Person]
) -> None:
    repo, base, hidden, tip = _pushing_repo(tmp_path, people)
    # `tip` now appears to sit right on the remote's main: `hidden` seems not to be pushed.
    tree = repo.git("rev-parse", f"{tip}^{{tree}}").strip()
    fake = repo.git("commit-tree", tree, "-p", base, "-m", "Docs",
                    env=repo.as_person(people["bob"])).strip()
    repo.git("replace", tip, fake)
    assert hidden not in repo.git("rev-list", tip, f"^{base}")
    pushed = repo.run("git", "push", "origin", "main", check=False)
    assert pushed.returncode != 0 and hidden[:12] in pushed.stderr.decode()
    assert "missing-cosign" in pushed.stderr.decode()
    assert repo.git("ls-remote", "origin", "refs/heads/main").split()[0] == base


def test_grafts_cannot_hide_a_pushed_commit_from_the_gate(
    tmp_path: Path, people: dict[str, Person]
) -> None:
    repo, base, hidden, tip = _pushing_repo(tmp_path, people)
    (repo.path / ".git" / "info").mkdir(exist_ok=True)
    (repo.path / ".git" / "info" / "grafts").write_text(f"{tip} {base}\n")
    assert hidden not in repo.git("rev-list", tip, f"^{base}")
    # The hook as git calls it (a push with grafts fails at the remote anyway: objects missing).
    gate = repo.run(sys.executable, "-m", "provenance", "hook", "pre-push", "origin",
                    "unused-url", input=f"refs/heads/main {tip} refs/heads/main {base}\n".encode(),
                    check=False)
    assert gate.returncode == 1 and hidden[:12] in gate.stderr.decode(), gate.stderr.decode()


def test_grafts_do_not_move_the_revisions_an_audit_is_given(
    tmp_path: Path, actors: dict[str, f.Actor]
) -> None:
    repo, root, bad = _strict_repo(tmp_path, actors)
    tip = f.commit(repo, actors["bob"], {"docs/a.md": "a\n"})
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "grafts").write_text(f"{tip} {root}\n")
    # `HEAD~1` is `bad`, whatever the graft says: the one commit audited is the tip.
    result = walk.audit("HEAD~1..HEAD", root, None, repo, use_cache=False)
    assert [j.commit for j in result.judgements] == [tip]
    result = walk.audit(None, "HEAD~2", None, repo, use_cache=False)
    assert result.trust_root == root
