"""Every ```sh block of README.md runs, in order, against real clones of one temporary repository.

The README's placeholders are substituted explicitly (SUBSTITUTIONS); anything else runs as written.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import PROJECT, Person, clean_env

README = PROJECT / "README.md"
BIN = Path(sys.executable).parent
# (README text, what the test runs instead, why)
SUBSTITUTIONS = (
    ("pip install git+https://github.com/your-org/git-provenance",
     f"{sys.executable} -m pip show -q git-provenance", "the suite's venv already has it installed"),
    ("make demo", 'git-provenance demo "$DEMO_DIR"', "what `make demo` runs, without the venv step"),
    ("make test", ":", "that is the suite running this test"),
    ("<adoption-commit>", '"$TRUST_ROOT"', "the trust root the platform engineer hands out"),
    ("<rev>", "HEAD", "the commit the developer pushed"),
)


def sh_blocks(text: str) -> dict[str, str]:
    """Heading (the nearest `#` line above) -> the ```sh block under it."""
    blocks: dict[str, str] = {}
    heading = ""
    for m in re.finditer(r"^(#{1,3} [^\n]*)$|^```sh\n(.*?)^```$", text, re.M | re.S):
        if m.group(1):
            heading = m.group(1).lstrip("# ").strip()
        else:
            blocks[heading] = m.group(2)
    return blocks


def substitute(block: str) -> str:
    for old, new, _why in SUBSTITUTIONS:
        block = block.replace(old, new)
    return block


def test_the_readme_starts_with_the_two_commands() -> None:
    first = README.read_text().split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split()[:2] for line in first] == [["make", "demo"], ["make", "test"]]


def test_every_placeholder_in_a_shell_block_is_substituted() -> None:
    blocks = sh_blocks(README.read_text())
    assert len(blocks) == 5
    for heading, block in blocks.items():
        left = re.findall(r"<[a-z-]+>|your-org", substitute(block))
        assert not left, f"{heading}: unsubstituted placeholder {left}"


def _bash(block: str, cwd: Path, env: dict[str, str], stdin: str = "") -> str:
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", substitute(block)], cwd=cwd, env=env,
                          input=stdin.encode(), capture_output=True)
    out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, f"README block failed in {cwd}:\n{block}\n{out}"
    return out


def _home(root: Path, who: str, email: str, extra: str = "") -> dict[str, str]:
    home = root / f"home-{who}"
    home.mkdir()
    (home / ".gitconfig").write_text(
        f"[user]\n\tname = {who.title()}\n\temail = {email}\n[init]\n\tdefaultBranch = main\n{extra}")
    env = clean_env(home)
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    return env


def test_the_readme_quick_start_runs_for_every_user(tmp_path: Path, people: dict[str, Person]) -> None:
    blocks = sh_blocks(README.read_text())
    assert set(blocks) >= {"git-provenance", "Platform engineer: write the policy, pin the trust root",
                           "Developer: install the hooks", "Senior: review and co-sign", "CI"}
    bob = people["bob"]
    alice_env = _home(tmp_path, "alice", "alice@example.com")
    bob_env = _home(tmp_path, "bob", bob.email, f"[provenance]\n\tsigningKey = {bob.key}\n")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True, env=alice_env)

    _bash(blocks["git-provenance"], tmp_path, {**alice_env, "DEMO_DIR": str(tmp_path / "demo")})

    # The platform engineer's "editor" adds the team: Bob, a developer, with his key.
    editor = tmp_path / "editor"
    editor.write_text(f'#!/bin/sh\nprintf \'\\n[[person]]\\nname = "Bob"\\nemail = "{bob.email}"\\n'
                      f'keys = ["{bob.public}"]\\n\' >> "$1"\n')
    editor.chmod(0o755)
    alice = tmp_path / "alice"
    subprocess.run(["git", "clone", "-q", str(origin), str(alice)], check=True, env=alice_env,
                   capture_output=True)
    _bash(blocks["Platform engineer: write the policy, pin the trust root"], alice,
          {**alice_env, "EDITOR": str(editor)})
    subprocess.run(["git", "push", "-q", "-u", "origin", "main"], cwd=alice, check=True, env=alice_env)
    trust_root = subprocess.run(["git", "rev-parse", "HEAD"], cwd=alice, check=True, env=alice_env,
                                capture_output=True, text=True).stdout.strip()

    dev = tmp_path / "bob"
    subprocess.run(["git", "clone", "-q", str(origin), str(dev)], check=True, env=bob_env)
    out = _bash(blocks["Developer: install the hooks"], dev, {**bob_env, "TRUST_ROOT": trust_root})
    assert "FIX" not in out and "hook applypatch-msg: installed" in out
    # Bob works with Claude Code on a critical path (the starter policy's rule covers payments/);
    # the hooks declare and sign it, and he pushes a branch: the pre-push gate guards main.
    (dev / "payments").mkdir()
    (dev / "payments" / "refund.py").write_text("def refund(order):\n    return order.undo()\n")
    push = ["push", "-q", "origin", "HEAD:refunds"]
    work = (["add", "payments"], ["commit", "-q", "-m", "Add refunds"], push)
    for args in work:
        subprocess.run(["git", *args], cwd=dev, check=True, env={**bob_env, "CLAUDECODE": "1"})
    pending = subprocess.run([sys.executable, "-m", "provenance", "audit", "--trust-root", trust_root],
                             cwd=dev, env=bob_env, capture_output=True, text=True)
    assert pending.returncode == 1 and "missing-cosign" in pending.stdout

    for args in (["fetch", "-q", "origin", "refunds"], ["merge", "-q", "--ff-only", "FETCH_HEAD"]):
        subprocess.run(["git", *args], cwd=alice, check=True, env=alice_env)
    out = _bash(blocks["Senior: review and co-sign"], alice, alice_env, stdin="y\n")
    assert "Add refunds" in out and "co-signed" in out
    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=alice, check=True, env=alice_env)

    ci = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", str(origin), str(ci)], check=True, env=bob_env)
    summary = tmp_path / "summary.md"
    _bash(blocks["CI"], ci, {**bob_env, "TRUST_ROOT": trust_root, "GITHUB_STEP_SUMMARY": str(summary)})
    assert summary.read_text().startswith("## git-provenance audit passed")
    assert "<svg" in (ci / "provenance.html").read_text()
