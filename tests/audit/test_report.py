"""Reports: the JSON schema consumers depend on, markdown for CI, text for people, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import factory as f
import pytest
from conftest import PROJECT

from provenance.audit import report, spool, walk
from provenance.audit.run import run_audit
from provenance.errors import ProvenanceError
from provenance.policy.schema import POLICY_FILE


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str, str]:
    """A repository with one clean commit and one AI change to a critical path without a co-sign."""
    keys = tmp_path / "keys"
    keys.mkdir()
    alice = f.actor(keys, "Alice Senior", "alice@example.com")
    bob = f.actor(keys, "Bob Dev", "bob@example.com")
    spec = f.PolicySpec(people=[(alice, ["senior"]), (bob, [])],
                        rules=[{"name": "tier-1", "paths": ["payments/**"]}])
    path = f.init(tmp_path / "repo")
    f.commit(path, alice, {POLICY_FILE: spec.text()})
    ok = f.commit(path, bob, {"docs.md": "d\n"}, subject="docs")
    bad = f.commit(path, bob, {"payments/pay.py": "x\n"}, ai=True, subject="pay faster")
    return path, ok, bad


def test_json_has_the_documented_keys(repo: tuple[Path, str, str],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path, ok, bad = repo
    assert run_audit(None, None, None, "json", path) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "git-provenance/audit/v1"
    assert {"range", "trust_root", "policy", "summary", "commits"} <= doc.keys()
    assert doc["summary"] == {"commits": 2, "ai_assisted": 1, "critical": 1, "violations": 1}
    commits = {c["commit"]: c for c in doc["commits"]}
    assert set(commits) == {ok, bad}
    documented = (PROJECT / "docs" / "audit-json.md").read_text()
    for c in commits.values():
        assert {"commit", "author", "ai_assisted", "evidence", "critical_paths", "cosigners",
                "violations"} <= c.keys()
        for key in c:  # and nothing undocumented
            assert f"`commits[].{key}" in documented, key
    assert commits[bad]["critical_paths"] == {"tier-1": ["payments/pay.py"]}
    [v] = commits[bad]["violations"]
    assert v["code"] == "missing-cosign" and v["fix"].startswith(f"git provenance cosign {bad}")
    assert {"code", "message", "fix"} <= v.keys()


def test_text_names_commit_author_subject_code_fix_and_the_trust_root(
    repo: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _, bad = repo
    assert run_audit(None, None, None, "text", path) == 1
    out = capsys.readouterr().out
    assert bad[:12] in out and "bob@example.com" in out and "pay faster" in out
    assert "missing-cosign" in out and "fix: git provenance cosign" in out
    assert "trust root:" in out and "default" in out
    assert "git fetch origin '+refs/notes/*:refs/notes/*'" in out


def test_markdown_is_a_table_of_violations_with_counts(
    repo: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _, bad = repo
    assert run_audit(None, None, None, "markdown", path) == 1
    out = capsys.readouterr().out
    assert out.startswith("## git-provenance audit failed")
    assert "| 2 | 1 | 1 | 1 |" in out
    assert f"| `{bad[:12]}` | bob@example.com | pay faster | `missing-cosign` |" in out


def test_exit_zero_when_clean_and_two_when_it_cannot_run(
    repo: tuple[Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, ok, _ = repo
    assert run_audit(f"{ok}", None, None, "text", path) == 0
    assert "0 violation(s)" in capsys.readouterr().out
    with pytest.raises(ProvenanceError) as e:
        run_audit(None, None, None, "yaml", path)
    assert e.value.exit_code == 2
    empty = tmp_path / "not-a-repo"
    empty.mkdir()
    with pytest.raises(ProvenanceError) as e:
        run_audit(None, None, None, "text", empty)
    assert e.value.exit_code == 2
    with pytest.raises(ProvenanceError):
        run_audit("no-such-branch", None, None, "text", path)


def test_json_is_the_whole_document_with_one_commit_a_line(repo: tuple[Path, str, str]) -> None:
    path, ok, bad = repo
    result = walk.audit(None, None, None, path)
    doc = {
        "schema": report.SCHEMA, "range": result.range, "trust_root": result.trust_root,
        "trust_root_source": result.trust_root_source, "policy": result.policy,
        "notes_ref": result.notes_ref_exists, "warnings": [], "summary": report._summary(result),
        "commits": [report._commit_doc(j) for j in result.judgements],
    }
    text = report.to_json(result)
    assert json.loads(text) == doc
    lines = text.splitlines()
    for sha in (ok, bad):
        (line,) = [ln for ln in lines if sha in ln]
        assert json.loads(line.strip().rstrip(",")) == report._commit_doc(
            next(j for j in result.judgements if j.commit == sha))
    empty = walk.AuditResult("HEAD", None, "how", "policy", (), True)
    assert json.loads(report.to_json(empty))["commits"] == []


def test_a_walk_past_the_in_memory_limit_reports_the_same(
    repo: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _, _ = repo
    in_memory = report.to_json(walk.audit(None, None, None, path, use_cache=False))
    monkeypatch.setattr(spool, "IN_MEMORY", 1)
    spilled = walk.audit(None, None, None, path, use_cache=False)
    assert spilled.judgements._file is not None  # type: ignore[attr-defined]
    assert report.to_json(spilled) == in_memory
