"""action.yml: with `sarif: true` it writes the SARIF report even when the audit fails, and uploads
it to code scanning; the step's own script runs here against a real repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import factory as f
import yaml
from conftest import PROJECT

from provenance.policy.schema import POLICY_FILE

ACTION: dict[str, Any] = yaml.safe_load((PROJECT / "action.yml").read_text())


def _step(name: str) -> dict[str, Any]:
    [step] = [s for s in ACTION["runs"]["steps"] if s.get("name") == name]
    return step


def test_the_sarif_steps_run_when_asked_even_after_a_failed_audit() -> None:
    assert ACTION["inputs"]["sarif"]["default"] == "false"
    for name in ("Write SARIF", "Upload SARIF to code scanning"):
        assert _step(name)["if"] == "${{ always() && inputs.sarif == 'true' }}"
    upload = _step("Upload SARIF to code scanning")
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == "${{ inputs.sarif-file }}"


def _run_step(repo: Path, trust_root: str, out: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRUST_ROOT": trust_root, "RANGE": "HEAD", "POLICY": "",
           "SARIF_FILE": str(out), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", _step("Write SARIF")["run"]],
                          cwd=repo, env=env, capture_output=True, text=True, check=False)


def test_the_write_step_keeps_the_report_of_a_failing_audit_and_fails_when_none_was_made(
    tmp_path: Path,
) -> None:
    people = f.cast(tmp_path)
    spec = f.PolicySpec(people=[(people["alice"], ["senior"]), (people["bob"], [])],
                        rules=[{"name": "tier-1", "paths": ["payments/**"]}])
    repo = f.init(tmp_path / "repo")
    root = f.commit(repo, people["alice"], {POLICY_FILE: spec.text()})
    f.commit(repo, people["bob"], {"payments/p.py": "p\n"}, ai=True)
    out = tmp_path / "provenance.sarif"
    ok = _run_step(repo, root, out)
    assert ok.returncode == 0, ok.stderr
    [result] = json.loads(out.read_text())["runs"][0]["results"]
    assert result["ruleId"] == "missing-cosign"
    broken = _run_step(repo, "no-such-commit", out)
    assert broken.returncode == 2 and "does not name a commit" in broken.stderr


def _fetch(clone: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REQUEST_HEADS": "all"}
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                           _step("Fetch history and notes")["run"]],
                          cwd=clone, env=env, capture_output=True, text=True, check=False)


def test_the_fetch_step_gets_the_notes_passes_without_any_and_fails_when_origin_does(
    tmp_path: Path,
) -> None:
    # A notes fetch that failed and was passed over would let a note's `yes` go unread.
    origin = f.init(tmp_path / "origin")
    f.write(origin, {"a.txt": "a\n"})
    f.git(origin, "add", "-A")
    f.git(origin, "commit", "-q", "--no-verify", "-m", "first")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    assert _fetch(clone).returncode == 0  # adoption day: no notes anywhere yet
    f.git(origin, "notes", "--ref", "provenance", "add", "-m", "AI-Assisted: yes", "HEAD")
    assert _fetch(clone).returncode == 0
    assert f.git(clone, "notes", "--ref", "provenance", "show", "HEAD") == "AI-Assisted: yes"
    origin.rename(tmp_path / "gone")
    assert _fetch(clone).returncode != 0
