"""`cosign` refuses to approve a policy change whose `.provenance.toml` does not parse: the co-sign
would authorise a policy nobody can read (the hooks refuse to commit one; a web UI does not)."""

from __future__ import annotations

import sys

from conftest import Person, Repo


def _commit_elsewhere(repo: Repo, person: Person, files: dict[str, str], message: str) -> str:
    """A commit made outside the hooks (a web UI): its tree written with plain git."""
    for rel, text in files.items():
        repo.write(rel, text)
        repo.git("add", "--", rel)
    tree = repo.git("write-tree").strip()
    sha = repo.run("git", "commit-tree", tree, "-p", "HEAD", "-m", message,
                   env=repo.as_person(person)).stdout.decode().strip()
    repo.git("update-ref", "HEAD", sha)
    return sha


def test_a_policy_change_that_does_not_parse_is_not_cosigned(repo: Repo, people: dict[str, Person]) -> None:
    text = (repo.path / ".provenance.toml").read_text()
    broken = _commit_elsewhere(repo, people["bob"], {".provenance.toml": text.replace(
        "threshold = 1", "threshold = one")}, "Lower the bar")
    proc = repo.run(sys.executable, "-m", "provenance", "cosign", "HEAD",
                    env=repo.as_person(people["alice"]), check=False)
    assert proc.returncode == 2 and proc.stdout == b""
    assert proc.stderr.decode() == (
        f"git-provenance: error: refusing to co-sign {broken[:12]}: its .provenance.toml does not parse "
        f"({broken[:12]}:.provenance.toml:6: syntax error: Invalid value (column 13)); the author fixes "
        "it in a new commit\n")
    assert repo.run("git", "notes", "--ref=provenance", "list", check=False).stdout == b""


def test_a_policy_change_that_parses_is_cosigned(repo: Repo, people: dict[str, Person]) -> None:
    text = (repo.path / ".provenance.toml").read_text()
    _commit_elsewhere(repo, people["bob"], {".provenance.toml": text.replace(
        '"checkout/**"]', '"checkout/**", "ledger/**"]')}, "Protect the ledger")
    proc = repo.run(sys.executable, "-m", "provenance", "cosign", "HEAD",
                    env=repo.as_person(people["alice"]))
    assert proc.stdout.decode().startswith("co-signed ")
