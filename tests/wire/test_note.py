"""Declarations in notes: one `Provenance-Declaration` line, its values with its signature."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.ssh import sshsig
from provenance.wire import note
from provenance.wire.statement import MalformedSignature, SignatureLine, Statement

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
SAMPLE_DIGEST = "sha256:9972f4e195dbd4ce6fbbb92e125594ac20f3e0fd26e5508330556e91fcf9140e"
B64 = sshsig.b64(b"x" * 60)
GOOD = f"v1 bob@example.com {SAMPLE_DIGEST} yes by=claude-code {B64}"


def test_the_note_vector_rebuilds_the_vector_statement_and_ssh_keygen_verifies_it(
        tmp_path: Path) -> None:
    key, _, value = (VECTORS / "declare.note").read_text().strip().partition(": ")
    assert key == note.KEY_DECLARATION
    d = note.parse_declaration_value(value)
    stmt = Statement("declare", d.signature.change, "bob@example.com", d.signature.signer,
                     ai_assisted=d.ai, assisted_by=d.assisted_by)
    assert stmt.to_bytes() == (VECTORS / "declare.statement").read_bytes()
    armoured = tmp_path / "sig"
    armoured.write_text(sshsig.armor(sshsig.unb64(d.signature.signature_b64)))
    proc = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(VECTORS / "allowed_signers"), "-I",
         "bob@example.com", "-n", "git-provenance", "-s", str(armoured)],
        input=stmt.to_bytes(), capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert note.declaration_line(d.signature, d.ai, d.assisted_by) == f"{key}: {value}"


@settings(max_examples=300, deadline=None)
@given(st.booleans(), st.lists(st.text(max_size=12), max_size=4))
def test_any_values_round_trip_as_one_line(ai: bool, values: list[str]) -> None:
    sig = SignatureLine("declare", "bob@example.com", SAMPLE_DIGEST, B64)
    line = note.declaration_line(sig, ai, values)
    assert "\n" not in line and "\r" not in line
    key, _, value = line.partition(": ")
    d = note.parse_declaration_value(value)
    assert (d.signature, d.ai, d.assisted_by) == (sig, ai, tuple(sorted(set(values))))


@pytest.mark.parametrize("value", [
    "",
    f"v1 bob@example.com {SAMPLE_DIGEST} yes",
    GOOD.replace(" yes ", " maybe "),
    GOOD.replace("by=claude-code", "claude-code"),
    GOOD.replace("v1 ", "v2 ", 1),
    GOOD.replace("bob@example.com", "bob"),
    GOOD.replace(SAMPLE_DIGEST, "sha256:abc"),
    GOOD.replace(B64, B64[:-1]),
    GOOD + " by=late",
])
def test_malformed_declaration_values_raise_malformed_signature(value: str) -> None:
    with pytest.raises(MalformedSignature):
        note.parse_declaration_value(value)


def test_only_declare_signatures_make_declaration_lines() -> None:
    from provenance.errors import ProvenanceError

    with pytest.raises(ProvenanceError):
        note.declaration_line(SignatureLine("cosign", "a@example.com", SAMPLE_DIGEST, B64), True, ())
