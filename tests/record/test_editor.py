"""Interactive commits: an editor, no `-m`. Whatever the user types, the declaration ends up as the
message's final trailer block and `git log --oneline` shows their subject (issue 14 items 13, 14).

The editor is a real program (GIT_EDITOR) that types `TYPED` where a person's cursor would be:
at the top of the file (where editors open), or below the lines the hook wrote.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import Person, Repo
from desks import AGENT, commit, desk, shared_remote
from test_hooks import assert_valid_declaration, declaration_of

EDITOR = r'''
import os, sys
mode, path = sys.argv[1], sys.argv[-1]
text = open(path, encoding="utf-8", errors="surrogateescape", newline="").read()
open(path + ".seen", "w", encoding="utf-8", errors="surrogateescape", newline="").write(text)
typed = os.environ.get("TYPED", "")
if mode == "top":  # the cursor starts on the first line
    text = typed + text
elif mode == "below":  # the user moved down past the lines the hook wrote, then typed
    lines = text.split("\n")
    at = next(i for i, ln in enumerate(lines) if ln and ln[0] in "#;@!$%^&|:" and ln[1:2] in (" ", ""))
    lines[at:at] = typed.split("\n")
    text = "\n".join(lines)
open(path, "w", encoding="utf-8", errors="surrogateescape", newline="").write(text)
'''


@pytest.fixture
def bob(tmp_path: Path, people: dict[str, Person]) -> Repo:
    """Bob's clone, with the hooks, and an editor that types for him."""
    repo = desk(tmp_path, people["bob"], shared_remote(tmp_path, people))
    editor = repo.home / "editor.py"
    editor.write_text(EDITOR)
    repo.env["GIT_EDITOR"] = f"{sys.executable} {editor} top"
    return repo


def edit_commit(repo: Repo, typed: str, *, mode: str = "top", args: tuple[str, ...] = (),
                env: dict[str, str] | None = None, check: bool = True) -> str:
    """Stage a change and `git commit ARGS` with the editor typing `typed`; returns stderr."""
    n = len(list(repo.path.glob("f*.txt")))
    repo.write(f"f{n}.txt", f"{n}\n")
    repo.git("add", "-A")
    editor = repo.env["GIT_EDITOR"].rsplit(" ", 1)[0]
    proc = repo.run("git", "commit", *args, check=check,
                    env={"TYPED": typed, "GIT_EDITOR": f"{editor} {mode}", **(env or {})})
    return proc.stderr.decode()


def oneline(repo: Repo) -> str:
    return repo.git("log", "-1", "--format=%s").strip()


def git_trailers(repo: Repo) -> list[str]:
    """The commit's trailers as git reads them."""
    return [ln for ln in repo.git("log", "-1", "--format=%(trailers:only,unfold)").splitlines() if ln]


TYPED = {
    "a subject": ("Fix the refund rounding", "Fix the refund rounding", []),
    "a subject and a body": ("Fix the refund rounding\n\nRound half to even, as the ledger does.",
                             "Fix the refund rounding", []),
    "their own trailers": ("Fix the refund rounding\n\nSigned-off-by: Bob <bob@example.com>\n"
                           "Co-authored-by: Eve <eve@example.com>", "Fix the refund rounding",
                           ["Signed-off-by: Bob <bob@example.com>",
                            "Co-authored-by: Eve <eve@example.com>"]),
    "a subject glued to a body": ("Fix the refund rounding\nsecond line", "Fix the refund rounding "
                                  "second line", []),
}


@pytest.mark.parametrize("what", sorted(TYPED))
@pytest.mark.parametrize("mode", ["top", "below"])
def test_what_the_user_types_keeps_the_declaration_last(bob: Repo, what: str, mode: str) -> None:
    typed, subject, own = TYPED[what]
    if mode == "below" and what == "a subject glued to a body":
        pytest.skip("below the declaration, the first line typed is separated from it anyway")
    edit_commit(bob, typed, mode=mode)
    assert oneline(bob) == subject
    got = git_trailers(bob)
    assert got[:len(own)] == own  # the user's trailers stay trailers, in the same block
    assert [t.split(":")[0] for t in got[len(own):]] == ["AI-Assisted", "Provenance-Signature"]
    assert declaration_of(bob)[0] == ["no"]
    assert bob.message().count("AI-Assisted:") == 1
    assert_valid_declaration(bob)


