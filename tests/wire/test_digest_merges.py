"""A merge's digest (docs/spec.md 4.3): its combined diff, then the blocks of its own change that
the combined diff does not name. The hooks compute it on the throwaway merge commit, through a
real `git merge` with the hooks installed, and it is what the audit computes."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import factory as f
import pytest
from conftest import PROJECT, Person, Repo, clean_env

from provenance.audit import walk
from provenance.git import merges
from provenance.record.install import install
from provenance.ssh import keyfile, sshsig
from provenance.wire import digest
from provenance.wire.statement import parse_signature_value

VECTORS = PROJECT / "tests" / "vectors"
LINES = "".join(f"line {i}\n" for i in range(1, 11))


@pytest.fixture
def hooked(tmp_path: Path, people: dict[str, Person]) -> Repo:
    """A repository whose every commit bob makes goes through the real hooks."""
    bob = people["bob"]
    home = tmp_path / "home"
    home.mkdir()
    env = {**clean_env(home), "GIT_AUTHOR_NAME": bob.name, "GIT_AUTHOR_EMAIL": bob.email,
           "GIT_COMMITTER_NAME": bob.name, "GIT_COMMITTER_EMAIL": bob.email}
    path = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    repo = Repo(path, home, env)
    repo.git("config", "commit.gpgsign", "false")
    repo.git("config", "user.email", bob.email)
    install(cwd=path, python=sys.executable)
    repo.git("config", "provenance.signingKey", str(bob.key))
    return repo


def _commit(repo: Repo, files: dict[str, str], message: str = "change") -> str:
    for name, content in files.items():
        repo.write(name, content)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", message)
    return repo.git("rev-parse", "HEAD").strip()


def _declared(repo: Repo) -> str:
    out = repo.git("log", "-1", "--format=%(trailers:key=Provenance-Signature,valueonly)")
    (change,) = [parse_signature_value(v).change for v in out.splitlines() if v.strip()]
    return change


def _conflict(repo: Repo) -> None:
    """main and topic both change line 5 of f.txt; main is checked out."""
    _commit(repo, {"f.txt": LINES, "g.txt": "g\n"})
    repo.git("checkout", "-q", "-b", "topic")
    _commit(repo, {"f.txt": LINES.replace("line 5", "topic 5")})
    repo.git("checkout", "-q", "main")
    _commit(repo, {"f.txt": LINES.replace("line 5", "main 5"), "g.txt": "g2\n"})
    assert repo.run("git", "merge", "-q", "topic", check=False).returncode != 0


@pytest.mark.parametrize("resolution", ["by hand", "topic's version", "main's version"])
def test_a_conflicted_merge_is_declared_with_the_digest_the_audit_computes(
    hooked: Repo, resolution: str
) -> None:
    _conflict(hooked)
    text = {"by hand": LINES.replace("line 5", "both 5"),
            "topic's version": LINES.replace("line 5", "topic 5"),
            "main's version": LINES.replace("line 5", "main 5")}[resolution]
    hooked.write("f.txt", text)
    hooked.git("add", "f.txt")
    hooked.run("git", "commit", "-q", "--no-edit")
    merge = hooked.git("rev-parse", "HEAD").strip()
    assert _declared(hooked) == digest.of_commit(merge, cwd=hooked.path)
    (streamed,) = [r.digest for r in walk.log_stream(["HEAD"], hooked.path) if r.sha == merge]
    assert streamed == _declared(hooked)
    combined = subprocess.run(["git", "diff-tree", "--cc", "-p", merge], cwd=hooked.path,
                              capture_output=True, check=True).stdout
    # taking one side's version leaves --cc empty: the hidden block keeps the digest apart
    hidden = resolution != "by hand"
    assert (b"f.txt" in combined) != hidden
    assert (_declared(hooked) == digest.EMPTY) is False


def test_a_clean_merge_keeps_the_v1_digest(hooked: Repo) -> None:
    _commit(hooked, {"f.txt": LINES})
    hooked.git("checkout", "-q", "-b", "topic")
    _commit(hooked, {"f.txt": LINES.replace("line 6", "topic 6")})
    hooked.git("checkout", "-q", "main")
    _commit(hooked, {"f.txt": LINES.replace("line 4", "main 4")})
    hooked.run("git", "merge", "-q", "--no-ff", "--no-edit", "topic")
    merge = hooked.git("rev-parse", "HEAD").strip()
    v1 = digest.digest_of_patch(subprocess.run(
        ["git", "diff-tree", "-p", "--cc", "--full-index", "--no-commit-id", merge],
        cwd=hooked.path, capture_output=True, check=True).stdout.splitlines(keepends=True))
    assert digest.of_commit(merge, cwd=hooked.path) == v1 != digest.EMPTY  # nearby lines: --cc
    assert set(_declared_all(hooked)) <= {v1}


def _declared_all(repo: Repo) -> list[str]:
    out = repo.git("log", "-1", "--format=%(trailers:key=Provenance-Signature,valueonly)")
    return [parse_signature_value(v).change for v in out.splitlines() if v.strip()]


# ---- the test vector of docs/spec.md 4.3 ---------------------------------------------------------


def evil_merge(repo: Path) -> str:
    """The spec's example: main fixes pay.py; a merge of an old branch sets it back. Both sides
    changed README, nearby lines: its combined diff is not empty."""
    f.init(repo)
    f.write(repo, {"pay.py": "fee = 5\nlimit = 100\n", "README": "a\nb\nc\n"})
    f.git(repo, "add", "-A")
    f.git(repo, "commit", "-q", "-m", "root")
    f.git(repo, "checkout", "-qb", "old")
    f.write(repo, {"README": "A\nb\nc\n"})
    f.git(repo, "commit", "-qam", "old")
    f.git(repo, "checkout", "-q", "main")
    f.write(repo, {"pay.py": "fee = 10\nlimit = 100\n", "README": "a\nb\nC\n"})
    f.git(repo, "commit", "-qam", "fix")
    f.git(repo, "merge", "-q", "--no-ff", "--no-commit", "old")
    f.write(repo, {"pay.py": "fee = 5\nlimit = 100\n"})
    f.git(repo, "commit", "-qam", "merge")
    return f.git(repo, "rev-parse", "HEAD")


def test_the_evil_merge_vector(tmp_path: Path) -> None:
    merge = evil_merge(tmp_path / "r")
    patch = digest.commit_patch(merge, cwd=tmp_path / "r")
    assert patch == (VECTORS / "evil-merge.patch").read_bytes()
    normalised = (VECTORS / "evil-merge.normalised").read_bytes()
    expected = "sha256:" + hashlib.sha256(normalised).hexdigest()
    assert digest.of_commit(merge, cwd=tmp_path / "r") == expected
    assert expected == ("sha256:"
                        "4b19e9a21d15a2b3160c4e2f356ce88e421d5bb562c18249a21d6c53a3a175e2")
    assert expected in (PROJECT / "docs" / "spec.md").read_text()


# ---- the recipe of docs/spec.md section 6 verifies merges ----------------------------------------


def test_the_recipe_pins_every_option_the_own_change_pins() -> None:
    text = _recipe()
    for pair in zip(merges.MERGE_CONFIG[::2], merges.MERGE_CONFIG[1::2], strict=True):
        assert " ".join(pair) in text, pair


@pytest.mark.parametrize("name", ["f.txt", 'a b "q".txt', "é tab\there.txt"])
def test_the_recipe_verifies_a_merge_whose_own_change_cc_does_not_show(
    hooked: Repo, people: dict[str, Person], name: str
) -> None:
    _commit(hooked, {name: LINES, "g.txt": "g\n"})
    hooked.git("checkout", "-q", "-b", "topic")
    _commit(hooked, {name: LINES.replace("line 5", "topic 5"), "g.txt": "g\ng\n"})
    hooked.git("checkout", "-q", "main")
    _commit(hooked, {name: LINES.replace("line 5", "main 5"), "g.txt": "G\ng\n"})
    assert hooked.run("git", "merge", "-q", "topic", check=False).returncode != 0
    hooked.write(name, LINES.replace("line 5", "topic 5"))  # take topic's version
    hooked.git("add", "-A")
    hooked.run("git", "commit", "-q", "--no-edit")
    cc = hooked.git("diff-tree", "--cc", "-p", "HEAD")
    assert "g.txt" in cc and "topic 5" not in cc  # --cc: only the clean nearby merge of g.txt
    script = hooked.home / "verify-commit.sh"
    script.write_text(_recipe())
    signers = hooked.home / "allowed_signers"
    bob = people["bob"]
    signers.write_text(sshsig.allowed_signers_line([bob.email], keyfile.public_key_of(bob.key))
                       + "\n")
    proc = hooked.run("sh", str(script), "HEAD", str(signers), check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    # the same declaration moved onto a merge that took main's version: its digest differs
    hooked.git("reset", "-q", "--hard", "HEAD^1")
    message = hooked.git("log", "-1", "--format=%B", "HEAD@{1}")
    hooked.run("git", "merge", "-q", "topic", check=False)
    hooked.write(name, LINES.replace("line 5", "main 5"))
    hooked.git("add", "-A")
    hooked.run("git", "commit", "-q", "-m", message, env={"PROVENANCE_SKIP": "1"})
    proc = hooked.run("sh", str(script), "HEAD", str(signers), check=False)
    assert proc.returncode != 0 and b"digest mismatch" in proc.stderr


def _recipe() -> str:
    text = re.search(r"<!-- recipe: verify-commit.sh -->\n```sh\n(.*?)```",
                     (PROJECT / "docs" / "spec.md").read_text(), re.S)
    assert text is not None
    return text[1]
