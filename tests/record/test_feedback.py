"""What a commit says at commit time, at each person's own desk (issue 16 items 4, 7, 11, 14).

- a staged `.provenance.toml` that does not load: refused in one line naming file, line and key;
  the message is kept where git keeps it, and the line says how to reuse it;
- an AI-assisted change to a critical path: one line, who must co-sign; nothing for others;
- a signing key the policy does not list: one warning line, and the audit's fix says to
  register the key;
- `--amend -m` outside the agent keeps `Assisted-by:` with `AI-Assisted: yes`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Person, Repo, policy_text
from desks import AGENT, commit, desk, provenance, shared_remote
from test_hooks import assert_valid_declaration, declaration_of

from provenance.record.change import committed_change
from provenance.ssh import keyfile
from provenance.wire import declaration


@pytest.fixture
def remote(tmp_path: Path, people: dict[str, Person]) -> Path:
    return shared_remote(tmp_path, people)


def try_commit(repo: Repo, message: str, files: dict[str, str | bytes], *,
               env: dict[str, str] | None = None, args: tuple[str, ...] = ("-m",)
               ) -> tuple[int, list[str]]:
    """Stage `files` and commit; (exit status, stderr lines)."""
    for rel, content in files.items():
        repo.write(rel, content)
        repo.git("add", "--", rel)
    argv = ["git", "commit", "-q", *args] + ([message] if args and args[-1] == "-m" else [])
    proc = repo.run(*argv, env=env, check=False)
    return proc.returncode, proc.stderr.decode().splitlines()


# ---- a staged policy that does not load (issue 16 item 4) -------------------------------------

BROKEN = {
    "a syntax error": (lambda text: text + "\n[[rule]\n", "syntax error"),
    "a misspelt key": (lambda text: text.replace("threshold = 1", "thresold = 1", 1), "thresold"),
    "a bad glob": (lambda text: text.replace('"payments/**"', '"!payments/**"', 1), "paths"),
    "a bad key line": (lambda text: text.replace("ssh-ed25519 AAAA", "ssh-ed25519 BAAA", 1), "keys"),
    "not UTF-8": (lambda text: text.replace("Alice", "Al\udcffice", 1), "encoding"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_staged_policy_that_does_not_load_is_refused_and_the_message_kept(
        tmp_path: Path, people: dict[str, Person], remote: Path, kind: str) -> None:
    alice = desk(tmp_path, people["alice"], remote)
    head = alice.git("rev-parse", "HEAD")
    breaking, key = BROKEN[kind]
    text = breaking(policy_text(people)).encode("utf-8", "surrogateescape")
    code, err = try_commit(alice, "Tighten the policy", {".provenance.toml": text})
    assert code == 1
    assert len(err) == 1, err
    line = err[0]
    assert line.startswith("git-provenance: error: .provenance.toml:") and key in line
    assert "kept in .git/COMMIT_EDITMSG" in line and "git commit -e -F .git/COMMIT_EDITMSG" in line
    assert "Traceback" not in line
    assert alice.git("rev-parse", "HEAD") == head
    # The message is where the line says; once the policy is fixed, it is reused as it says.
    assert (alice.path / ".git" / "COMMIT_EDITMSG").read_text().startswith("Tighten the policy")
    alice.write(".provenance.toml", policy_text(people) + "\n# tightened\n")
    alice.git("add", ".provenance.toml")
    alice.run("git", "commit", "-q", "-e", "-F", ".git/COMMIT_EDITMSG")
    assert alice.message().startswith("Tighten the policy\n")
    change = committed_change("HEAD", cwd=alice.path)
    assert change.policy_blob is not None  # the statement signs the new policy too
    assert declaration.valid_signature(declaration.read(alice.message()), change=change.digest,
                                       author=change.author_email,
                                       policy_blob=change.policy_blob) is not None


def test_an_interactive_commit_of_a_broken_policy_is_refused_before_the_editor_opens(
        tmp_path: Path, people: dict[str, Person], remote: Path) -> None:
    alice = desk(tmp_path, people["alice"], remote)
    opened = tmp_path / "editor-opened"
    code, err = try_commit(alice, "", {".provenance.toml": policy_text(people) + "bogus = 1\n"},
                           env={"GIT_EDITOR": f"touch {opened}"}, args=())
    assert code == 1 and len(err) == 1 and ".provenance.toml:" in err[0] and "bogus" in err[0]
    assert not opened.exists()


def test_in_a_linked_worktree_the_line_names_where_that_worktree_keeps_the_message(
        tmp_path: Path, people: dict[str, Person], remote: Path) -> None:
    alice = desk(tmp_path, people["alice"], remote)
    other = tmp_path / "other-worktree"
    alice.git("worktree", "add", "-q", "-b", "policy", str(other))
    wt = Repo(other, alice.home, alice.env)
    code, err = try_commit(wt, "Tighten", {".provenance.toml": policy_text(people) + "bogus = 1\n"})
    assert code == 1 and len(err) == 1
    kept = Path(alice.git("-C", str(other), "rev-parse", "--absolute-git-dir").strip()) / "COMMIT_EDITMSG"
    assert f"kept in {kept}" in err[0]
    assert kept.read_text().startswith("Tighten")


def test_deleting_the_policy_or_leaving_it_alone_is_not_refused(
        tmp_path: Path, people: dict[str, Person], remote: Path) -> None:
    bob = desk(tmp_path, people["bob"], remote)
    assert try_commit(bob, "Docs", {"docs/a.md": "a\n"}) == (0, [])
    bob.git("rm", "-q", ".provenance.toml")
    code, _ = try_commit(bob, "Drop the policy", {})
    assert code == 0


# ---- who must co-sign, said at commit time (issue 16 item 7) ----------------------------------


def test_an_ai_commit_to_a_critical_path_says_who_must_cosign_in_one_line(
        tmp_path: Path, people: dict[str, Person], remote: Path) -> None:
    bob = desk(tmp_path, people["bob"], remote)
    code, err = try_commit(bob, "Refund", {"payments/refund.py": "r = 1\n", "payments/b.py": "b\n"},
                           env=AGENT)
    assert code == 0
    assert err == ["git-provenance: this AI-assisted commit needs a co-sign (never its author's) "
                   "before it reaches a protected branch: rule tier-1 (payments/b.py and 1 more): "
                   "1 of senior, alice@example.com, carol@example.com; they run "
                   "`git provenance cosign <commit>`"]


def test_a_seniors_own_ai_commit_names_only_the_other_seniors(
        tmp_path: Path, people: dict[str, Person], remote: Path) -> None:
    alice = desk(tmp_path, people["alice"], remote)
    _, err = try_commit(alice, "Checkout", {"checkout/c.py": "c\n"}, env=AGENT)
    assert len(err) == 1 and "1 of senior, carol@example.com;" in err[0]


@pytest.mark.parametrize(("files", "env"), [
    ({"docs/a.md": "a\n"}, AGENT),  # AI-assisted, nothing critical
    ({"payments/refund.py": "r = 2\n"}, {}),  # critical, a human's (the rule is ai-assisted)
])
def test_other_commits_say_nothing(tmp_path: Path, people: dict[str, Person], remote: Path,
                                   files: dict[str, str], env: dict[str, str]) -> None:
    bob = desk(tmp_path, people["bob"], remote)
    assert try_commit(bob, "Change", files, env=env) == (0, [])  # type: ignore[arg-type]


def test_a_rule_for_all_commits_and_a_policy_change_speak_for_human_commits_too(
        tmp_path: Path, people: dict[str, Person]) -> None:
    rules = ('[[rule]]\nname = "ledger"\npaths = ["ledger/**"]\ncosign-roles = ["senior"]\n'
             'threshold = 2\napplies-to = "all"\n')
    remote = shared_remote(tmp_path, people, policy_text(people, rules=rules))
    bob = desk(tmp_path, people["bob"], remote)
    _, err = try_commit(bob, "Ledger", {"ledger/l.py": "l\n"})
    assert len(err) == 1 and "this commit needs a co-sign" in err[0]
    assert "rule ledger (ledger/l.py): 2 of senior" in err[0]
    _, err = try_commit(bob, "Make me senior", {".provenance.toml": policy_text(people, rules=rules)
                                                + "\n# edited\n"})
    assert len(err) == 1 and "[policy-changes] (.provenance.toml): 1 of senior" in err[0]


def test_a_rebase_replays_without_a_word(tmp_path: Path, people: dict[str, Person],
                                         remote: Path) -> None:
    bob = desk(tmp_path, people["bob"], remote)
    bob.git("checkout", "-q", "-b", "feature")
    commit(bob, "Refund", {"payments/refund.py": "r = 1\n"}, env=AGENT)
    bob.git("checkout", "-q", "main")
    commit(bob, "Docs", {"docs/a.md": "a\n"})
    bob.git("checkout", "-q", "feature")
    proc = bob.run("git", "rebase", "-q", "main", env=AGENT)
    assert proc.stderr.decode() == ""


# ---- a signing key the policy does not list (issue 16 item 11) --------------------------------


def _new_key(repo: Repo, name: str) -> Path:
    path = repo.home / name
    keyfile.keygen(path, name)
    return path


def test_an_unregistered_key_is_warned_about_and_the_audit_says_to_register_it(
        tmp_path: Path, people: dict[str, Person], remote: Path) -> None:
    bob = desk(tmp_path, people["bob"], remote)
    assert try_commit(bob, "Registered key", {"a.txt": "a\n"}) == (0, [])
    laptop = _new_key(bob, "new-laptop")
    bob.git("config", "provenance.signingKey", str(laptop))
    code, err = try_commit(bob, "New laptop", {"b.txt": "b\n"})
    assert code == 0 and len(err) == 1
    assert err[0].startswith("git-provenance: warning: your signing key SHA256:")
    assert "is not in .provenance.toml" in err[0] and "unknown-key" in err[0]
    assert "git provenance init" in err[0]
    sha = bob.git("rev-parse", "HEAD").strip()
    doc = json.loads(provenance(bob, "audit", "--format", "json", check=False).stdout)
    (unknown,) = [v for c in doc["commits"] if c["commit"] == sha for v in c["violations"]
                  if v["code"] == "unknown-key"]
    assert unknown["fix"].startswith("git provenance init   # run by bob@example.com: registers "
                                     "your signing key in .provenance.toml")
    # Registered (what `init` does), the commit that registers it has nothing to warn about.
    provenance(bob, "init")
    code, err = try_commit(bob, "Register my new key", {}, args=("-a", "-m"))
    assert code == 0 and not any("warning" in line for line in err)


def test_someone_elses_key_and_a_revoked_key_are_warned_about(
        tmp_path: Path, people: dict[str, Person]) -> None:
    carol_key = people["carol"].public
    revoked = f'\n[[revoked-key]]\nkey = "{carol_key}"\nreason = "laptop stolen"\n'
    remote = shared_remote(tmp_path, people, policy_text(people) + revoked)
    bob = desk(tmp_path, people["bob"], remote)
    bob.git("config", "provenance.signingKey", str(people["alice"].key))
    _, err = try_commit(bob, "With Alice's key", {"a.txt": "a\n"})
    assert len(err) == 1 and "belongs to Alice in .provenance.toml, not to bob@example.com" in err[0]
    carol = desk(tmp_path, people["carol"], remote)
    _, err = try_commit(carol, "With a revoked key", {"a.txt": "a\n"})
    assert len(err) == 1 and "is revoked in .provenance.toml" in err[0]


# ---- --amend -m outside the agent (issue 16 item 14) ------------------------------------------


@pytest.mark.parametrize("content", ["same", "changed"])
def test_amend_m_outside_the_agent_keeps_assisted_by(tmp_path: Path, people: dict[str, Person],
                                                     remote: Path, content: str) -> None:
    bob = desk(tmp_path, people["bob"], remote)
    commit(bob, "Agent change", {"lib/a.py": "a\n"}, env=AGENT)
    assert declaration_of(bob)[:2] == (["yes"], ["claude-code"])
    if content == "changed":
        bob.write("lib/a.py", "a\nby hand\n")
        bob.git("add", "lib/a.py")
    bob.run("git", "commit", "-q", "--amend", "-m", "Reworded by hand")
    assert bob.message().startswith("Reworded by hand\n")
    assert declaration_of(bob)[:2] == (["yes"], ["claude-code"])
    assert_valid_declaration(bob)
