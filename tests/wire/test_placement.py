"""A declaration ends up in the message's final trailer block, as git reads it, whatever surrounds it.

`gather` runs in every commit hook; these check it on the shapes an editor session and a squash
leave, against `git interpret-trailers` and `git stripspace` (what git keeps of a message).
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.wire import trailers
from provenance.wire.placement import AUTO_CANDIDATES, comment_char, for_editor, gather

SIG = "Provenance-Signature: v1 declare bob@example.com sha256:" + "a" * 64 + " QUJD"
SIG2 = SIG.replace("a" * 64, "b" * 64)
DECL = f"AI-Assisted: no\n{SIG}\n"
KEYS = {"ai-assisted", "assisted-by", "provenance-signature"}


@pytest.fixture(scope="module")
def git_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CEILING_DIRECTORIES": str(home.parent)}
    return env, home


def git_kept(git_env: tuple[dict[str, str], Path], message: str, cc: str = "#") -> str:
    """What `git commit` keeps of an edited message (cleanup=strip, git's comment character)."""
    env, cwd = git_env
    return subprocess.run(["git", "-c", f"core.commentChar={cc}", "stripspace", "--strip-comments"],
                          input=message.encode(), capture_output=True, check=True, env=env,
                          cwd=cwd).stdout.decode()


def git_trailers(git_env: tuple[dict[str, str], Path], message: str) -> list[str]:
    env, cwd = git_env
    out = subprocess.run(["git", "interpret-trailers", "--parse", "--no-divider"],
                         input=message.encode(), capture_output=True, check=True, env=env,
                         cwd=cwd).stdout.decode()
    return out.splitlines()


# What an editor session or a squash leaves, and what git must then read as the trailers.
SHAPES = {
    "subject typed above, glued": (f"Typed subject\n{DECL}\n# Please enter\n#\n",
                                   ["AI-Assisted: no", SIG]),
    "subject typed below": (f"\n\n{DECL}\nTyped below\n\n# Please enter\n",
                            ["AI-Assisted: no", SIG]),
    "own trailers above ours": (f"Subject\n\nSigned-off-by: B <b@e.org>\n\n{DECL}\n# c\n",
                                ["Signed-off-by: B <b@e.org>", "AI-Assisted: no", SIG]),
    "own yes above ours": (f"Subject\n\nAI-Assisted: yes\n\n{DECL}",
                           ["AI-Assisted: yes", "AI-Assisted: no", SIG]),
    "rebase -i squash": (f"One\n\nBody\n\n{DECL}\n# This is the commit message #2:\n\nTwo\n\n"
                         f"AI-Assisted: yes\nAssisted-by: aider\n{SIG2}\n",
                         ["AI-Assisted: no", SIG, "AI-Assisted: yes", "Assisted-by: aider", SIG2]),
    "squash keeps a co-author": (f"One\n\nCo-authored-by: C <c@e.org>\n{DECL}\nTwo\n\n"
                                 "Signed-off-by: B <b@e.org>\n",
                                 ["Signed-off-by: B <b@e.org>", "AI-Assisted: no", SIG]),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_gather_leaves_the_declaration_in_the_block_git_reads(git_env, shape: str) -> None:
    message, expected = SHAPES[shape]
    gathered = gather(message)
    assert git_trailers(git_env, git_kept(git_env, gathered)) == expected
    assert gather(gathered) == gathered


UNTOUCHED = {
    "already last": f"Subject\n\nBody\n\n{DECL}",
    "mixed with the user's own, in any order":
        f"Subject\n\nAI-Assisted: no\nSigned-off-by: B <b@e.org>\n{SIG}\n",
    "prose above": f"Subject\n\nBody: not a trailer paragraph\nsecond line\n\n{DECL}",
    "nothing typed yet": f"\n\n{DECL}\n# Please enter\n",
    "a declaration quoted in prose": "Subject\n\nWe write AI-Assisted: no here.\n\nDone\n",
    "a squash body, indented": "Squashed commit of the following:\n\n    AI-Assisted: yes\n",
    "no declaration": "Subject\n\nSigned-off-by: B <b@e.org>\n",
    "a co-sign outside the block": f"Subject\n\n{SIG.replace('declare', 'cosign')}\n\nBody\n",
    "a folded declaration": "Subject\n\nAI-Assisted: yes\n  folded\n\nBody\n",
}


@pytest.mark.parametrize("shape", sorted(UNTOUCHED))
def test_gather_changes_nothing_else(shape: str) -> None:
    message = UNTOUCHED[shape]
    assert gather(message) == message


def test_gather_reads_the_comment_character_it_is_given(git_env) -> None:
    scissors = "; ------------------------ >8 ------------------------\n"
    message = f"Subject\n{DECL}\n; Please enter\n{scissors}x: y\n"
    gathered = gather(message, ";")
    assert gathered.index(SIG) < gathered.index("; ---")
    assert git_trailers(git_env, git_kept(git_env, gathered.split("; ---")[0], ";")) == [
        "AI-Assisted: no", SIG]


LINE = st.sampled_from([
    "Subject", "Body text", "", "# comment", "Signed-off-by: B <b@e.org>", "AI-Assisted: no",
    "AI-Assisted: yes", "Assisted-by: claude-code", SIG, SIG.replace("declare", "cosign"),
    "Key: value", "Note: x", "---",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(LINE, max_size=12), st.booleans())
def test_gather_moves_only_declaration_lines_and_is_stable(lines: list[str], final_nl: bool) -> None:
    message = "\n".join(lines) + ("\n" if final_nl else "")
    gathered = gather(message)
    assert gather(gathered) == gathered

    def others(text: str) -> list[str]:
        return [ln for ln in text.split("\n") if ln.strip() and not ln.startswith(
            ("AI-Assisted:", "Assisted-by:", SIG[:33]))]

    assert others(gathered) == others(message)
    # What left its place is now read as a trailer.
    start, end = trailers.block_span(gathered)
    outside = gathered[:start] + gathered[end:]
    moved = Counter(message.split("\n")) - Counter(outside.split("\n"))
    values = {f"{k}: {v}" for k, v in trailers.parse(gathered)}
    assert {ln for ln in moved if ln.startswith(("AI-Assisted:", "Assisted-by:", SIG[:33]))} <= values


def test_for_editor_leaves_the_first_line_for_the_subject(git_env) -> None:
    prepared = f"\n{DECL}\n# Please enter the commit message\n#\n"  # what git plus the hook wrote
    placed = for_editor(prepared)
    assert placed.startswith("\n\n" + DECL + "\n# Please")
    typed = "Subject typed on line one" + placed  # the editor opens on line 1
    assert git_kept(git_env, typed).startswith("Subject typed on line one\n\nAI-Assisted: no\n")
    assert for_editor(placed) == placed
    assert for_editor(f"Subject\n\n{DECL}") == f"Subject\n\n{DECL}"  # the user's text is there


@pytest.mark.parametrize(("setting", "message", "edited", "expected"), [
    (None, "x\n", False, "#"),
    ("", "x\n", True, "#"),
    (";", "x\n# not a comment\n", True, ";"),
    ("auto", "x\n\n; Please enter\n;\n", True, ";"),
    ("auto", "x\n\n@ Please\n@ ------------------------ >8 ------------------------\n#x\n", True, "@"),
    ("auto", "#1 fixed\n", False, ";"),
    ("auto", "x\n", False, "#"),
    ("AUTO", "#a\n;b\n", False, "@"),
])
def test_comment_char_is_gits(setting: str | None, message: str, edited: bool, expected: str) -> None:
    assert comment_char(setting, message, edited=edited) == expected
    assert expected in AUTO_CANDIDATES
