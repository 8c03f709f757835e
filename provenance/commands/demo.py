"""`demo`: a sample repository built with the real hooks and co-signs, then audited."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.ssh import keyfile

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
    ("bob", {"CLAUDECODE": "1"}, "Refund to the original card",
     {"payments/refund.py": "def refund(order, amount):\n    assert 0 < amount <= order.total\n"
                            "    return order.card.credit(amount)\n"}),
    ("jun", {"CODEX_THREAD_ID": "demo-thread"}, "Apply discount codes at checkout",
     {"checkout/discount.py": "def apply(cart, code):\n    cart.total *= 0.5  # every code halves\n"}),
]
# The story spans a few weeks so that `git provenance report --html` has a timeline to draw:
# STORY[i] is committed DAYS[i] days after START; Alice co-signs STORY[j] COSIGNS[j] days after it.
START = 1740990000  # 2025-03-03 08:20 UTC
DAYS = [1, 3, 9, 12, 17, 24]
COSIGNS = {1: 2, 4: 1}


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


def _at(day: int) -> dict[str, str]:
    """Author and committer dates `day` days into the story (hours vary so the times look real)."""
    stamp = f"@{START + day * 86400 + (day % 5) * 3700} +0000"
    return {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}


def build(directory: Path) -> Path:
    """Create the sample repository in `directory`; return its path."""
    if directory.exists() and any(directory.iterdir()):
        raise ProvenanceError(f"{directory} is not empty: give the demo a new directory")
    keys, repo = directory / "keys", directory / "shop"
    keys.mkdir(parents=True)
    policy = [POLICY_HEAD]
    for who, (name, email, roles) in PEOPLE.items():
        key = keyfile.keygen(keys / who, email)
        policy.append(f'\n[[person]]\nname = "{name}"\nemail = "{email}"\nroles = {roles!r}\n'
                      f'keys = ["{key.openssh()}"]\n'.replace("'", '"'))
    git.run(["init", "-q", "-b", "main", str(repo)])
    from provenance.record.install import install

    install(cwd=repo, python=sys.executable)
    for var in [v for v in os.environ if v in ("CLAUDECODE", "CURSOR_AGENT", "CODEX_THREAD_ID")]:
        os.environ.pop(var)  # the story sets each agent itself
    (repo / ".provenance.toml").write_text("".join(policy))
    _git(repo, "add", ".provenance.toml")
    _git(repo, "commit", "-q", "-m", "Adopt git-provenance", env={**_as("alice", keys), **_at(0)})
    shas = []
    for (who, agent, message, files), day in zip(STORY, DAYS, strict=True):
        for rel, content in files.items():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            (repo / rel).write_text(content)
            _git(repo, "add", rel)
        _git(repo, "commit", "-q", "-m", message, env={**_as(who, keys), **agent, **_at(day)})
        shas.append(_git(repo, "rev-parse", "HEAD"))
    # Alice reviews Bob's AI-assisted refund change and co-signs it in a note: no history rewrite.
    _git(repo, "-c", "core.hooksPath=/dev/null", "config", "provenance.trustRoot",
         _git(repo, "rev-list", "--max-parents=0", "HEAD"))
    from provenance.commands import cosign

    for index, delay in COSIGNS.items():
        alice = {**_as("alice", keys), **_at(DAYS[index] + delay)}
        os.environ.update(alice)
        try:
            cosign.store_as_note(cosign.build_cosign(shas[index], cwd=repo), cwd=repo)
        finally:
            for var in alice:
                os.environ.pop(var, None)
    return repo


def _history(repo: Path) -> str:
    """One line per commit: hash, author, subject and what its trailers declare."""
    fmt = "%h%x00%an%x00%s%x00%(trailers:key=AI-Assisted,valueonly,separator=%x2c)" \
          "%x00%(trailers:key=Assisted-by,valueonly,separator=%x2c)"
    lines = []
    for line in _git(repo, "log", f"--format={fmt}").splitlines():
        sha, author, subject, ai, agent = line.split("\0")
        declared = f"AI-Assisted: {ai or '?'}" + (f", {agent}" if agent else "")
        lines.append(f"  {sha} {author:<14} {subject:<36} [{declared}]")
    return "\n".join(lines)


def run(directory: Path | None) -> int:
    target = directory or Path(tempfile.mkdtemp(prefix="provenance-demo-"))
    repo = build(target)
    print(f"Built a sample shop repository in {repo}\n")
    print(_history(repo))
    print("\n$ git provenance audit\n")
    sys.stdout.flush()
    from provenance.audit.run import run_audit

    status = run_audit(None, None, None, "text", repo)
    alice_key = target / "keys" / "alice"
    print(f"""
What you just saw (the audit exited {status}; CI would fail the build):
  - every commit carries an `AI-Assisted:` declaration signed with its author's SSH key; the
    hooks wrote it, detecting Claude Code, Cursor and Codex from their environment;
  - Bob's two AI-assisted refund changes touch payments/ (rule tier-1, a critical path) and
    Alice, a senior, co-signed both in git notes, days later, without rewriting history;
  - Jun's Codex change to checkout/ has no senior co-sign: that is the one violation, and the
    audit prints the command that fixes it.
Try next (with the tool on your PATH, e.g. `. .venv/bin/activate`):
  cd {repo}
  git provenance show HEAD                         # one commit's evidence and signatures
  git provenance report --html report.html         # charts: AI share, agents, co-sign delays
  git -c user.email=alice@example.com -c provenance.signingKey={alice_key} \\
    provenance cosign HEAD && git provenance audit # Alice approves; the audit passes
""")
    return 0
