"""A rule glob that matches no tracked file protects nothing: the audit warns (text, markdown,
JSON and SARIF), naming the rule and the glob, until the glob matches a file or the rule lists it in
`future-paths`, which is validated as strictly as every other key."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import PROJECT, Person, Repo, new_repo, policy_text

from provenance.errors import ProvenanceError
from provenance.policy import coverage
from provenance.policy.schema import load_text

TYPO = ('[[rule]]\nname = "tier-1"\npaths = ["service/payments/**", "checkout/**"]\n'
        'cosign-roles = ["senior"]\n{future}')


def _audit(repo: Repo, fmt: str) -> str:
    proc = repo.run(sys.executable, "-m", "provenance", "audit", "--format", fmt, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout.decode()


@pytest.fixture
def typo_repo(tmp_path, people: dict[str, Person]) -> Repo:
    """services/payments/ and checkout/ hold code; the rule protects `service/payments/**`."""
    repo = new_repo(tmp_path, people, policy=policy_text(people, rules=TYPO.format(future="")))
    repo.commit(people["alice"], "Code", {"services/payments/api.py": "x\n", "checkout/cart.py": "y\n"})
    return repo


def test_the_audit_names_the_rule_and_the_glob_that_matches_nothing(typo_repo: Repo) -> None:
    message = ("rule 'tier-1': 'service/payments/**' matches no tracked file at HEAD, so it protects "
               "nothing (a typo? a path still to come goes in the rule's future-paths)")
    text = _audit(typo_repo, "text").splitlines()
    assert f"warning: {message}" in text
    assert sum("warning:" in line for line in text) == 1  # checkout/** matches checkout/cart.py
    assert f"> warning: {message}" in _audit(typo_repo, "markdown")
    doc = json.loads(_audit(typo_repo, "json"))
    assert doc["warnings"] == [{"code": "unmatched-glob", "rule": "tier-1",
                                "glob": "service/payments/**", "message": message}]
    assert "| `warnings` |" in (PROJECT / "docs" / "audit-json.md").read_text()
    [note] = json.loads(_audit(typo_repo, "sarif"))["runs"][0]["invocations"][0][
        "toolConfigurationNotifications"]
    assert note["level"] == "warning" and note["descriptor"]["id"] == "unmatched-glob"
    assert note["message"]["text"] == message and note["properties"]["glob"] == "service/payments/**"


def test_a_future_path_acknowledged_in_the_policy_stops_the_warning(tmp_path, people) -> None:
    rules = TYPO.format(future='future-paths = ["service/payments/**"]\n')
    repo = new_repo(tmp_path, people, policy=policy_text(people, rules=rules))
    repo.commit(people["alice"], "Code", {"checkout/cart.py": "y\n"})
    assert json.loads(_audit(repo, "json"))["warnings"] == []
    assert "warning:" not in _audit(repo, "text")


def test_a_range_is_warned_about_at_its_tip(typo_repo: Repo, people) -> None:
    typo_repo.git("branch", "before")
    typo_repo.git("rm", "-q", "checkout/cart.py")
    typo_repo.commit(people["alice"], "Drop the cart")
    doc = json.loads(typo_repo.run(sys.executable, "-m", "provenance", "audit", "before..HEAD",
                                   "--format", "json", check=False).stdout)
    assert [w["glob"] for w in doc["warnings"]] == ["service/payments/**", "checkout/**"]


@pytest.mark.parametrize(("glob", "paths", "matched"), [
    ("payments/**", ["payments/a/b.py"], True),
    ("payments/**", ["src/payments/a.py"], False),
    ("infra/", ["infra/main.tf"], True),
    ("*.sql", ["db/migrations/001.sql"], True),
    ("/top.py", ["sub/top.py"], False),
    ("**/secrets/*", ["a/secrets/deeper/k.pem"], True),
])
def test_a_glob_matches_a_tracked_file_as_the_audit_matches_paths(glob, paths, matched) -> None:
    rules = f'[[rule]]\nname = "r"\npaths = ["{glob}"]\n'
    found = coverage.unmatched(load_text(f"version = 1\n{rules}"), paths, "HEAD")
    assert found == ([] if matched else [coverage.UnmatchedGlob("r", glob, "HEAD")])


def test_one_path_can_match_several_globs_of_several_rules() -> None:
    text = ('version = 1\n[[rule]]\nname = "a"\npaths = ["payments/**", "*.py", "ledger/**"]\n'
            '[[rule]]\nname = "b"\npaths = ["payments/api.py", "**/api.py"]\n')
    found = coverage.unmatched(load_text(text), ["payments/api.py"], "HEAD")
    assert found == [coverage.UnmatchedGlob("a", "ledger/**", "HEAD")]


def test_a_glob_for_a_submodule_matches_it_as_its_directory() -> None:
    text = ('version = 1\n[[rule]]\nname = "r"\n'
            'paths = ["vendor/crypto/", "vendor/crypto/src/*.c", "vendor/other/**"]\n')
    found = coverage.unmatched(load_text(text), ["README", "vendor/crypto"], "HEAD", ["vendor/crypto"])
    assert found == [coverage.UnmatchedGlob("r", "vendor/other/**", "HEAD")]
    # A file at that path is a file, which the directory globs do not match.
    assert len(coverage.unmatched(load_text(text), ["README", "vendor/crypto"], "HEAD")) == 3


@pytest.mark.parametrize(("future", "error"), [
    ('future-paths = ["ledger/**"]', '.provenance.toml:4: rule[0].future-paths[0]: "ledger/**" is not '
     "one of this rule's paths (a future path must be listed in both)"),
    ('future-paths = "payments/**"', ".provenance.toml:4: rule[0].future-paths: must be an array of "
     "strings (globs of this rule's paths), got \"payments/**\""),
    ("future-path = []", ".provenance.toml:4: rule[0].future-path: unknown key (expected one of: name, "
     "description, paths, future-paths, cosign-roles, threshold, applies-to); did you mean "
     "'future-paths'?"),
])
def test_future_paths_is_validated_strictly(future: str, error: str) -> None:
    text = f'version = 1\n[[rule]]\nname = "r"\n{future}\npaths = ["payments/**"]\n'
    with pytest.raises(ProvenanceError) as e:
        load_text(text)
    assert str(e.value) == error


def test_an_unborn_head_has_nothing_to_warn_about(tmp_path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    pol = load_text('version = 1\n[[rule]]\nname = "r"\npaths = ["payments/**"]\n')
    assert coverage.unmatched_at(pol, "HEAD", tmp_path) == []
