"""Wire format v1: the test vectors in docs/spec.md hold for the code, and its recipe works."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PROJECT, Person, Repo
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.git import git
from provenance.ssh import keyfile, signing, sshsig
from provenance.wire import digest, statement
from provenance.wire.statement import MalformedSignature, SignatureLine, Statement, parse_signature_value

VECTORS = PROJECT / "tests" / "vectors"
SPEC = (PROJECT / "docs" / "spec.md").read_text()
SAMPLE_DIGEST = "sha256:9972f4e195dbd4ce6fbbb92e125594ac20f3e0fd26e5508330556e91fcf9140e"
AGENT = {"CLAUDECODE": "1"}

DECLARE = Statement(
    "declare", SAMPLE_DIGEST, "Bob@Example.com", "bob@example.com", ai_assisted=True,
    assisted_by=("claude-code:claude-opus-4-6", "claude-code"),
)
COSIGN = Statement(
    "cosign", SAMPLE_DIGEST, "bob@example.com", "alice@example.com",
    policy="5b1d0a3c" + "0" * 32, covers=("sha256:" + "b" * 64, "sha256:" + "a" * 64),
)


def vector(name: str) -> bytes:
    return (VECTORS / name).read_bytes()


def recipe() -> str:
    match = re.search(r"<!-- recipe: verify-commit.sh -->\n```sh\n(.*?)```", SPEC, re.S)
    assert match, "docs/spec.md lost its verify-commit.sh recipe"
    return match.group(1)


@pytest.fixture
def test_key(tmp_path: Path) -> Path:
    """The published test key, copied with the 0600 mode ssh tools insist on."""
    path = tmp_path / "test_key"
    shutil.copy(VECTORS / "test_key", path)
    path.chmod(0o600)
    return path


# ---- vectors -----------------------------------------------------------------------------------


def test_sample_patch_has_the_published_digest() -> None:
    patch = vector("sample.patch")
    assert digest.digest_of_patch(patch.splitlines(keepends=True)) == SAMPLE_DIGEST
    assert "sha256:" + hashlib.sha256(vector("sample.normalised")).hexdigest() == SAMPLE_DIGEST
    assert f"Digest: `{SAMPLE_DIGEST}`" in SPEC


def test_spec_shows_the_vector_files_verbatim() -> None:
    for name in ("sample.patch", "sample.normalised", "declare.statement", "cosign.statement",
                 "declare.sig", "declare.note", "allowed_signers", "test_key.pub"):
        assert vector(name).decode().rstrip("\n") in SPEC, name


def test_statement_bytes_are_exactly_the_vectors() -> None:
    assert DECLARE.to_bytes() == vector("declare.statement")
    assert COSIGN.to_bytes() == vector("cosign.statement")


def test_cosign_lines_order_covers_then_policy_then_signer() -> None:
    lines = COSIGN.to_bytes().decode().splitlines()
    assert lines[0] == "git-provenance-statement v1"
    assert [ln.split()[0] for ln in lines] == [
        "git-provenance-statement", "role", "change", "author", "covers", "covers", "policy",
        "signer",
    ]
    assert not any(ln.startswith(("ai-assisted", "assisted-by")) for ln in lines)


def test_vector_signature_verifies_in_process_and_is_reproducible(test_key: Path) -> None:
    blob = sshsig.dearmor(vector("declare.sig").decode())
    signer = sshsig.verify(blob, vector("declare.statement"))
    assert signer == keyfile.public_key_of(VECTORS / "test_key.pub")
    # Ed25519 is deterministic: the code signs the vector statement to the very same blob.
    assert signing.sign(DECLARE.to_bytes(), test_key) == blob
    assert sshsig.b64(blob) in SPEC
    with pytest.raises(sshsig.InvalidSignature):
        sshsig.verify(blob, vector("declare.statement").replace(b"yes", b"no!"))


def test_vector_signature_verifies_with_ssh_keygen(tmp_path: Path) -> None:
    def verify(message: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["ssh-keygen", "-Y", "verify", "-f", str(VECTORS / "allowed_signers"),
             "-I", "bob@example.com", "-n", "git-provenance", "-s", str(VECTORS / "declare.sig")],
            input=message, capture_output=True, check=False,
        )

    good = verify(vector("declare.statement"))
    assert good.returncode == 0, good.stderr
    assert b'Good "git-provenance" signature for bob@example.com' in good.stdout
    assert verify(vector("declare.statement") + b"\n").returncode != 0


def test_ssh_keygen_signature_of_the_vector_verifies_in_process(test_key: Path) -> None:
    msg = test_key.parent / "statement"
    msg.write_bytes(vector("declare.statement"))
    subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-n", "git-provenance", "-f", str(test_key),
                    str(msg)], check=True, capture_output=True, stdin=subprocess.DEVNULL)
    blob = sshsig.dearmor((test_key.parent / "statement.sig").read_text())
    assert sshsig.verify(blob, vector("declare.statement")) == keyfile.public_key_of(test_key)


def test_spec_pins_every_option_git_py_pins() -> None:
    text = recipe()
    for pair in zip(git.PINNED_DIFF_CONFIG[::2], git.PINNED_DIFF_CONFIG[1::2], strict=True):
        assert " ".join(pair) in text, pair
    for option in git.PINNED_DIFF_OPTIONS:
        assert option in text, option
    assert "diff-tree -p --cc --root -r" in text and "--no-commit-id" in text


# ---- the recipe verifies real commits ----------------------------------------------------------


def run_recipe(repo: Repo, people: dict[str, Person], rev: str) -> subprocess.CompletedProcess[bytes]:
    script = repo.home / "verify-commit.sh"
    script.write_text(recipe())
    signers = repo.home / "allowed_signers"
    signers.write_text("".join(
        sshsig.allowed_signers_line([p.email], keyfile.public_key_of(p.key)) + "\n"
        for p in people.values()
    ))
    return repo.run("sh", str(script), rev, str(signers), check=False)


def test_recipe_verifies_commits_made_through_the_hooks(repo: Repo, people: dict[str, Person]) -> None:
    bob = people["bob"]
    loud = Person(bob.name, "Bob@Example.COM", bob.key)
    repo.commit(loud, "Agent work", {"src/a b.py": "def f():\n    return 1\n", "logo.bin": "\0\1"},
                env=AGENT)
    repo.commit(bob, "Human work", {"src/a b.py": "def f():\n    return 2\n", "logo.bin": "\0\2"})
    assert "Assisted-by: claude-code" in repo.message("HEAD~1")
    # HEAD~2 is the root commit adopting the policy: its statement carries a `policy` line.
    for rev in ("HEAD", "HEAD~1", "HEAD~2"):
        proc = run_recipe(repo, people, rev)
        assert proc.returncode == 0, (rev, proc.stderr.decode())
        assert b'Good "git-provenance" signature' in proc.stdout


def test_recipe_rejects_a_declaration_copied_onto_other_content(
    repo: Repo, people: dict[str, Person],
) -> None:
    repo.commit(people["bob"], "Human work", {"a.txt": "one\n"})
    repo.write("a.txt", "two\n")
    repo.git("add", "a.txt")
    message = repo.message()
    repo.run("git", "commit", "-q", "--amend", "-m", message,
             env={**repo.as_person(people["bob"]), "PROVENANCE_SKIP": "1"})
    proc = run_recipe(repo, people, "HEAD")
    assert proc.returncode != 0
    assert b"digest mismatch" in proc.stderr


# ---- parse_signature_value ---------------------------------------------------------------------

GOOD = f"v1 declare bob@example.com {SAMPLE_DIGEST} " + sshsig.b64(b"x" * 60)


def test_parse_round_trips_a_value() -> None:
    sig = parse_signature_value(GOOD)
    assert (sig.role, sig.signer, sig.change) == ("declare", "bob@example.com", SAMPLE_DIGEST)
    assert sig.value() == GOOD


def test_parse_rejoins_folded_base64_and_lowercases_the_signer() -> None:
    b64 = sshsig.b64(b"y" * 90)
    folded = f"v1 cosign Alice@Example.com {SAMPLE_DIGEST} {b64[:20]} {b64[20:50]}\n  {b64[50:]}"
    sig = parse_signature_value(folded)
    assert sig.signature_b64 == b64
    assert sig.signer == "alice@example.com"


@pytest.mark.parametrize("value", [
    "",
    f"v1 declare bob@example.com {SAMPLE_DIGEST}",
    GOOD.replace("v1 ", "v2 ", 1),
    GOOD.replace("v1 ", "V1 ", 1),
    GOOD.replace("declare", "approve"),
    GOOD.replace("declare", "Declare"),
    GOOD.replace("bob@example.com", "bob"),
    GOOD.replace("bob@example.com", "bob@@example.com"),
    GOOD.replace("sha256:", "sha512:"),
    GOOD.replace(SAMPLE_DIGEST, SAMPLE_DIGEST.upper().replace("SHA256", "sha256")),
    GOOD.replace(SAMPLE_DIGEST, SAMPLE_DIGEST[:-1]),
    GOOD.replace(SAMPLE_DIGEST, SAMPLE_DIGEST + "0"),
    GOOD + "A",
    GOOD + "!",
    GOOD.replace(" v1", "") + " =",
    GOOD.rsplit(" ", 1)[0] + " A===",
    GOOD.rsplit(" ", 1)[0] + " AAA",
])
def test_parse_rejects_malformed_values(value: str) -> None:
    with pytest.raises(MalformedSignature):
        parse_signature_value(value)


# Valid fields, at most one of them a step from valid: the one-regex fast path must accept exactly
# what the field-by-field rules accept.
VALID = {"version": "v1", "role": "declare", "signer": "Bob@Example.com", "change": SAMPLE_DIGEST,
         "b64": sshsig.b64(b"x" * 60)}
BROKEN = {
    "version": ["V1", "v2", ""],
    "role": ["Declare", "approve", "cosign"],
    "signer": ["bob", "a@b@c", "@x", "b@", "b\u00f6b@x", "b\x1cb@x", "bob@x\u2003"],
    "change": [SAMPLE_DIGEST.upper(), SAMPLE_DIGEST[:-1], SAMPLE_DIGEST + "0",
               "sha512:" + SAMPLE_DIGEST[7:]],
    "b64": [sshsig.b64(b"x" * 61), sshsig.b64(b"x" * 62), sshsig.b64(b"x" * 61) + "=", "AAA",
            "AAAAA", "AA=A", "A===", "A!==", "AAAA AAAA", "AB\n  CD", "===="],
}
SEPARATOR = st.sampled_from([" "] * 8 + ["  ", "\t", "\n ", "\u00a0", "\x1c"])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([None, *BROKEN]), st.data(),
       st.one_of(st.just([" "] * 4), st.lists(SEPARATOR, min_size=4, max_size=4)),
       st.sampled_from(["", "", "", " ", "\n"]))
def test_parse_agrees_with_the_field_by_field_rules(
        broken: str | None, data: st.DataObject, seps: list[str], edge: str,
) -> None:
    fields = dict(VALID)
    if broken is not None:
        fields[broken] = data.draw(st.sampled_from(BROKEN[broken]))
    order = [fields[name] for name in ("version", "role", "signer", "change", "b64")]
    value = edge + "".join(f + sep for f, sep in zip(order, [*seps, ""], strict=True)) + edge
    try:
        expected: SignatureLine | str = statement._parse_fields(value)
    except MalformedSignature as e:
        expected = str(e)
    try:
        got: SignatureLine | str = parse_signature_value(value)
    except MalformedSignature as e:
        got = str(e)
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(
    role=st.sampled_from(["declare", "cosign"]),
    author=st.sampled_from(["Bob@Example.com", "b\u00f6b@x"]),
    ai=st.sampled_from([True, False, None]),
    assisted_by=st.lists(st.sampled_from(["aider:gpt-4o", "claude-code", "b", "a"]), max_size=3),
    covers=st.lists(st.sampled_from(["sha256:" + "1" * 64, "sha256:" + "0" * 64]), max_size=3),
    policy=st.sampled_from([None, "a" * 40]),
)
def test_statement_bytes_are_the_lines_of_the_spec_in_order(
        role: str, author: str, ai: bool | None, assisted_by: list[str], covers: list[str],
        policy: str | None,
) -> None:
    stmt = Statement(role, SAMPLE_DIGEST, author, "Alice@Example.com", ai_assisted=ai,
                     assisted_by=tuple(assisted_by), policy=policy, covers=tuple(covers))
    lines = ["git-provenance-statement v1", f"role {role}", f"change {SAMPLE_DIGEST}",
             f"author {author.lower()}"]
    if role == "declare":
        lines.append(f"ai-assisted {'yes' if ai else 'no'}")
        lines += [f"assisted-by {v}" for v in sorted(set(assisted_by))]
    lines += [f"covers {d}" for d in sorted(set(covers))]
    lines += [f"policy {policy}"] if policy is not None else []
    lines.append("signer alice@example.com")
    assert stmt.to_bytes() == "".join(line + "\n" for line in lines).encode()
