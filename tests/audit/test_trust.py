"""Where an audit starts: partial clones are refused, the default trust root is trusted on first use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Person, Repo, new_repo

AGENT = {"CLAUDECODE": "1"}


def _cli(repo: Repo, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "provenance", *args], cwd=repo.path, env=repo.env,
                          capture_output=True, input=input)


def _one_line(proc: subprocess.CompletedProcess[bytes], code: int = 2) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == code, (proc.returncode, err, proc.stdout.decode())
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize("spec", ["blob:none", "tree:0"])
def test_a_partial_clone_is_refused_naming_what_makes_it_whole(
    tmp_path: Path, people: dict[str, Person], spec: str
) -> None:
    repo = new_repo(tmp_path, people)
    for i in range(3):  # earlier versions of a file: blobs no checkout fetches
        repo.commit(people["bob"], f"Change {i}", {"notes.txt": f"{i}\n"})
    repo.git("config", "uploadpack.allowFilter", "true")
    path = tmp_path / "partial"
    repo.run("git", "clone", "-q", f"--filter={spec}", f"file://{repo.path}", str(path))
    clone = Repo(path, repo.home, repo.env)
    for args in (("audit",), ("audit", "--trust-root", "HEAD~3"), ("audit", "HEAD~1..HEAD")):
        err = _one_line(_cli(clone, *args))
        assert f"partial clone (remote 'origin' filters {spec})" in err, err
        assert "unable to read" not in err
        assert "git config --unset remote.origin.partialclonefilter && git fetch --refetch origin" in err
    # The pre-push gate refuses a protected push it cannot judge, with the same words.
    base = clone.git("rev-parse", "HEAD").strip()
    head = clone.commit(people["bob"], "Local", {"local.txt": "1\n"})
    gate = _cli(clone, "hook", "pre-push", "origin", "url",
                input=f"refs/heads/main {head} refs/heads/main {base}\n".encode())
    assert gate.returncode == 1 and "partial clone" in gate.stderr.decode()
    # Made whole as the message says, it audits.
    clone.run("sh", "-c", "git config --unset remote.origin.partialclonefilter && "
              "git fetch -q --refetch origin")
    audited = _cli(clone, "audit", "--trust-root", "HEAD~4", "--format", "json")
    assert audited.returncode == 1, audited.stderr.decode()  # judged: the local commit is undeclared
    judged = {c["commit"]: [v["code"] for v in c["violations"]]
              for c in json.loads(audited.stdout)["commits"]}
    assert len(judged) == 4 and judged[head] == ["missing-declaration"]
