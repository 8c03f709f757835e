"""The reference docs stand on their own: no design document the repository does not ship, no file
outside it, every repository path they name exists, and docs/policy.md's error examples are what the
commands print (real path forms, real line numbers)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT, Person, clean_env
from sshkeys import make_key

STANDALONE = ("README.md", "docs/spec.md", "docs/policy.md", "docs/hooks.md")
POLICY_DOC = PROJECT / "docs" / "policy.md"
# Each error example of docs/policy.md, in order: the one change to the complete example.
MUTATIONS = (
    ("threshold = 1              # distinct", 'threshold = "two"          # distinct'),
    ("threshold = 1              # distinct", "threshold = 2              # distinct"),
    ('paths = ["payments/**", "checkout/**"]', 'paths = ["payments/**", "!checkout/**"]'),
    ('emails = ["bob@example.com"', 'emails = ["alice@example.com"'),
    ("required = true ", "require = true  "),
    ("threshold = 1              # distinct", "threshold = one            # distinct"),
)


@pytest.mark.parametrize("doc", STANDALONE)
def test_a_reference_doc_cites_nothing_outside_the_repository(doc: str) -> None:
    text = (PROJECT / doc).read_text()
    assert "DESIGN" not in text and "/work/" not in text and "research/" not in text
    for path in re.findall(r"`((?:provenance|tests|docs|bench|hooks|man)/[\w./-]+\.\w+)`", text):
        assert (PROJECT / path).exists(), f"{doc} names {path}, which does not exist"


def _complete_example(tmp_path: Path) -> str:
    """docs/policy.md's complete example, with real keys where it shows `AAAA...`."""
    text = re.search(r"## A complete example\n\n```toml\n(.*?)```", POLICY_DOC.read_text(), re.S)
    assert text is not None
    example = text.group(1)
    for n, found in enumerate(re.findall(r'"((?:ssh-ed25519|ecdsa-sha2-nistp256) AAAA[^"]*)"', example)):
        kind = "ecdsa" if found.startswith("ecdsa") else "ed25519"
        real = (make_key(tmp_path, f"k{n}", kind).with_suffix(".pub")).read_text().split()[:2]
        example = example.replace(found, " ".join(real) + " " + found.split()[-1], 1)
    return example


def _examples(heading_text: str) -> list[str]:
    doc = POLICY_DOC.read_text()
    block = doc[doc.index(heading_text):]
    return re.search(r"```\n(.*?)```", block, re.S).group(1).splitlines()  # type: ignore[union-attr]


def test_the_complete_example_loads(tmp_path: Path, people: dict[str, Person]) -> None:
    from provenance.policy.schema import load_text

    assert [r.name for r in load_text(_complete_example(tmp_path)).rules] == ["tier-1"]


def test_the_error_examples_are_what_the_commands_print(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    env = clean_env(tmp_path)
    subprocess.run(["git", "init", "-q", str(shop)], check=True, env=env)
    example = _complete_example(tmp_path)
    printed = []
    for old, new in MUTATIONS:
        assert old in example
        (shop / ".provenance.toml").write_text(example.replace(old, new, 1))
        proc = subprocess.run([sys.executable, "-m", "provenance", "allowed-signers"], cwd=shop, env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 2
        printed.append(proc.stderr.rstrip("\n").replace(str(shop), "/home/alice/src/shop"))
    assert printed == _examples("order. Examples, each from")


def test_the_audit_names_a_committed_policy_by_its_commit(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    env = clean_env(tmp_path)
    git = ["git", "-c", "user.name=A", "-c", "user.email=alice@example.com"]
    subprocess.run([*git, "init", "-q", str(shop)], check=True, env=env)
    (shop / ".provenance.toml").write_text(_complete_example(tmp_path).replace(*MUTATIONS[0]))
    subprocess.run([*git, "add", "-A"], cwd=shop, check=True, env=env)
    subprocess.run([*git, "commit", "-q", "-m", "Adopt"], cwd=shop, check=True, env=env)
    sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=shop, env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    proc = subprocess.run([sys.executable, "-m", "provenance", "audit"], cwd=shop, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert [proc.stderr.rstrip("\n").replace(sha, "1a2b3c4d5e6f")] == _examples("and the first of them as")
