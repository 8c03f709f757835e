from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provenance.errors import ProvenanceError
from provenance.policy.schema import POLICY_FILE, Policy, load_file, load_text
from provenance.ssh.sshsig import parse_public_key

# DESIGN.md section 4, verbatim except for real keys. Line numbers below refer to this text.
EXAMPLE = """\
version = 1

[declaration]
required = true            # every judged commit must say AI-Assisted: yes|no
signed = true              # ... with a valid `declare` signature by its author
detect-undeclared = true   # AI fingerprints make a commit AI-assisted whatever it declares

[[rule]]
name = "tier-1"
paths = ["payments/**", "checkout/**"]
cosign-roles = ["senior"]
threshold = 1              # distinct people, never the author
applies-to = "ai-assisted" # or "all"

[enforcement]
protected-branches = ["main", "release/*"]   # pre-push gate; default: the remote's default branch, main, master

[policy-changes]           # the policy file itself is always protected
cosign-roles = ["senior"]
threshold = 1

[[person]]
name = "Alice Senior"
email = "alice@example.com"
roles = ["senior"]
keys = ["{alice}"]

[[person]]
name = "Bob Developer"
email = "bob@example.com"
keys = ["{bob}"]

[[revoked-key]]
key = "{stolen}"
reason = "laptop stolen"
"""  # noqa: E501 (verbatim from DESIGN.md)


