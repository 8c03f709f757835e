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
