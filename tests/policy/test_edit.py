"""Editing a policy as text: the starter file, and registering a key while keeping comments."""
# ruff: noqa: F811 (a fixture imported from test_schema is named again by each test using it)

from __future__ import annotations

import pytest
from test_schema import example, keys  # noqa: F401 (test_schema's fixtures, used here too)

from provenance.errors import ProvenanceError
from provenance.policy.edit import add_person_key, starter_policy
from provenance.policy.schema import load_text
from provenance.ssh.sshsig import parse_public_key


def test_starter_policy_loads_with_and_without_a_key(keys: dict[str, str]) -> None:
    with_key = load_text(starter_policy("Zoë \"Z\" O'Neil", "Zoe@Example.com", keys["alice"]))
    (person,) = with_key.people
    assert (person.name, person.emails) == ("Zoë \"Z\" O'Neil", ("zoe@example.com",))
    assert person.roles == frozenset({"senior"})
    assert person.keys == (parse_public_key(keys["alice"]),)
    assert with_key.rules and with_key.rules[0].threshold == 1
    without = load_text(starter_policy("Zoe", "zoe@example.com", None))
    assert without.people[0].keys == ()
    with pytest.raises(ProvenanceError):
        starter_policy("Zoe", "not-an-email", None)


def test_add_person_key_appends_to_an_existing_person_and_keeps_comments(
    example: str, keys: dict[str, str],
) -> None:
    text = add_person_key(example, "ignored", "ALICE@example.com", keys["alice2"])
    policy = load_text(text)
    assert policy.people[0].keys == tuple(parse_public_key(keys[k]) for k in ("alice", "alice2"))
    assert text.count("#") == example.count("#")
    assert text.splitlines()[25].startswith('keys = ["ssh-ed25519 ')
    assert add_person_key(text, "x", "alice@example.com", keys["alice2"]) == text  # idempotent


def test_add_person_key_edits_multiline_and_empty_arrays(keys: dict[str, str]) -> None:
    base = starter_policy("Zoe", "zoe@example.com", None)
    one = add_person_key(base, "Zoe", "zoe@example.com", keys["alice"])
    two = add_person_key(one, "Zoe", "zoe@example.com", keys["alice2"])
    assert len(load_text(two).people[0].keys) == 2
    multi = two.replace('keys = ["', 'keys = [  # laptops\n    "').replace(
        '", "ssh', '",  # old\n    "ssh').replace('laptop"]', 'laptop"  # new\n]')
    assert len(load_text(multi).people[0].keys) == 2
    three = add_person_key(multi, "Zoe", "zoe@example.com", keys["carol"])
    assert len(load_text(three).people[0].keys) == 3
    assert "# old" in three and "# new" in three and "# laptops" in three


def test_add_person_key_adds_a_keys_line_or_a_new_person(keys: dict[str, str]) -> None:
    text = 'version = 1\n\n[[person]]\nname = "Bob"\nemail = "bob@example.com"\n'
    text += 'roles = ["senior"]\n\n# next\n'
    added = add_person_key(text, "Bob", "bob@example.com", keys["bob"])
    assert load_text(added).people[0].keys == (parse_public_key(keys["bob"]),)
    assert added.endswith("# next\n")
    new = add_person_key(added, "Carol C", "carol@example.com", keys["carol"])
    carol = load_text(new).person_by_email("carol@example.com")
    assert carol is not None and carol.name == "Carol C" and carol.roles == frozenset()
    assert new.startswith(added)


def test_add_person_key_refuses_revoked_and_foreign_keys(
    example: str, keys: dict[str, str],
) -> None:
    with pytest.raises(ProvenanceError, match="revoked"):
        add_person_key(example, "Bob", "bob@example.com", keys["stolen"])
    with pytest.raises(ProvenanceError, match="already belongs to Alice Senior"):
        add_person_key(example, "Bob", "bob@example.com", keys["alice"])
    with pytest.raises(ProvenanceError):
        add_person_key(example, "Bob", "bob@example.com", "ssh-ed25519 garbage")
