"""README.md's quick start, followed literally and in order by the people it names.

Pat (platform engineer), Dana (developer, native hooks), Sam (senior, hooks through pre-commit) and CI
each have their own HOME, holding a git identity and nothing else, and their own clone of one shared
bare repository whose code predates the tool. Every ```sh block runs as written, through real hooks
and real pushes; the only changes are the substitutions below, each what a person would do: a value
the README says where to get (a key line someone printed, the commit id Pat printed), or this
checkout instead of the published package.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from conftest import PROJECT, clean_env, unadopted_origin

README = PROJECT / "README.md"
BIN = Path(sys.executable).parent
PUBLISHED = "https://github.com/your-org/git-provenance"
# README text -> what runs instead, and why (values that depend on the run are added by the test).
SUBSTITUTIONS = {
    f"pip install git+{PUBLISHED}": f"{sys.executable} -m pip show -q git-provenance",  # installed already
    "make demo": 'git-provenance demo "$DEMO_DIR"',  # what `make demo` runs, without the venv step
    "make test": ":",  # that is the suite running this test
}
HEADINGS = [
    "git-provenance", "Everyone: install, and a signing key",
    "Platform engineer: write the policy, pin the trust root", "CI",
    "Developer: install the hooks", "Developer: install the hooks", "Developer: install the hooks",
    "Developer: install the hooks", "Senior: review and co-sign", "Developer: land the change",
]
# Pat's $EDITOR: the critical paths of this code base (the starter's second glob matches nothing).
PAT_EDITS = ('paths = ["payments/**", "**/migrations/*.sql"]', 'paths = ["payments/**"]')
REFUND = "def refund(order):\n    return order.undo()\n"


class Block(NamedTuple):
    heading: str
    lang: str
    text: str


def blocks(text: str, lang: str = "sh") -> list[Block]:
    """Every ```LANG block, in order, with the nearest heading above it."""
    found, heading = [], ""
    for m in re.finditer(r"^(#{1,4} [^\n]*)$|^```(\w+)\n(.*?)^```$", text, re.M | re.S):
        if m.group(1):
            heading = m.group(1).lstrip("# ").strip()
        elif m.group(2) == lang:
            found.append(Block(heading, lang, m.group(3)))
    return found


def substitute(text: str, values: dict[str, str]) -> str:
    for old, new in {**SUBSTITUTIONS, **values}.items():
        text = text.replace(old, new)
    return text


class Run(NamedTuple):
    code: int
    out: str
    err: str


class Role:
    """A person (or CI) with their own HOME and, once cloned, their own clone."""

    def __init__(self, root: Path, who: str, name: str) -> None:
        self.home = root / f"home-{who}"
        self.home.mkdir()
        self.email = f"{who}@example.com"
        (self.home / ".gitconfig").write_text(f"[user]\n\tname = {name}\n\temail = {self.email}\n")
        self.env = clean_env(self.home)
        self.env["PATH"] = f"{BIN}:{self.env['PATH']}"
        self.clone = self.home / "shop"

    def sh(self, block: Block, cwd: Path, values: dict[str, str] | None = None,
           env: dict[str, str] | None = None, stdin: str = "", expect: int = 0) -> Run:
        script = substitute(block.text, values or {})
        left = re.findall(r"<[a-z-]+>|your-org", script)
        assert not left, f"{block.heading}: unsubstituted {left}"
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, input=stdin,
                              env={**self.env, **(env or {})}, capture_output=True, text=True)
        assert proc.returncode == expect, f"{block.heading} in {cwd}:\n{script}\n{proc.stdout}\n{proc.stderr}"
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def git(self, *args: str, cwd: Path | None = None) -> str:
        return subprocess.run(["git", *args], cwd=cwd or self.clone, env=self.env, check=True,
                              capture_output=True, text=True).stdout


def _script(path: Path, body: str) -> str:
    path.write_text(f"#!{sys.executable}\nimport sys\n{body}")
    path.chmod(0o755)
    return str(path)


def _this_checkout(root: Path) -> Path:
    """This working tree as a git repository: what pre-commit installs instead of the published one."""
    repo = root / "git-provenance"
    repo.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(PROJECT / name, repo / name)
    for folder in ("provenance", "man"):
        shutil.copytree(PROJECT / folder, repo / folder, ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    env = clean_env(root)
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run([*git, "commit", "-q", "--no-verify", "-m", "snapshot"], cwd=repo, check=True, env=env)
    return repo


def test_the_readme_starts_with_the_two_commands() -> None:
    first = blocks(README.read_text())[0].text.splitlines()
    assert [line.split()[:2] for line in first] == [["make", "demo"], ["make", "test"]]


def test_the_readme_blocks_are_the_ones_this_test_follows() -> None:
    assert [b.heading for b in blocks(README.read_text())] == HEADINGS
    assert len(blocks(README.read_text(), "yaml")) == 1


def test_the_quick_start_works_for_every_role_as_written(tmp_path: Path) -> None:
    sh = blocks(README.read_text())
    (yaml,) = blocks(README.read_text(), "yaml")
    origin = unadopted_origin(tmp_path, {"payments/charge.py": "def charge(order):\n    return order.total\n",
                                          "README.md": "# shop\n"})
    pat, dana, sam, ci = (Role(tmp_path, *who) for who in (
        ("pat", "Pat Platform"), ("dana", "Dana Developer"), ("sam", "Sam Senior"), ("ci", "CI")))
    for person in (pat, dana, sam):
        person.git("clone", "-q", str(origin), str(person.clone), cwd=person.home)

    pat.sh(sh[0], pat.home, env={"DEMO_DIR": str(tmp_path / "demo")})

    # Everyone: keygen outside a repository; each sends the line it printed.
    keys = {p.email: p.sh(sh[1], p.home).out.strip() for p in (pat, dana, sam)}
    for email, line in keys.items():
        assert line.startswith("ssh-ed25519 ") and line.endswith(email)

    # Pat adopts: the team's keys, the critical paths, the hooks, the commit, the trust root.
    editor = _script(tmp_path / "pat-editor", f"p = sys.argv[1]; t = open(p).read()\n"
                     f"open(p, 'w').write(t.replace({PAT_EDITS[0]!r}, {PAT_EDITS[1]!r}))\n")
    adopted = pat.sh(sh[2], pat.clone, env={"EDITOR": editor}, values={
        "<sam-public-key>": keys[sam.email], "<dana-public-key>": keys[dana.email]})
    assert "warning: rule 'critical': '**/migrations/*.sql' matches no tracked file at HEAD" in adopted.err
    trust_root = adopted.out.splitlines()[-1]  # what Pat sends everyone
    assert trust_root == pat.git("rev-parse", "origin/main").strip()
    assert re.search(r"^AI-Assisted: no\nProvenance-Signature: v1 declare pat@example.com ",
                     pat.git("log", "-1", "--format=%B"), re.M)  # Pat's hooks are installed

    runs = iter(range(10))

    def ci_run(branch: str, expect: int) -> str:
        """A CI job on a push of `branch`: a fresh full clone, the README's CI block."""
        checkout = ci.home / f"job-{next(runs)}"
        ci.git("clone", "-q", "-b", branch, str(origin), str(checkout), cwd=ci.home)
        summary = ci.home / f"summary-{checkout.name}.md"
        ci.sh(sh[3], checkout, env={"TRUST_ROOT": trust_root, "GITHUB_STEP_SUMMARY": str(summary)},
              expect=expect)
        return summary.read_text()

    # Adoption day: no note exists anywhere yet, and CI passes.
    assert ci_run("main", 0).startswith("## git-provenance audit passed")

    # Dana sets up natively, Sam through pre-commit; each doctor says "ok" to everything.
    values = {"<adoption-commit>": trust_root}
    for person in (dana, sam):
        person.sh(sh[4], person.clone, values=values)
    native = dana.sh(sh[5], dana.clone)
    assert "FIX" not in native.out and "ok  hook applypatch-msg: installed" in native.out
    checkout = _this_checkout(tmp_path)
    config = substitute(yaml.text, {f"repo: {PUBLISHED}": f"repo: {checkout}"})
    (sam.clone / ".pre-commit-config.yaml").write_text(config)
    routed = sam.sh(sh[6], sam.clone)
    assert "FIX" not in routed.out and "ok  hook commit-msg: through pre-commit" in routed.out
    pinned = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True)
    assert f"rev: {pinned.stdout.strip()}" in (sam.clone / ".pre-commit-config.yaml").read_text()
    assert sam.git("config", "notes.rewriteRef").strip() == "refs/notes/provenanc[e]"

    # Dana's agent writes a change to a critical path and pushes it for review.
    writer = _script(tmp_path / "dana-editor", f"open(sys.argv[1], 'w').write({REFUND!r})\n")
    dana.sh(sh[7], dana.clone, env={"EDITOR": writer, "CLAUDECODE": "1"})
    message = dana.git("log", "-1", "--format=%B")
    assert "AI-Assisted: yes\nAssisted-by: claude-code\n" in message
    pending = ci_run("refunds", 1)
    assert pending.startswith("## git-provenance audit failed") and "missing-cosign" in pending

    # Sam reviews the branch and co-signs; Dana lands it on main through the pre-push gate.
    reviewed = sam.sh(sh[8], sam.clone, stdin="y\n")
    assert "Add refunds" in reviewed.out and "co-signed" in reviewed.out
    dana.sh(sh[9], dana.clone)
    landed = ci_run("main", 0)
    assert landed.startswith("## git-provenance audit passed") and "| 1 | 1 | 1 | 0 |" in landed
    assert "<svg" in (ci.home / "job-2" / "provenance.html").read_text()
    note = dana.git("notes", "--ref=provenance", "show", "origin/main")
    assert "v1 cosign sam@example.com" in note
