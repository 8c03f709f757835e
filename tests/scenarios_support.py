"""Helpers for the end-to-end audit scenarios: run the real CLI and read its JSON report."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from conftest import Person, Repo

AGENT = {"CLAUDECODE": "1"}


def provenance(repo: Repo, person: Person, *args: str, env: dict[str, str] | None = None,
               check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """`python -m provenance ARGS` in the repository, as `person` (author, committer, signer)."""
    return repo.run(sys.executable, "-m", "provenance", *args,
                    env={**repo.as_person(person), **(env or {})}, check=check)


def cosign(repo: Repo, senior: Person, rev: str, *, amend: bool = False) -> str:
    """`git provenance cosign REV` as `senior` (a note, or `--amend` of HEAD); returns HEAD."""
    provenance(repo, senior, "cosign", rev, *(("--amend",) if amend else ()))
    return repo.git("rev-parse", "HEAD").strip()


def cosign_by_hand(repo: Repo, signer: Person, rev: str) -> None:
    """A co-sign note `cosign` would refuse to write (the signer's own commit), made by hand."""
    import factory as f

    from provenance.wire import digest

    sha = repo.git("rev-parse", rev).strip()
    author = repo.git("log", "-1", "--format=%ae", sha).strip()
    actor = f.Actor(signer.name, signer.email, signer.key, None)  # type: ignore[arg-type]
    line = f.signature(actor, "cosign", digest.of_commit(sha, cwd=repo.path), author,
                       policy=f.policy_blob_of(repo.path, sha))
    repo.run("git", "notes", "--ref=provenance", "append", "-m", f"Provenance-Signature: {line}",
             sha, env=repo.as_person(signer))


def audit(repo: Repo, person: Person, *args: str) -> tuple[int, dict[str, Any]]:
    """The JSON audit and its exit status (exit 2 has no document: it fails the test here)."""
    proc = provenance(repo, person, "audit", "--format", "json", *args, check=False)
    assert proc.returncode in (0, 1), proc.stderr.decode(errors="replace")
    doc: dict[str, Any] = json.loads(proc.stdout)
    assert doc["schema"] == "git-provenance/audit/v1"
    return proc.returncode, doc


def verdicts(doc: dict[str, Any]) -> dict[str, list[str]]:
    """Commit -> its sorted violation codes, for the commits that have any."""
    return {c["commit"]: sorted(v["code"] for v in c["violations"])
            for c in doc["commits"] if c["violations"]}


def entry(doc: dict[str, Any], sha: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in doc["commits"] if c["commit"] == sha]
    assert len(found) == 1, f"{sha} judged {len(found)} times"
    return found[0]


def messages(doc: dict[str, Any], sha: str, code: str) -> list[str]:
    return [v["message"] for v in entry(doc, sha)["violations"] if v["code"] == code]


def expect(repo: Repo, person: Person, expected: dict[str, list[str]], *args: str
           ) -> dict[str, Any]:
    """Audit and require EXACTLY `expected` (commit -> sorted codes), with the matching exit status."""
    code, doc = audit(repo, person, *args)
    assert verdicts(doc) == expected
    assert code == (1 if expected else 0)
    assert doc["summary"]["violations"] == sum(len(v) for v in expected.values())
    return doc
