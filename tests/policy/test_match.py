"""Which paths a policy makes critical: gitignore-style globs, the first glob that matches, any rule."""

from __future__ import annotations

import pytest

from provenance.errors import ProvenanceError
from provenance.policy.schema import Policy, Rule


def _rule(*paths: str, name: str = "r") -> Rule:
    return Rule(name=name, paths=paths, cosign_roles=frozenset({"senior"}), threshold=1,
                applies_to="all")


def test_double_star_covers_a_directory_and_nothing_beside_it() -> None:
    rule = _rule("payments/**")
    assert rule.match("payments/a/b.py") == "payments/**"
    assert rule.match("payments/x") == "payments/**"
    assert rule.match("paymentsX/a") is None
    assert rule.match("src/payments/a") is None  # a slash in the middle anchors at the root


def test_globs_follow_gitignore_semantics() -> None:
    assert _rule("**/secrets/*").match("a/b/secrets/key.pem") == "**/secrets/*"
    assert _rule("**/secrets/*").match("secrets/key.pem") == "**/secrets/*"
    # `*` matches the directory `deeper`, and a matched directory covers all beneath it.
    assert _rule("**/secrets/*").match("secrets/deeper/key.pem") == "**/secrets/*"
    assert _rule("**/secrets/*").match("secretsX/key.pem") is None
    for path in ("x.sql", "db/migrations/001.sql"):
        assert _rule("*.sql").match(path) == "*.sql"
    assert _rule("*.sql").match("x.sqlite") is None
    assert _rule("/top.py").match("top.py") == "/top.py"
    assert _rule("/top.py").match("sub/top.py") is None
    assert _rule("infra/").match("infra/main.tf") == "infra/"
    assert _rule("infra/").match("infra") is None  # a file, not the directory


def test_match_reports_the_first_matching_glob() -> None:
    rule = _rule("docs/**", "*.md", "**/README.md")
    assert rule.match("docs/README.md") == "docs/**"
    assert rule.match("src/README.md") == "*.md"
    assert rule.match("src/main.py") is None


def test_critical_matches_uses_any_match_across_rules() -> None:
    policy = Policy(version=1, rules=(
        _rule("payments/**", name="tier-1"),
        _rule("*.py", name="python"),
        _rule("docs/**", name="docs"),
    ))
    paths = iter(["payments/api.py", "README.md", "tools/x.py"])  # any iterable, read once
    assert policy.critical_matches(paths) == {
        "tier-1": [("payments/api.py", "payments/**")],
        "python": [("payments/api.py", "*.py"), ("tools/x.py", "*.py")],
    }
    assert policy.critical_matches([".provenance.toml"]) == {}


def test_a_rule_remembers_its_answers_without_changing_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("provenance.policy.schema._MAX_REMEMBERED", 3)  # small, so it is emptied too
    globs = ("docs/**", "*.md", "**/README.md")
    paths = ["docs/README.md", "src/README.md", "src/main.py", "docs", "a.md", "src/main.py",
             "docs/README.md", "x/y/README.md", "README.md", "src/README.md"]
    rule = _rule(*globs)
    for _ in range(3):
        # A new rule each time has nothing remembered: it answers from the globs alone.
        assert [rule.match(p) for p in paths] == [_rule(*globs).match(p) for p in paths]
        assert len(rule._matches) <= 3


def test_one_joined_regex_screens_paths_without_changing_any_answer() -> None:
    """The policy joins every glob into one regex and asks the rules only about paths it finds;
    the answers, and their order (rules in policy order, paths in commit order), are the same as
    asking every rule about every path."""
    globs = ["**/secrets/*", "*.sql", "/top.py", "infra/", "x[ab]c", "a/**/b", "\\#lit",
             "docs/**/*.md", "**/README.md", "payments/**", "é/**"]
    rules = tuple(_rule(g, name=f"r{i}") for i, g in enumerate(globs))
    policy = Policy(version=1, rules=tuple(reversed(rules)))
    assert policy._screen is not None  # pathspec's named groups did not stop the join
    paths = ["secrets/k", "a/b/secrets/k", "x.sql", "db/x.sqlite", "top.py", "sub/top.py",
             "infra/main.tf", "infra", "xac", "xcc", "a/b", "a/q/r/b", "#lit", "docs/a/b.md",
             "docs/README.md", "README.md", "payments/p.py", "paymentsX/p", "é/x", "plain.txt",
             "main.py"]
    for commit in (paths, list(reversed(paths)), ["plain.txt"], paths[::3]):
        expected = {r.name: [(p, g) for p in commit if (g := r.match(p)) is not None]
                    for r in policy.rules}
        assert policy.critical_matches(commit) == {n: h for n, h in expected.items() if h}
    assert list(policy.critical_matches(["infra/x", "x.sql"])) == ["r3", "r1"]  # policy order


def test_rules_built_in_code_reject_bad_globs() -> None:
    with pytest.raises(ProvenanceError, match="invalid glob"):
        _rule("!x")


# ---- submodules: the gitlink at P is the directory `P/`, whose files nobody here can see ----------

@pytest.mark.parametrize("glob", [
    "vendor/crypto/", "vendor/crypto/**", "**/crypto/", "vendor/crypto", "vendor/**", "vendor/",
    "crypto", "crypto/", "**/crypto", "/vendor/crypto",
    # globs reaching inside it: a bump may change those files
    "vendor/crypto/src/**", "vendor/crypto/src", "vendor/crypto/*.c", "**/aes/*.c", "*.c",
    "v*/c?ypto/x", "src/", "vendor/**/aes.c",
])
def test_a_gitlink_is_matched_as_its_directory_and_by_globs_that_reach_into_it(glob: str) -> None:
    assert _rule(glob).match_gitlink("vendor/crypto") == glob
    policy = Policy(version=1, rules=(_rule(glob),))
    assert policy.critical_matches(["vendor/crypto"], ["vendor/crypto"]) == {
        "r": [("vendor/crypto", glob)]}


@pytest.mark.parametrize("glob", [
    "payments/**", "vendor/other/**", "vendor/crypto2/**", "/crypto/**", "vendor/crypto2",
    "vendor/cryptography/*.c", "/src/**", "vendor/crypt", "vendor/*.c",
])
def test_a_gitlink_is_not_matched_by_globs_elsewhere(glob: str) -> None:
    assert _rule(glob).match_gitlink("vendor/crypto") is None
    assert Policy(version=1, rules=(_rule(glob),)).critical_matches(
        ["vendor/crypto"], ["vendor/crypto"]) == {}


def test_only_a_gitlink_is_a_directory() -> None:
    # A file at the same path is a file; the memo of file answers is not changed by a gitlink's.
    policy = Policy(version=1, rules=(_rule("*.c", "vendor/crypto/**"),))
    assert policy.critical_matches(["vendor/crypto", "x.py"]) == {}
    assert policy.critical_matches(["vendor/crypto", "x.py"], ["vendor/crypto"]) == {
        "r": [("vendor/crypto", "*.c")]}
    assert policy.critical_matches(["vendor/crypto"]) == {}
