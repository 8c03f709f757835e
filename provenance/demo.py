"""`demo`: a sample repository built with the real hooks and co-signs, then audited."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from provenance import git, sshsig
from provenance.errors import ProvenanceError

PEOPLE = {
    "alice": ("Alice Senior", "alice@example.com", ["senior"]),
    "bob": ("Bob Developer", "bob@example.com", []),
    "jun": ("Jun Junior", "jun@example.com", []),
}
POLICY_HEAD = """\
version = 1

[declaration]
required = true
signed = true
detect-undeclared = true

[[rule]]
name = "tier-1"
description = "Payments and checkout: an AI-assisted change needs a senior's co-sign."
paths = ["payments/**", "checkout/**"]
cosign-roles = ["senior"]
threshold = 1
applies-to = "ai-assisted"

[policy-changes]
cosign-roles = ["senior"]
threshold = 1
"""

# (who, agent environment, message, files); the story the audit then tells.
STORY: list[tuple[str, dict[str, str], str, dict[str, str]]] = [
    ("bob", {}, "Describe the shop", {"README.md": "# Shop\n\nA tiny shop.\n"}),
    ("bob", {"CLAUDECODE": "1"}, "Add refunds to the payment service",
     {"payments/refund.py": "def refund(order, amount):\n    return order.charge(-amount)\n"}),
    ("jun", {"CURSOR_AGENT": "1"}, "Document the refund flow",
     {"docs/refunds.md": "# Refunds\n\nCall `refund(order, amount)`.\n"}),
    ("bob", {}, "Validate refund amounts",
     {"payments/refund.py": "def refund(order, amount):\n    assert 0 < amount <= order.total\n"
                            "    return order.charge(-amount)\n"}),
    ("jun", {"CODEX_THREAD_ID": "demo-thread"}, "Apply discount codes at checkout",
     {"checkout/discount.py": "def apply(cart, code):\n    cart.total *= 0.5  # every code halves\n"}),
]


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return git.text(list(args), cwd=repo, env=env)


def _as(who: str, keys: Path) -> dict[str, str]:
    name, email, _ = PEOPLE[who]
    return {
        "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
        "GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "user.email", "GIT_CONFIG_VALUE_0": email,
        "GIT_CONFIG_KEY_1": "provenance.signingKey", "GIT_CONFIG_VALUE_1": str(keys / who),
    }


def build(directory: Path) -> Path:
    """Create the sample repository in `directory`; return its path."""
    if directory.exists() and any(directory.iterdir()):
        raise ProvenanceError(f"{directory} is not empty: give the demo a new directory")
    keys, repo = directory / "keys", directory / "shop"
    keys.mkdir(parents=True)
    policy = [POLICY_HEAD]
    for who, (name, email, roles) in PEOPLE.items():
        key = sshsig.keygen(keys / who, email)
        policy.append(f'\n[[person]]\nname = "{name}"\nemail = "{email}"\nroles = {roles!r}\n'
                      f'keys = ["{key.openssh()}"]\n'.replace("'", '"'))
    git.run(["init", "-q", "-b", "main", str(repo)])
    from provenance.install import install

    install(cwd=repo, python=sys.executable)
    for var in [v for v in os.environ if v in ("CLAUDECODE", "CURSOR_AGENT", "CODEX_THREAD_ID")]:
        os.environ.pop(var)  # the story sets each agent itself
    (repo / ".provenance.toml").write_text("".join(policy))
    _git(repo, "add", ".provenance.toml")
    _git(repo, "commit", "-q", "-m", "Adopt git-provenance", env=_as("alice", keys))
    shas = []
    for who, agent, message, files in STORY:
        for rel, content in files.items():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            (repo / rel).write_text(content)
            _git(repo, "add", rel)
        _git(repo, "commit", "-q", "-m", message, env={**_as(who, keys), **agent})
        shas.append(_git(repo, "rev-parse", "HEAD"))
    # Alice reviews Bob's AI-assisted refund change and co-signs it in a note: no history rewrite.
    _git(repo, "-c", "core.hooksPath=/dev/null", "config", "provenance.trustRoot",
         _git(repo, "rev-list", "--max-parents=0", "HEAD"))
    from provenance import cosign

    os.environ.update(_as("alice", keys))
    try:
        cosign.store_as_note(cosign.build_cosign(shas[1], cwd=repo), cwd=repo)
    finally:
        for var in _as("alice", keys):
            os.environ.pop(var, None)
    return repo


def run(directory: Path | None) -> int:
    target = directory or Path(tempfile.mkdtemp(prefix="provenance-demo-"))
    repo = build(target)
    print(f"Built a sample shop repository in {repo}\n")
    print(_git(repo, "log", "--format=  %h %<(14,trunc)%an %s  [%(trailers:key=AI-Assisted,valueonly,"
                     "separator=)%(trailers:key=Assisted-by,valueonly,separator=%x2c)]"))
    print("\n$ git provenance audit\n")
    sys.stdout.flush()
    from provenance.audit.run import run_audit

    status = run_audit(None, None, None, "text", repo)
    print(f"""
What you just saw (the audit exited {status}):
  - every commit carries a signed `AI-Assisted:` declaration, written by the hooks, which
    detected Claude Code, Cursor and Codex from their environment;
  - Bob's AI-assisted refund change touches payments/ (rule tier-1) and Alice, a senior,
    co-signed it in a git note: it passes;
  - Jun's Codex change to checkout/ has no senior co-sign: that is the violation, and the
    audit prints the command that fixes it.
Try next:
  cd {repo}
  git provenance show HEAD
  GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=provenance.signingKey GIT_CONFIG_VALUE_0={target / 'keys' / 'alice'} \\
    git -c user.email=alice@example.com provenance cosign HEAD   # Alice approves; audit again
""")
    return 0
