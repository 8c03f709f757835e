"""Bounded fuzzing: parsers and the judge only ever raise the exceptions they define.

More fuzzers live next to their modules: tests/wire/test_trailers.py (parse vs git),
tests/policy/test_schema.py (mutated and random policy files), tests/ssh/test_sshsig.py (random and
mutated SSHSIG blobs).
"""

from __future__ import annotations

import base64
import json
import tomllib
from pathlib import Path

import factory as f
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provenance.audit.judge import judge
from provenance.audit.records import VERDICT_CODES, CommitRecord, NoteAttestation
from provenance.errors import ProvenanceError
from provenance.policy import schema
from provenance.ssh import sshsig
from provenance.ssh.sshsig import parse_public_key
from provenance.wire import trailers
from provenance.wire.statement import MalformedSignature, parse_signature_value

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64

# ---- the trailer parser ------------------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(list("\udcff\udc80\r\n\t :#-")),
               max_size=300)


@FUZZ
@given(message=TEXT, comment=st.sampled_from(["#", ";", "%"]))
def test_trailer_parse_never_crashes_and_returns_clean_pairs(message: str, comment: str) -> None:
    for key, value in trailers.parse(message, comment_char=comment):
        assert key and key == key.strip(" \t")
        assert "\n" not in value and value == value.strip(" \t\n\r")
    start, end = trailers.block_span(message, comment_char=comment)
    assert 0 <= start <= end <= len(message)


@FUZZ
@given(message=TEXT)
def test_remove_undoes_add_on_any_message(message: str) -> None:
    # git refuses a message holding NUL ("a NUL byte in commit log message not allowed"), and git
    # reads nothing after one: add() places the block before it, so remove() cannot restore it.
    message = message.replace("\0", "")
    new = [("Provenance-Signature", "v1 declare a@example.com " + D1 + " AAAA"), ("AI-Assisted", "yes")]
    if any(k.lower() in ("provenance-signature", "ai-assisted") for k, _ in trailers.parse(message)):
        return
    added = trailers.add(message, new)
    assert trailers.parse(added)[-2:] == new
    assert trailers.remove(added, {"provenance-signature", "ai-assisted"}) == message


# ---- the policy loader on structured documents -------------------------------------------------

KEYS = ["version", "declaration", "required", "signed", "detect-undeclared", "rule", "name", "paths",
        "cosign-roles", "threshold", "applies-to", "person", "email", "emails", "roles", "keys",
        "revoked-key", "key", "reason", "policy-changes", "enforcement", "protected-branches", "x"]
SCALARS = st.one_of(st.integers(-2, 3), st.booleans(),
                    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=12),
                    st.sampled_from(["senior", "payments/**", "ai-assisted", "all", "a@example.com",
                                     "ssh-ed25519 AAAA", "[", "**/", "!x"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(KEYS), inner, max_size=4), max_leaves=12)


def _toml(doc: dict[str, object]) -> str:
    """A tiny TOML writer (inline tables and arrays) for generated documents."""
    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)  # JSON string escapes are valid TOML ones
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        assert isinstance(v, dict)
        return "{" + ", ".join(f'"{k}" = {value(x)}' for k, x in v.items()) + "}"
    return "".join(f'"{k}" = {value(v)}\n' for k, v in doc.items())


@FUZZ
@given(doc=st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6))
def test_structured_policy_documents_load_or_raise_one_provenance_error(doc: dict[str, object]) -> None:
    text = _toml(doc)
    tomllib.loads(text)  # the generator writes valid TOML: the loader sees real structures
    try:
        schema.load_text(text)
    except ProvenanceError as e:
        assert "\n" not in str(e) and str(e).startswith(".provenance.toml")


# ---- SSHSIG decoding of well-framed but hostile blobs -------------------------------------------


def _string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


FIELD = st.one_of(st.binary(max_size=40), st.sampled_from([
    b"ssh-ed25519", b"rsa-sha2-512", b"ecdsa-sha2-nistp256", b"sha512", b"sha256", b"git-provenance", b""]))


@FUZZ
@given(version=st.sampled_from([0, 1, 2, 2**32 - 1]), key_type=FIELD, key_data=FIELD,
       namespace=FIELD, reserved=FIELD, hash_alg=FIELD, sig_type=FIELD, sig_data=FIELD,
       tail=st.binary(max_size=4))
def test_sshsig_decoder_only_raises_invalid_signature(
        version: int, key_type: bytes, key_data: bytes, namespace: bytes, reserved: bytes,
        hash_alg: bytes, sig_type: bytes, sig_data: bytes, tail: bytes) -> None:
    blob = (b"SSHSIG" + version.to_bytes(4, "big") + _string(_string(key_type) + _string(key_data))
            + _string(namespace) + _string(reserved) + _string(hash_alg)
            + _string(_string(sig_type) + _string(sig_data)) + tail)
    with pytest.raises(sshsig.InvalidSignature):
        sshsig.verify(blob, b"message")
    with pytest.raises(sshsig.InvalidSignature):
        sshsig.verify(sshsig.unb64(base64.b64encode(blob).decode()), b"message")


