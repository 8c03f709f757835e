"""action.yml's audit step, run as GitHub runs it: it fetches the request heads failing commits
name (a squash judged by its pull request's commits), and fails the job on violations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import factory as f
import pytest
import yaml
from conftest import PROJECT
from forges import github
from landing_support import LINES, MERGER, WHEN, nearby, request, setup


def audit_step() -> str:
    """The `run:` script of the action's "Audit" step."""
    action: dict[str, Any] = yaml.safe_load((PROJECT / "action.yml").read_text())
    [step] = [s for s in action["runs"]["steps"] if s.get("name") == "Audit"]
    return str(step["run"])


@pytest.mark.parametrize("heads,status", [("named", 0), ("none", 1)])
def test_the_action_fetches_the_request_heads_a_squash_names(
    tmp_path: Path, heads: str, status: int
) -> None:
    people = f.cast(tmp_path)
    dev = setup(tmp_path, people)
    root = f.git(dev, "rev-parse", "HEAD")
    request(dev, people, [{"payments/pay.py": LINES.replace("line 5", "pr 5")}], cosigned=True)
    nearby(dev, people)
    github.squash(dev, "main", "pr", 7, "Pay more", merger=MERGER, when=WHEN)
    server = tmp_path / "server.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(dev), str(server)], check=True)
    f.git(dev, "push", "-q", str(server), "refs/pull/7/head:refs/pull/7/head",
          "refs/notes/provenance:refs/notes/provenance")
    ci = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", str(server), str(ci)], check=True)
    f.git(ci, "fetch", "-q", "origin", "+refs/notes/provenance:refs/notes/provenance")
    summary = tmp_path / "summary.md"
    env = {**os.environ, "TRUST_ROOT": root, "RANGE": "HEAD", "POLICY": "", "FORMAT": "text",
           "REQUEST_HEADS": heads, "GITHUB_STEP_SUMMARY": str(summary),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", audit_step()],
                          cwd=ci, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == status, proc.stdout + proc.stderr
    assert ("1 landing(s) judged by their source commits" in proc.stdout) == (heads == "named")
    if heads == "none":
        assert "fetch it: git fetch origin +refs/pull/7/head:refs/pull/7/head" in proc.stdout
