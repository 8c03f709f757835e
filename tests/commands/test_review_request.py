"""`git provenance review --request N`: a senior fetches a pull request's head, sees what needs a
co-sign there and co-signs it before anything lands; the squash the forge writes later is judged
by those commits, so the co-sign given before the squash is enough."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import factory as f
import pytest
from forges import github
from landing_support import LINES, MERGER, WHEN, audit, nearby, request, setup, verdicts


@pytest.fixture
def people(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


def _provenance(repo: Path, who: f.Actor, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_AUTHOR_NAME": who.name, "GIT_AUTHOR_EMAIL": who.email,
           "GIT_COMMITTER_NAME": who.name, "GIT_COMMITTER_EMAIL": who.email,
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_COUNT": "2",
           "GIT_CONFIG_KEY_0": "user.email", "GIT_CONFIG_VALUE_0": who.email,
           "GIT_CONFIG_KEY_1": "provenance.signingKey", "GIT_CONFIG_VALUE_1": str(who.key_path)}
    return subprocess.run([sys.executable, "-m", "provenance", *args], cwd=repo, env=env,
                          capture_output=True, text=True)


def test_a_senior_cosigns_a_request_before_it_is_squashed(tmp_path: Path,
                                                          people: dict[str, f.Actor]) -> None:
    dev = setup(tmp_path, people)
    srcs = request(dev, people, [{"payments/pay.py": LINES.replace("line 5", "pr 5")}],
                   cosigned=False)
    server = tmp_path / "server.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(dev), str(server)], check=True)
    f.git(dev, "push", "-q", str(server), "refs/pull/7/head:refs/pull/7/head")
    senior = tmp_path / "alice"
    subprocess.run(["git", "clone", "-q", str(server), str(senior)], check=True)

    listed = _provenance(senior, people["alice"], "review", "--request", "7", "--yes")
    assert listed.returncode == 0, listed.stderr
    assert "fetched refs/pull/7/head; reviewing refs/remotes/origin/HEAD..refs/pull/7/head" \
        in listed.stdout
    assert f"commit {srcs[0]}" in listed.stdout and f"co-signed {srcs[0][:12]}" in listed.stdout
    assert _provenance(senior, people["alice"], "sync").returncode == 0

    nearby(dev, people)  # main moves on, then the forge squashes the request onto it
    f.git(dev, "push", "-q", str(server), "main")
    squash = github.squash(server, "main", "refs/pull/7/head", 7, "Pay more", merger=MERGER,
                           when=WHEN)
    ci = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", str(server), str(ci)], check=True)
    f.git(ci, "fetch", "-q", "origin", "+refs/pull/*/head:refs/pull/*/head",
          "+refs/notes/provenance:refs/notes/provenance")
    doc = audit(ci)
    assert verdicts(doc) == {}
    (landed,) = [c for c in doc["commits"] if c["commit"] == squash]
    assert landed["landed_from"]["commits"] == srcs and landed["cosigners"] == ["alice@example.com"]


def test_review_of_a_request_the_remote_does_not_have_is_one_clear_line(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    dev = setup(tmp_path, people)
    server = tmp_path / "server.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(dev), str(server)], check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(server), str(clone)], check=True)
    proc = _provenance(clone, people["alice"], "review", "--request", "!9")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "git-provenance: error: origin has no request 9 (refs/pull/9/head nor "
        "refs/merge-requests/9/head)"]
    assert _provenance(clone, people["alice"], "review", "--request", "seven").returncode == 2


def test_review_after_a_squash_cosigns_the_commits_it_lands(tmp_path: Path,
                                                             people: dict[str, f.Actor]) -> None:
    repo = setup(tmp_path, people)
    srcs = request(repo, people, [{"payments/pay.py": LINES.replace("line 5", "pr 5")}],
                   cosigned=False)
    nearby(repo, people)
    squash = github.squash(repo, "main", "pr", 7, "Pay more", merger=MERGER, when=WHEN)
    f.git(repo, "reset", "-q", "--hard", "main")
    assert verdicts(audit(repo)) == {squash: ["missing-cosign"]}
    proc = _provenance(repo, people["alice"], "review", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert [line for line in proc.stdout.splitlines() if line.startswith("co-signed")] == [
        f"co-signed {srcs[0][:12]}"]  # the source commit, not the squash
    assert verdicts(audit(repo)) == {}