def test_the_editor_opens_on_an_empty_first_line_above_the_declaration(bob: Repo) -> None:
    edit_commit(bob, "Subject")
    seen = (bob.path / ".git" / "COMMIT_EDITMSG.seen").read_text()
    assert seen.startswith("\n\nAI-Assisted: no\nProvenance-Signature: v1 declare bob@example.com ")


def test_typing_a_declaration_of_your_own_is_honoured_and_signed(bob: Repo) -> None:
    edit_commit(bob, "Refactor with help\n\nAI-Assisted: yes\nAssisted-by: cursor")
    assert oneline(bob) == "Refactor with help"
    assert declaration_of(bob)[:2] == (["yes"], ["cursor"])
    assert_valid_declaration(bob)


def test_typing_nothing_aborts_the_commit_as_git_would(bob: Repo) -> None:
    head = bob.git("rev-parse", "HEAD")
    err = edit_commit(bob, "", check=False)
    assert err.splitlines() == [
        "git-provenance: aborting commit: the message holds only provenance trailers"]
    assert bob.git("rev-parse", "HEAD") == head


def test_an_agents_interactive_commit_declares_yes(bob: Repo) -> None:
    edit_commit(bob, "Agent change", env=AGENT)
    assert oneline(bob) == "Agent change"
    assert declaration_of(bob)[:2] == (["yes"], ["claude-code"])
    assert_valid_declaration(bob)


def test_no_verify_skips_commit_msg_and_the_declaration_is_still_last(bob: Repo) -> None:
    """Only prepare-commit-msg and post-commit run: post-commit moves what the editor left."""
    edit_commit(bob, "Subject\n\nSigned-off-by: Bob <bob@example.com>", args=("--no-verify",))
    assert oneline(bob) == "Subject"
    assert git_trailers(bob)[0] == "Signed-off-by: Bob <bob@example.com>"
    assert_valid_declaration(bob)


def test_editing_a_message_given_with_m_keeps_it_declared(bob: Repo) -> None:
    edit_commit(bob, "Better: ", args=("-e", "-m", "draft"))
    assert oneline(bob) == "Better: draft"
    assert_valid_declaration(bob)


# ---- core.commentChar, `commit -v` and `--cleanup=scissors` (item 14) -------------------------


@pytest.mark.parametrize("comment_char", [None, ";", "auto"])
@pytest.mark.parametrize("flags", [("-v",), ("--cleanup=scissors",), ("-v", "--cleanup=scissors")])
def test_the_declaration_stays_above_the_scissors_line(
    bob: Repo, comment_char: str | None, flags: tuple[str, ...]
) -> None:
    if comment_char:
        bob.git("config", "core.commentChar", comment_char)
    edit_commit(bob, "Subject typed", args=flags)
    seen = (bob.path / ".git" / "COMMIT_EDITMSG.seen").read_text()
    assert ">8" in seen  # the editor saw the scissors line
    msg = bob.message()
    assert msg.startswith("Subject typed\n\nAI-Assisted: no\n")
    assert ">8" not in msg and "diff --git" not in msg
    assert_valid_declaration(bob)


@pytest.mark.parametrize("flags", [("-v",), ("--cleanup=scissors",)])
def test_auto_comment_char_away_from_hash_keeps_the_declaration(bob: Repo, flags: tuple[str, ...]) -> None:
    """A line starting with `#` makes `auto` pick another character for git's comments."""
    bob.git("config", "core.commentChar", "auto")
    edit_commit(bob, "", args=(*flags, "-e", "-m", "#42: fix the refund rounding"))
    seen = (bob.path / ".git" / "COMMIT_EDITMSG.seen").read_text()
    assert "\n; " in seen  # git chose `;`
    assert bob.message().startswith("#42: fix the refund rounding\n\nAI-Assisted: no\n")
    assert_valid_declaration(bob)


def test_a_comment_char_only_message_is_refused_with_any_comment_char(bob: Repo) -> None:
    bob.git("config", "core.commentChar", ";")
    head = bob.git("rev-parse", "HEAD")
    err = edit_commit(bob, "", args=("-v",), check=False)
    assert "holds only provenance trailers" in err
    assert bob.git("rev-parse", "HEAD") == head


def test_a_plain_m_commit_is_unchanged_by_the_editor_rules(bob: Repo) -> None:
    sha = commit(bob, "Plain", {"p.txt": "p\n"})
    assert bob.message(sha).startswith("Plain\n\nAI-Assisted: no\n")
    assert_valid_declaration(bob)
