"""`audit --format sarif`: valid SARIF 2.1.0 (the vendored OASIS schema), one result per violation,
rules from the verdict table, the commit in the message and in partialFingerprints."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import factory as f
import pytest
from jsonschema import validators

from provenance.audit import codes, sarif
from provenance.audit.run import run_audit
from provenance.policy.schema import POLICY_FILE

SCHEMAS = Path(__file__).parent / "schemas"
SCHEMA_FILE = SCHEMAS / "sarif-schema-2.1.0.json"
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"


def validate(log: dict[str, Any]) -> list[str]:
    """Errors of `log` against the OASIS schema (draft-04; its $refs are internal: no network)."""
    schema = json.loads(SCHEMA_FILE.read_text())
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(log)]


@pytest.fixture
def history(tmp_path: Path) -> dict[str, str]:
    """A policy adoption, a clean commit, and four commits with different violations."""
    keys = tmp_path / "keys"
    keys.mkdir()
    alice = f.actor(keys, "Alice Senior", "alice@example.com")
    bob = f.actor(keys, "Bob Dev", "bob@example.com")
    spec = f.PolicySpec(people=[(alice, ["senior"]), (bob, [])], rules=[
        {"name": "tier-1", "paths": ["payments/**"]}, {"name": "infra", "paths": ["deploy/**"]}])
    path = f.init(tmp_path / "repo")
    out = {"path": str(path)}
    out["root"] = f.commit(path, alice, {POLICY_FILE: spec.text()})
    out["clean"] = f.commit(path, bob, {"docs.md": "d\n"}, subject="docs")
    # Two rules at once, paths with a space and a non-ASCII letter: two missing-cosign results.
    out["two_rules"] = f.commit(path, bob, {"payments/my pay.py": "x\n", "deploy/ünit.yml": "y\n"},
                                ai=True, subject="pay and deploy")
    out["unsigned"] = f.commit(path, bob, {"payments/b.py": "b\n"}, ai=True, sign=False,
                               subject="unsigned")
    spec.people.append((f.actor(keys, "Mallory", "mallory@example.com"), ["senior"]))
    out["policy"] = f.commit(path, bob, {POLICY_FILE: spec.text()}, subject="make me senior")
    return out


def sarif_of(path: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert run_audit(None, None, None, "sarif", path) == 1
    log: dict[str, Any] = json.loads(capsys.readouterr().out)
    return log


def test_the_vendored_schema_is_the_oasis_one_with_its_licence_notice() -> None:
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256
    notice = (SCHEMAS / "LICENSE-sarif-schema.txt").read_text()
    assert "Copyright (c) OASIS Open" in notice and SCHEMA_SHA256 in notice


def test_the_report_validates_against_the_sarif_schema(
    history: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    log = sarif_of(history["path"], capsys)
    assert validate(log) == []
    assert log["version"] == "2.1.0" and log["$schema"] == sarif.SCHEMA_URI


def test_the_schema_check_rejects_what_sarif_forbids(
    history: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The validation has teeth: each of these breaks the schema."""
    log = sarif_of(history["path"], capsys)
    breakages = [
        lambda d: d.update(version="2.0.0"),
        lambda d: d["runs"][0]["results"][0].update(level="fatal"),
        lambda d: d["runs"][0]["results"][0].pop("message"),
        lambda d: d["runs"][0]["tool"]["driver"].update(bogus=1),
        lambda d: d["runs"][0]["tool"]["driver"]["rules"][0].pop("id"),
    ]
    for breakage in breakages:
        broken = copy.deepcopy(log)
        breakage(broken)
        assert validate(broken), breakage


def test_one_error_result_per_violation_with_the_verdict_code_as_rule(
    history: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    log = sarif_of(history["path"], capsys)
    assert run_audit(None, None, None, "json", history["path"]) == 1
    report = json.loads(capsys.readouterr().out)
    expected = sorted((c["commit"], v["code"]) for c in report["commits"] for v in c["violations"])
    [run] = log["runs"]
    got = sorted((r["partialFingerprints"][sarif.COMMIT_FINGERPRINT], r["ruleId"])
                 for r in run["results"])
    assert got == expected and len(got) == report["summary"]["violations"] >= 5
    rules = run["tool"]["driver"]["rules"]
    for r in run["results"]:
        assert r["level"] == "error"
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        commit = r["partialFingerprints"][sarif.COMMIT_FINGERPRINT]
        assert commit in r["message"]["text"] and r["properties"]["commit"] == commit
    assert run["properties"]["summary"] == report["summary"]


def test_the_location_is_the_first_critical_path_it_concerns_else_the_policy(
    history: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    log = sarif_of(history["path"], capsys)
    where: dict[tuple[str, str], set[str]] = {}
    for r in log["runs"][0]["results"]:
        key = (r["partialFingerprints"][sarif.COMMIT_FINGERPRINT], r["ruleId"])
        where.setdefault(key, set()).add(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
    # One missing-cosign per rule, each at its own path (URI-encoded).
    assert where[(history["two_rules"], "missing-cosign")] == {
        "payments/my%20pay.py", "deploy/%C3%BCnit.yml"}
    # Not about a path of its own: the commit's first critical path.
    assert where[(history["unsigned"], "unsigned-declaration")] == {"payments/b.py"}
    assert where[(history["policy"], "unauthorized-policy-change")] == {POLICY_FILE}


def test_fingerprints_are_stable_across_runs_and_distinct_per_violation(
    history: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    first = sarif_of(history["path"], capsys)["runs"][0]["results"]
    again = sarif_of(history["path"], capsys)["runs"][0]["results"]
    prints = [r["partialFingerprints"]["primaryLocationLineHash"] for r in first]
    assert prints == [r["partialFingerprints"]["primaryLocationLineHash"] for r in again]
    assert len(set(prints)) == len(prints)


def test_every_verdict_code_is_a_rule_with_the_table_texts_within_githubs_limits(
    history: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    rules = sarif_of(history["path"], capsys)["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [c.code for c in codes.TABLE]
    for rule, c in zip(rules, codes.TABLE, strict=True):
        assert rule["fullDescription"]["text"] == codes.plain(c.meaning)
        assert codes.plain(c.fix) in rule["help"]["text"]
        # GitHub code scanning: descriptions up to 1024 characters, a rule name up to 255.
        assert 0 < len(rule["shortDescription"]["text"]) <= 1024
        assert 0 < len(rule["fullDescription"]["text"]) <= 1024
        assert len(rule["name"]) <= 255 and rule["defaultConfiguration"]["level"] == "error"


def test_a_clean_history_has_no_results_and_still_validates(
    history: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_audit(history["clean"], None, None, "sarif", history["path"]) == 0
    log = json.loads(capsys.readouterr().out)
    assert log["runs"][0]["results"] == [] and validate(log) == []


def test_past_the_code_scanning_limit_the_rest_is_announced_not_dropped_silently(
    history: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sarif, "MAX_RESULTS", 2)
    log = sarif_of(history["path"], capsys)
    run = log["runs"][0]
    assert len(run["results"]) == 2 and validate(log) == []
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "error" and "--format json" in note["message"]["text"]


def test_the_command_line_prints_sarif_and_exits_1_on_violations(history: dict[str, str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "provenance", "audit", "--format", "sarif"],
                          cwd=history["path"], capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stderr
    assert validate(json.loads(proc.stdout)) == []