def _keygen(directory: Path, name: str, kind: str = "ed25519") -> str:
    path = directory / name
    subprocess.run(
        ("ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"{name}@laptop", "-f", str(path)),
        check=True,
    )
    return (directory / f"{name}.pub").read_text().strip()


def make_keys(d: Path) -> dict[str, str]:
    names = ("alice", "bob", "stolen", "alice2", "carol")
    out = {name: _keygen(d, name) for name in names}
    out["ecdsa"] = _keygen(d, "ecdsa", "ecdsa")
    return out


def example_with(keys: dict[str, str]) -> str:
    return EXAMPLE.replace("{alice}", keys["alice"]).replace("{bob}", keys["bob"]).replace(
        "{stolen}", keys["stolen"]
    )


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def example(keys: dict[str, str]) -> str:
    return example_with(keys)


def _error(text: str | bytes, source: str = POLICY_FILE) -> str:
    with pytest.raises(ProvenanceError) as info:
        load_text(text, source)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_design_example_loads_and_means_what_it_says(example: str, keys: dict[str, str]) -> None:
    policy = load_text(example)
    assert policy.version == 1
    assert (policy.declaration_required, policy.declaration_signed) == (True, True)
    assert policy.detect_undeclared is True
    (rule,) = policy.rules
    assert rule.name == "tier-1"
    assert rule.paths == ("payments/**", "checkout/**")
    assert rule.cosign_roles == frozenset({"senior"})
    assert (rule.threshold, rule.applies_to) == (1, "ai-assisted")
    assert policy.protected_branches == ("main", "release/*")
    assert policy.policy_change_roles == frozenset({"senior"})
    assert policy.policy_change_threshold == 1
    alice, bob = policy.people
    assert (alice.name, alice.emails, alice.roles) == (
        "Alice Senior", ("alice@example.com",), frozenset({"senior"}),
    )
    assert alice.keys == (parse_public_key(keys["alice"]),)
    assert (bob.name, bob.roles) == ("Bob Developer", frozenset())
    (revoked,) = policy.revoked
    assert revoked.key == parse_public_key(keys["stolen"])
    assert revoked.reason == "laptop stolen"
    assert policy.people_with_roles(frozenset({"senior"})) == (alice,)
    assert policy.source == POLICY_FILE


def test_minimal_policy_has_the_documented_defaults() -> None:
    policy = load_text("version = 1\n")
    assert policy == Policy(version=1)
    assert policy.protected_branches is None
    assert policy.policy_change_roles == frozenset({"senior"})
    assert (policy.rules, policy.people, policy.revoked) == ((), (), ())


def test_rule_defaults_and_descriptions_are_accepted(example: str) -> None:
    text = example.replace('name = "tier-1"', 'name = "tier-1"\ndescription = "money"', 1)
    text = text.replace("cosign-roles = [\"senior\"]\nthreshold = 1              #", "#", 1)
    text = 'description = "our policy"\n' + text.replace('applies-to = "ai-assisted" #', "#")
    (rule,) = load_text(text).rules
    assert (rule.description, rule.cosign_roles, rule.threshold, rule.applies_to) == (
        "money", frozenset({"senior"}), 1, "ai-assisted",
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    (
        ("threshold = 1              #", 'threshold = "two" #',
         '.provenance.toml:12: rule[0].threshold: must be a positive integer, got "two"'),
        ("threshold = 1              #", "threshold = 0 #",
         ".provenance.toml:12: rule[0].threshold: must be a positive integer, got 0"),
        ("threshold = 1              #", "threshold = true #",
         ".provenance.toml:12: rule[0].threshold: must be a positive integer, got true"),
        ("threshold = 1              #", "threshold = 2 #",
         ".provenance.toml:12: rule[0].threshold: 2 can never be met: only 1 person has a role "
         "in [senior]"),
        ('cosign-roles = ["senior"]\nthreshold = 1\n', 'cosign-roles = ["admin"]\nthreshold = 1\n',
         ".provenance.toml:20: policy-changes.threshold: 1 can never be met: only 0 people"),
        ('applies-to = "ai-assisted"', 'applies-to = "human"',
         '.provenance.toml:13: rule[0].applies-to: must be "ai-assisted" or "all", got "human"'),
        ('paths = ["payments/**", "checkout/**"]', "paths = []",
         ".provenance.toml:10: rule[0].paths: must list at least one glob"),
        ('paths = ["payments/**", "checkout/**"]', 'paths = "payments/**"',
         '.provenance.toml:10: rule[0].paths: must be an array of strings'),
        ('"checkout/**"', '"!checkout/**"',
         '.provenance.toml:10: rule[0].paths[1]: bad glob "!checkout/**": must not start with'),
        ('"checkout/**"', '"checkout\\\\"',
         '.provenance.toml:10: rule[0].paths[1]: bad glob "checkout\\\\": not a valid gitignore'),
        ('"checkout/**"', '""', ".provenance.toml:10: rule[0].paths[1]: bad glob"),
        ('email = "bob@example.com"', 'email = "Alice@Example.COM"',
         '.provenance.toml:30: person[1].email: "alice@example.com" already belongs to person[0] '
         "(Alice Senior)"),
        ('email = "bob@example.com"', 'email = "bob"',
         '.provenance.toml:30: person[1].email: must be an email address'),
        ('email = "bob@example.com"', 'email = "bob@example.com"\nemails = ["b@example.com"]',
         ".provenance.toml:31: person[1].emails: give exactly one of"),
        ('name = "Bob Developer"\n', "",
         ".provenance.toml:28: person[1].name: missing (this key is required)"),
        ('\nroles = ["senior"]', '\nroles = "senior"',
         ".provenance.toml:25: person[0].roles: must be an array of strings"),
        ('\nroles = ["senior"]', '\nroles = ["senior", "big boss"]',
         '.provenance.toml:25: person[0].roles[1]: must be a role name'),
        ("version = 1", "version = 2",
         ".provenance.toml:1: version: must be 1 (the only version this tool reads), got 2"),
        ("version = 1", "# no version", ".provenance.toml:1: version: missing"),
        ("version = 1", 'version = 1\nowner = "me"', ".provenance.toml:2: owner: unknown key"),
        ("signed = true", 'signed = "yes"',
         '.provenance.toml:5: declaration.signed: must be true or false, got "yes"'),
        ("required = true", "require = true",
         ".provenance.toml:4: declaration.require: unknown key (expected one of: required, signed, "
         "detect-undeclared); did you mean 'required'?"),
        ("threshold = 1              #", "treshold = 1 #",
         ".provenance.toml:12: rule[0].treshold: unknown key"),
        ('keys = ["', 'github = "bob"\nkeys = ["',
         ".provenance.toml:26: person[0].github: unknown key"),
        ('reason = "laptop stolen"', "",
         ".provenance.toml:33: revoked-key[0].reason: missing (this key is required)"),
        ('protected-branches = ["main", "release/*"]', 'protected-branches = ["main", "a b"]',
         '.provenance.toml:16: enforcement.protected-branches[1]: must be a branch name or glob'),
        ("[enforcement]", "[enforcement]\nbranches = 1",
         ".provenance.toml:16: enforcement.branches: unknown key"),
        ('reason = "laptop stolen"\n', 'reason = "x"\n\n[[rule]]\nname = "tier-1"\npaths = ["x"]\n',
         '.provenance.toml:38: rule[1].name: duplicate rule name "tier-1"'),
        ("[[rule]]", "[rule]", ".provenance.toml:8: rule: must be an array of tables ([[rule]])"),
        ("[declaration]", "[decl]", ".provenance.toml:3: decl: unknown key"),
        ("version = 1\n\n[declaration]\n", 'version = 1\ndeclaration = "yes"\n[[rule]]\n',
         '.provenance.toml:2: declaration: must be a table ([declaration]), got "yes"'),
    ),
)
def test_every_error_names_file_line_and_key(example: str, old: str, new: str,
                                             expected: str) -> None:
    assert old in example
    assert _error(example.replace(old, new, 1)).startswith(expected)


def test_invalid_ssh_keys_are_errors_at_their_line(example: str, keys: dict[str, str]) -> None:
    garbage = example.replace(keys["bob"], "ssh-ed25519 AAAAnot-base64!! bob@laptop")
    assert _error(garbage).startswith(".provenance.toml:31: person[1].keys[0]: ")
    mismatched = example.replace(keys["bob"], "ssh-rsa " + keys["bob"].split()[1])
    assert _error(mismatched).startswith(".provenance.toml:31: person[1].keys[0]: ")
    revoked = example.replace(keys["stolen"], "not a key")
    assert _error(revoked).startswith(".provenance.toml:34: revoked-key[0].key: ")


def test_an_element_of_a_multiline_array_is_reported_at_its_own_line(
    example: str, keys: dict[str, str],
) -> None:
    old = f'keys = ["{keys["bob"]}"]'
    text = example.replace(old, f'keys = [\n  "{keys["bob"]}",\n  "junk",\n]')
    assert _error(text).startswith(".provenance.toml:33: person[1].keys[1]: ")


def test_the_same_key_on_two_people_is_an_error(example: str, keys: dict[str, str]) -> None:
    # The comment differs: keys are compared by algorithm and blob only.
    text = example.replace(keys["bob"], keys["alice"].rsplit(" ", 1)[0] + " other-comment")
    assert _error(text).startswith(
        ".provenance.toml:31: person[1].keys[0]: key already belongs to person[0] (Alice Senior)"
    )


def test_a_key_listed_twice_for_one_person_is_an_error(example: str, keys: dict[str, str]) -> None:
    text = example.replace(f'["{keys["bob"]}"]', f'["{keys["bob"]}", "{keys["bob"]}"]')
    assert _error(text).startswith(".provenance.toml:31: person[1].keys[1]: the same key is listed")


def test_a_revoked_key_may_still_be_listed_on_its_owner(example: str, keys: dict[str, str]) -> None:
    text = example.replace(f'["{keys["bob"]}"]', f'["{keys["bob"]}", "{keys["stolen"]}"]')
    policy = load_text(text)
    stolen = parse_public_key(keys["stolen"])
    assert policy.person_by_key(stolen) == policy.people[1]
    assert policy.revoked[0].key == stolen


def test_toml_syntax_errors_report_tomllib_line(example: str) -> None:
    text = example.replace("threshold = 1              #", "threshold = = 1 #")
    assert _error(text).startswith(".provenance.toml:12: syntax error: ")
    assert _error("version = 1\n[a]\n[a]\n").startswith(".provenance.toml:3: syntax error: ")
    assert _error("a = [1,").startswith(".provenance.toml:1: syntax error: ")
    assert _error("x = " + "[" * 5000).startswith(".provenance.toml:1: syntax error: ")


def test_non_utf8_bytes_are_a_clear_error_and_a_bom_is_accepted() -> None:
    assert _error(b"version = 1\n# caf\xe9\n").startswith(
        ".provenance.toml:2: encoding: not valid UTF-8"
    )
    assert load_text("\ufeffversion = 1\n".encode()).version == 1


def test_load_file_names_the_path_as_given(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("version = 1\n\n[declaration]\nsigned = 1\n")
    with pytest.raises(ProvenanceError, match=rf"^{re.escape(str(path))}:4: declaration.signed: "):
        load_file(path)
    path.write_text("version = 1\n")
    assert load_file(str(path)).source == str(path)
    with pytest.raises(ProvenanceError, match="cannot read policy"):
        load_file(tmp_path / "missing.toml")


def test_people_are_found_by_any_email_case_insensitively(keys: dict[str, str]) -> None:
    text = f"""\
version = 1
[[person]]
name = "Alice"
emails = ["Alice@Example.com", "alice@corp.example"]
roles = ["senior", "security"]
keys = ["{keys["alice"]}", "{keys["alice2"]}", "{keys["ecdsa"]}"]
"""
    policy = load_text(text)
    (alice,) = policy.people
    assert alice.emails == ("alice@example.com", "alice@corp.example")
    assert policy.person_by_email("ALICE@example.COM") is alice
    assert policy.person_by_email("alice@CORP.example") is alice
    assert policy.person_by_email("bob@example.com") is None
    assert len(alice.keys) == 3
    for name in ("alice", "alice2", "ecdsa"):
        bare = keys[name].rsplit(" ", 1)[0]  # without its comment
        assert policy.person_by_key(parse_public_key(bare)) is alice
    assert policy.person_by_key(parse_public_key(keys["bob"])) is None
    assert policy.people_with_roles(frozenset({"security", "other"})) == (alice,)
    assert policy.people_with_roles(frozenset({"other"})) == ()


def test_a_person_with_several_keys_counts_once_toward_a_threshold(keys: dict[str, str]) -> None:
    text = f"""\
version = 1
[[rule]]
name = "r"
paths = ["x/**"]
threshold = 2
[[person]]
name = "Alice"
email = "alice@example.com"
roles = ["senior"]
keys = ["{keys["alice"]}", "{keys["alice2"]}"]
"""
    assert _error(text).startswith(".provenance.toml:5: rule[0].threshold: 2 can never be met")


_TOML_BITS = st.sampled_from([
    "[", "]", "[[", "]]", "=", '"', "'", '"""', "\n", "#", ",", "{", "}", ".", "version", "rule",
    "person", "keys", "threshold", "paths", "1", "-1", "true", "1979-05-27", "3.5", "\\", "\x00",
    "\u00e9", "\ufeff", "**", "!",
])


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_policies_only_ever_raise_provenance_error(
    example: str, data: st.DataObject,
) -> None:
    text = example
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, min(len(text), start + 40)))
        insert = data.draw(st.lists(_TOML_BITS | st.text(max_size=5), max_size=4))
        text = text[:start] + "".join(insert) + text[end:]
    as_bytes = data.draw(st.booleans())
    try:
        load_text(text.encode("utf-8", "surrogatepass") if as_bytes else text)
    except ProvenanceError as e:
        assert "\n" not in str(e)
        assert re.match(r"^\.provenance\.toml:\d+: ", str(e))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_random_input_only_ever_raises_provenance_error(text: str | bytes) -> None:
    try:
        load_text(text)
    except ProvenanceError:
        pass


def test_control_characters_in_keys_and_names_stay_on_one_line() -> None:
    message = _error('version = 1\n"a\\nb" = 1\n')
    assert message.startswith(".provenance.toml:") and "a\\nb: unknown key" in message
