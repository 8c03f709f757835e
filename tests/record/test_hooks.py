"""The hooks, through real `git commit`: every commit leaves a signed declaration valid for its change."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import AIDER_COMMITS, Person, Repo, new_repo, policy_text

from provenance.ssh import sshsig
from provenance.wire import digest, trailers
from provenance.wire.statement import Statement, parse_signature_value

AGENT = {"CLAUDECODE": "1"}


def declaration_of(repo: Repo, rev: str = "HEAD") -> tuple[list[str], list[str], list[str]]:
    msg = repo.message(rev)
    return (trailers.values(msg, "AI-Assisted"), trailers.values(msg, "Assisted-by"),
            trailers.values(msg, "Provenance-Signature"))


def verify_with_ssh_keygen(repo: Repo, rev: str = "HEAD") -> None:
    """Check the declare signature with OpenSSH alone, over the statement rebuilt from the commit."""
    ai, assisted, sigs = declaration_of(repo, rev)
    (sig_value,) = sigs
    sig = parse_signature_value(sig_value)
    author = repo.git("log", "-1", "--format=%ae", rev).strip().lower()
    stmt = Statement(role="declare", change=digest.of_commit(rev, cwd=repo.path), author=author,
                     signer=sig.signer, ai_assisted=ai == ["yes"], assisted_by=tuple(assisted))
    signers = repo.home / "allowed_signers"
    signers.write_text(repo.run(str(Path(__import__("sys").executable).parent / "git-provenance"),
                                "allowed-signers").stdout.decode())
    sigfile = repo.home / "sig"
    sigfile.write_text(sshsig.armor(sshsig.unb64(sig.signature_b64)))
    proc = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", sig.signer, "-n", "git-provenance",
         "-s", str(sigfile)], input=stmt.to_bytes(), capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()


def assert_valid_declaration(repo: Repo, rev: str = "HEAD") -> None:
    _, _, sigs = declaration_of(repo, rev)
    assert len(sigs) == 1
    assert parse_signature_value(sigs[0]).change == digest.of_commit(rev, cwd=repo.path)
    verify_with_ssh_keygen(repo, rev)


def test_agent_commit_declares_ai_assisted_with_a_signature_openssh_accepts(repo: Repo, people):
    repo.commit(people["bob"], "Add refund endpoint", {"payments/refund.py": "x = 1\n"}, env=AGENT)
    ai, assisted, sigs = declaration_of(repo)
    assert ai == ["yes"]
    assert assisted == ["claude-code"]
    assert sigs[0].startswith("v1 declare bob@example.com sha256:")
    assert_valid_declaration(repo)


def test_human_commit_declares_no_signed(repo: Repo, people):
    repo.commit(people["bob"], "Fix typo", {"README": "hello\n"})
    assert declaration_of(repo)[0] == ["no"]
    assert_valid_declaration(repo)


def test_no_verify_inside_an_agent_still_declares(repo: Repo, people):
    repo.commit(people["bob"], "Quick fix", {"a.py": "1\n"}, env=AGENT, args=("--no-verify",))
    assert declaration_of(repo)[0] == ["yes"]
    assert_valid_declaration(repo)


def test_amend_never_duplicates_trailers(repo: Repo, people):
    repo.commit(people["bob"], "Change", {"a.py": "1\n"}, env=AGENT)
    repo.run("git", "commit", "-q", "--amend", "--no-edit", env=repo.as_person(people["bob"]))
    repo.write("a.py", "2\n")
    repo.git("add", "a.py")
    repo.run("git", "commit", "-q", "--amend", "--no-edit", env=repo.as_person(people["bob"]))
    ai, assisted, sigs = declaration_of(repo)
    assert (len(ai), len(assisted), len(sigs)) == (1, 1, 1)
    assert_valid_declaration(repo)


def test_amend_with_new_message_after_changing_content_ends_valid_and_keeps_yes(repo: Repo, people):
    repo.commit(people["bob"], "Agent change", {"a.py": "1\n"}, env=AGENT)
    repo.write("a.py", "1\n2\n")
    repo.git("add", "a.py")
    repo.run("git", "commit", "-q", "--amend", "-m", "Reworded", env=repo.as_person(people["bob"]))
    assert repo.message().startswith("Reworded")
    assert declaration_of(repo)[0] == ["yes"]  # nothing downgrades yes
    assert_valid_declaration(repo)


def test_writing_no_inside_an_agent_is_refused_and_the_message_kept(repo: Repo, people):
    repo.write("a.py", "1\n")
    repo.git("add", "a.py")
    proc = repo.run("git", "commit", "-q", "-m", "Sneaky", "-m", "AI-Assisted: no",
                    env={**repo.as_person(people["bob"]), **AGENT}, check=False)
    assert proc.returncode != 0
    err = proc.stderr.decode()
    assert "refusing `AI-Assisted: no`" in err and "CLAUDECODE=1" in err
    assert "Traceback" not in err
    assert "Sneaky" in (repo.path / ".git" / "COMMIT_EDITMSG").read_text()


def test_rebase_and_cherry_pick_by_someone_else_in_an_agent_leave_valid_declarations_untouched(
    repo: Repo, people
):
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit(people["bob"], "Human work", {"lib/a.py": "a\n"})
    before = repo.message()
    repo.git("checkout", "-q", "main")
    repo.commit(people["carol"], "Upstream", {"docs/x.md": "x\n"})
    repo.git("checkout", "-q", "feature")
    repo.run("git", "rebase", "-q", "main", env={**repo.as_person(people["dave"]), **AGENT})
    assert repo.message() == before
    assert_valid_declaration(repo)
    repo.git("checkout", "-q", "main")
    repo.run("git", "cherry-pick", "feature", env={**repo.as_person(people["dave"]), **AGENT})
    assert repo.message() == before
    assert repo.git("log", "-1", "--format=%ae").strip() == "bob@example.com"
    assert_valid_declaration(repo)


def test_agent_fixup_squashed_into_human_commit_ends_ai_assisted(repo: Repo, people):
    repo.commit(people["bob"], "Human work", {"lib/a.py": "a\n"})
    target = repo.git("rev-parse", "HEAD").strip()
    repo.commit(people["bob"], "Other", {"lib/b.py": "b\n"})
    repo.commit(people["bob"], "fixup! Human work", {"lib/a.py": "a\nagent\n"}, env=AGENT)
    repo.run("git", "rebase", "-q", "-i", "--autosquash", f"{target}~1",
             env={**repo.as_person(people["bob"]), "GIT_SEQUENCE_EDITOR": "true"})
    log = repo.git("log", "--format=%s", f"{target}~1..HEAD").split("\n")
    assert log[:2] == ["Other", "Human work"]
    assert declaration_of(repo, "HEAD~1")[0] == ["yes"]
    assert_valid_declaration(repo, "HEAD~1")


def test_trailer_added_by_hand_is_honoured(repo: Repo, people):
    repo.commit(people["bob"], "Declared by hand", {"a.py": "1\n"},
                args=("--trailer", "AI-Assisted: yes"))
    assert declaration_of(repo)[0] == ["yes"]
    assert_valid_declaration(repo)


EDITOR_MESSAGES = {
    "comments": b"Subject\n\nBody line\n# a comment the user left\n",
    "divider": b"Subject\n\nBody\n---\nnotes after a divider\n",
    "crlf": b"Subject\r\n\r\nBody line\r\n",
    "existing trailers": b"Subject\n\nBody\n\nSigned-off-by: Bob <bob@example.com>\n"
                         b"Co-authored-by: Eve <eve@example.com>\n",
    "non-utf8": b"Subject \xff\xfe latin-1 caf\xe9\n\nBody \x80\n",
}


@pytest.mark.parametrize("kind", sorted(EDITOR_MESSAGES))
def test_messages_keep_every_byte_apart_from_added_trailers(repo: Repo, people, kind: str):
    raw = EDITOR_MESSAGES[kind]
    msgfile = repo.home / "msg"
    msgfile.write_bytes(raw)
    repo.write("a.py", kind)
    repo.git("add", "a.py")
    repo.run("git", "commit", "-q", "--cleanup=verbatim", "-F", str(msgfile),
             env=repo.as_person(people["bob"]))
    # The file the hooks edit; git itself re-encodes invalid UTF-8 as Latin-1 when it stores it.
    stored = (repo.path / ".git" / "COMMIT_EDITMSG").read_bytes()
    text = stored.decode("utf-8", "surrogateescape")
    stripped = trailers.remove(text, {"ai-assisted", "assisted-by", "provenance-signature"})
    assert stripped.encode("utf-8", "surrogateescape") == raw
    assert_valid_declaration(repo)


def test_verbose_editor_session_keeps_the_message_before_the_scissors(repo: Repo, people):
    editor = repo.home / "editor.sh"
    editor.write_text(
        '#!/bin/sh\nprintf "Edited subject\\n\\nBody\\n" | cat - "$1" > "$1.new" && mv "$1.new" "$1"\n'
    )
    editor.chmod(0o755)
    repo.write("a.py", "1\n")
    repo.git("add", "a.py")
    repo.run("git", "commit", "-q", "-v", env={**repo.as_person(people["bob"]), "GIT_EDITOR": str(editor)})
    msg = repo.message()
    assert msg.startswith("Edited subject\n\nBody\n")
    assert ">8" not in msg and "diff --git" not in msg
    assert_valid_declaration(repo)


def test_missing_key_gives_one_clear_line_and_no_commit(repo: Repo, people):
    env = {**repo.as_person(people["bob"]), "GIT_CONFIG_VALUE_1": ""}
    repo.write("a.py", "1\n")
    repo.git("add", "a.py")
    proc = repo.run("git", "commit", "-q", "-m", "x", env=env, check=False)
    assert proc.returncode != 0
    err = proc.stderr.decode()
    assert "no signing key" in err and "Traceback" not in err


def test_broken_policy_gives_one_clear_line(tmp_path: Path, people):
    """A policy that does not load, committed past the hooks, is named when the hook needs it."""
    repo = new_repo(tmp_path, people)
    repo.commit(people["alice"], "Break the policy", {".provenance.toml": policy_text(people) +
                                                      "\nbogus = 1\n"}, env={"PROVENANCE_SKIP": "1"})
    repo.write("a.py", "1\n")
    repo.git("add", "a.py")
    env = {**repo.as_person(people["bob"]), "GIT_CONFIG_VALUE_1": ""}
    proc = repo.run("git", "commit", "-q", "-m", "x", env=env, check=False)
    err = proc.stderr.decode()
    assert proc.returncode != 0
    assert ".provenance.toml:" in err and "bogus" in err and "Traceback" not in err


def test_provenance_skip_lets_a_commit_through_undeclared(repo: Repo, people):
    repo.commit(people["bob"], "Skipped", {"a.py": "1\n"}, env={"PROVENANCE_SKIP": "1"})
    assert declaration_of(repo) == ([], [], [])


def test_install_chains_an_existing_hook(tmp_path: Path, people: dict[str, Person]):
    repo = new_repo(tmp_path, people, hooks=False)
    hook = repo.path / ".git" / "hooks" / "commit-msg"
    hook.write_text('#!/bin/sh\necho "Existing-Hook: ran" >> "$1"\n')
    hook.chmod(0o755)
    from provenance.record.install import install

    install(cwd=repo.path, python=__import__("sys").executable)
    install(cwd=repo.path, python=__import__("sys").executable)  # idempotent
    repo.commit(people["bob"], "Chained", {"a.py": "1\n"})
    assert trailers.values(repo.message(), "Existing-Hook") == ["ran"]
    assert_valid_declaration(repo)


def test_fingerprint_prefilter_never_hides_a_real_fingerprint():
    """The hook skips full fingerprint detection only when none of its hint words occur."""
    import json

    from provenance.detect import signals
    from provenance.record.sources import may_carry_fingerprints

    records = [json.loads(line) for line in AIDER_COMMITS.read_text().splitlines()]
    samples = [(r["author_name"], r["author_email"], r["message"]) for r in records]
    samples += [
        ("Claude", "noreply@anthropic.com", "x"),
        ("Bob", "bob@example.com", "x\n\nCo-Authored-By: Claude Opus 4.6 <noreply@anthropic.com>"),
        ("Bob", "bob@example.com", "x\n\nMade-with: Cursor"),
        ("Bob", "bob@example.com", "x\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)"),
        ("Copilot", "198982749+Copilot@users.noreply.github.com", "Initial plan"),
        ("Kiro Agent", "kiro@example.com", "x"),
        ("Bob", "bob@example.com", "x\n\nReplit-Commit-Author: Agent"),
        ("Bob", "bob@example.com", "x\n\nAssisted-by: LLM coccinelle"),
        ("openhands", "openhands@all-hands.dev", "x"),
        ("Bob", "bob@example.com", "x\n\nCo-authored-by: opencode <noreply@opencode.ai>"),
    ]
    flagged = 0
    for name, email, message in samples:
        if signals.commit_signals(name, email, message):
            flagged += 1
            assert may_carry_fingerprints(name, email, message), (name, email, message[:80])
    assert flagged >= 180 + 10
    assert not may_carry_fingerprints("Bob", "bob@example.com", "Fix the refund rounding\n")


def test_a_plain_commit_starts_python_once_and_an_edited_message_is_checked_again(
    tmp_path: Path, people: dict[str, Person]
):
    """commit-msg and post-commit skip Python when prepare-commit-msg's work is intact."""
    import sys

    from provenance.record.install import install

    repo = new_repo(tmp_path, people, hooks=False)
    log = tmp_path / "python-calls"
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\necho "$4" >> "{log}"\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    install(cwd=repo.path, python=str(wrapper))
    repo.commit(people["bob"], "Plain", {"a.py": "1\n"})
    assert log.read_text().split() == ["prepare-commit-msg"]
    assert_valid_declaration(repo)

    log.write_text("")
    editor = repo.home / "editor.sh"  # the user rewrites the subject in the editor
    editor.write_text('#!/bin/sh\nsed -i "1s/.*/Edited/" "$1"\n')
    editor.chmod(0o755)
    repo.write("a.py", "2\n")
    repo.git("add", "a.py")
    repo.run("git", "commit", "-q", "-e", "-m", "Draft", env={**repo.as_person(people["bob"]),
                                                              "GIT_EDITOR": str(editor)})
    assert log.read_text().split() == ["prepare-commit-msg", "commit-msg"]
    assert repo.message().startswith("Edited\n")
    assert_valid_declaration(repo)


def test_a_commit_hook_ends_its_process_with_its_status_and_its_words_said(repo: Repo, people):
    """Commit hooks skip the interpreter's clean-up (main._end_process); git must still see both."""
    editor = repo.home / "editor.sh"  # the user deletes the subject, leaving the trailers alone
    editor.write_text('#!/bin/sh\nsed -i 1d "$1"\n')
    editor.chmod(0o755)
    repo.write("a.py", "1\n")
    repo.git("add", "a.py")
    proc = repo.run("git", "commit", "-q", "-e", "-m", "Subject", check=False,
                    env={**repo.as_person(people["bob"]), "GIT_EDITOR": str(editor)})
    assert proc.returncode == 1
    assert proc.stderr.decode().splitlines() == [
        "git-provenance: aborting commit: the message holds only provenance trailers"]