@FUZZ
@given(kind=st.sampled_from(["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "sk-ssh-ed25519@openssh.com",
                             "x"]),
       blob=st.binary(max_size=80), comment=st.text(max_size=10))
def test_public_key_lines_parse_or_raise_one_provenance_error(kind: str, blob: bytes, comment: str) -> None:
    line = f"{kind} {base64.b64encode(_string(kind.encode()) + blob).decode()} {comment}"
    try:
        key = parse_public_key(line)
    except ProvenanceError as e:
        assert "\n" not in str(e)
    else:
        assert key.algorithm == kind


# ---- signature values and the judge on random trailer sets -------------------------------------


@FUZZ
@given(value=st.text(max_size=200) | st.builds(
    " ".join, st.lists(st.sampled_from(["v1", "v2", "declare", "cosign", "a@b", D1, "AAAA", "====", "@"]),
                       max_size=7)))
def test_signature_values_parse_or_raise_malformed_signature(value: str) -> None:
    try:
        line = parse_signature_value(value)
    except MalformedSignature:
        return
    assert line.role in ("declare", "cosign") and line.change.startswith("sha256:")
    assert parse_signature_value(line.value()) == line


@pytest.fixture(scope="module")
def ppl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, f.Actor]:
    d: Path = tmp_path_factory.mktemp("fuzz-keys")
    return {n: f.actor(d, n.title(), f"{n}@example.com") for n in ("alice", "bob", "stranger")}


@pytest.fixture(scope="module")
def material(ppl: dict[str, f.Actor]) -> tuple[schema.Policy, list[str]]:
    """A policy, and real signature values (valid and stale, every role) for the fuzzer to mix."""
    pol = schema.load_text(f.PolicySpec(
        people=[(ppl["alice"], ["senior"]), (ppl["bob"], [])],
        rules=[{"name": "r", "paths": ["payments/**"]}]).text())
    values = []
    for who in ppl.values():
        for change in (D1, D2):
            values.append(f.signature(who, "cosign", change, "bob@example.com"))
            values.append(f.signature(who, "declare", change, "bob@example.com", ai=True))
            values.append(f.signature(who, "declare", change, "bob@example.com", ai=False))
    return pol, values


@FUZZ
@given(data=st.data())
def test_the_judge_never_crashes_on_random_trailer_sets(
        material: tuple[schema.Policy, list[str]], data: st.DataObject) -> None:
    pol, values = material
    sig_value = st.sampled_from(values) | st.sampled_from(values).map(lambda v: v[:-6]) | st.text(max_size=60)
    trailer = st.one_of(
        st.tuples(st.just("AI-Assisted"), st.sampled_from(["yes", "no", "YES", "maybe", ""])),
        st.tuples(st.just("Assisted-by"), st.text(max_size=20)),
        st.tuples(st.sampled_from(["Provenance-Signature", "provenance-signature"]), sig_value),
        st.tuples(st.text(min_size=1, max_size=10), st.text(max_size=10)),
    )
    found = data.draw(st.lists(trailer, max_size=8))
    ai_values = st.lists(st.sampled_from(["yes", "no", "?"]), max_size=2)
    noted = data.draw(st.lists(st.tuples(sig_value, ai_values), max_size=3))
    record = CommitRecord(
        sha="c" * 40, parents=tuple(data.draw(st.lists(st.just("p" * 40), max_size=2))),
        author_name="Bob", author_email=data.draw(st.sampled_from(["bob@example.com", "BOB@example.com",
                                                                     "\u0430lice@example.com"])),
        committer_name="Bob", committer_email="bob@example.com", author_time=0, message="m",
        trailers=tuple(found), paths=tuple(data.draw(st.lists(st.sampled_from(
            ["payments/a.py", "app.py", ".provenance.toml"]), max_size=3))),
        digest=data.draw(st.sampled_from([D1, D2])))
    notes = [NoteAttestation(value=v, note_commit=data.draw(st.sampled_from(["c" * 40, "e" * 40])),
                             ai_assisted=tuple(ai)) for v, ai in noted]
    revoked = frozenset(data.draw(st.sets(st.sampled_from(pol.people[0].keys), max_size=1)))
    result = judge(record, pol, notes, revoked)
    assert {v.code for v in result.violations} <= set(VERDICT_CODES)
    assert all(v.message and "\n" not in v.message for v in result.violations)
