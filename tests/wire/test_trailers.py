"""The trailer block is the one git 2.39 finds; every rule is checked against real git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.errors import ProvenanceError
from provenance.wire import trailer_block, trailers

SCISSORS = "# ------------------------ >8 ------------------------\n"


@pytest.fixture(scope="module")
def git_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """git with no user or system config (trailer.* settings would change its answers)."""
    home = tmp_path_factory.mktemp("home")
    env = {
        **os.environ,
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CEILING_DIRECTORIES": str(home.parent),
    }
    return env, home


def git(git_env: tuple[dict[str, str], Path], *args: str, message: str) -> str:
    env, cwd = git_env
    out = subprocess.run(
        ("git", *args),
        input=message.encode("utf-8", "surrogateescape"),
        capture_output=True, check=True, env=env, cwd=cwd,
    ).stdout
    return out.decode("utf-8", "surrogateescape")


def git_parse(git_env: tuple[dict[str, str], Path], message: str) -> list[tuple[str, str]]:
    out = git(git_env, "interpret-trailers", "--parse", "--no-divider", message=message)
    result = []
    for line in out.split("\n")[:-1]:
        key, rest = line.split(":", 1)
        assert rest.startswith(" ")
        result.append((key, rest[1:]))
    return result


# ---------------------------------------------------------------- hand examples


@pytest.mark.parametrize(
    ("message", "expected"),
    (
        pytest.param("Subject\n\nBody.\n\nKey: v\n", [("Key", "v")], id="plain"),
        pytest.param("Subject\n\nKey-One: v1\nnot a trailer line\n", [], id="mixed-no-sob"),
        pytest.param(
            "S\n\nSigned-off-by: A <a@x>\none\ntwo\nthree\n",
            [("Signed-off-by", "A <a@x>")], id="sob-25-percent",
        ),
        pytest.param("S\n\nSigned-off-by: A <a@x>\none\ntwo\nthree\nfour\n", [], id="sob-under-25"),
        pytest.param(
            "S\n\nK: v\n(cherry picked from commit abc)\nprose\n",
            [("K", "v")], id="cherry-pick-line-counts-but-is-not-printed",
        ),
        pytest.param("Key: value\n", [], id="subject-only"),
        pytest.param("Key: value\nOther: x\n", [], id="title-paragraph"),
        pytest.param("S\n\nKey: part1\n  part2\n", [("Key", "part1 part2")], id="unfold"),
        pytest.param("S\n\nKey   : v\n", [("Key", "v")], id="space-before-colon"),
        pytest.param("S\n\nBad Key: v\n", [], id="space-in-key"),
        pytest.param("S\n\nKey=v\n", [], id="equals-is-not-a-separator"),
        pytest.param("S\n\nKey:v\nEmpty:\n", [("Key", "v"), ("Empty", "")], id="no-space"),
        pytest.param("S\r\n\r\nA: 1\r\nB: 2\r\n", [("A", "1"), ("B", "2")], id="crlf"),
        pytest.param("S\n\nA: x\r\n y\r\n", [("A", "x\r y")], id="crlf-unfold-keeps-cr"),
        pytest.param("S\n\nA: 1\n# note\nB: 2\n", [("A", "1"), ("B", "2")], id="comment-inside"),
        pytest.param("S\n\nA: 1\n\n# Please enter\n#\n", [("A", "1")], id="comment-tail"),
        pytest.param("S\n\nBody\n---\nmore\n\nK: v\n", [("K", "v")], id="dash-divider-ignored"),
        pytest.param("\nK: v\n", [("K", "v")], id="leading-blank-line-ends-empty-title"),
        pytest.param("S\n\nA: 1\n\nConflicts:\n\tfile.c\n", [("A", "1")], id="old-conflicts"),
        pytest.param("S\n\nA: 1\nB: 2\0C: 3\n", [("A", "1"), ("B", "2")], id="nul-ends-the-message"),
        pytest.param("S\n\nA: caf\udce9 \udcff\n", [("A", "caf\udce9 \udcff")], id="non-utf8"),
        pytest.param("S\n\nK\udcff: v\n", [], id="non-ascii-key"),
    ),
)
def test_parse_matches_git_on_hand_examples(
        git_env: tuple[dict[str, str], Path], message: str, expected: list[tuple[str, str]],
) -> None:
    assert trailers.parse(message) == expected
    assert git_parse(git_env, message) == expected


def test_dash_divider_would_end_the_message_for_plain_interpret_trailers(
        git_env: tuple[dict[str, str], Path],
) -> None:
    message = "Subj\n\nBody\n---\nmore\n\nK: v\n"
    assert git(git_env, "interpret-trailers", "--parse", message=message) == ""
    assert trailers.parse(message) == [("K", "v")]


def test_scissors_section_is_ignored_even_when_it_looks_like_trailers(
        git_env: tuple[dict[str, str], Path],
) -> None:
    message = (
        "S\n\nBody\n\nAI-Assisted: yes\n"
        "# Please enter the commit message\n" + SCISSORS +
        "# Do not modify or remove the line above.\n"
        "diff --git a/f b/f\n+\n+Key: v\n+Other: w\n"
    )
    assert trailers.parse(message) == git_parse(git_env, message) == [("AI-Assisted", "yes")]


def test_add_goes_before_the_scissors_and_remove_restores_it() -> None:
    message = "S\n\nBody\n# comment\n" + SCISSORS + "diff\nKey: v\n"
    added = trailers.add(message, [("AI-Assisted", "yes")])
    assert added == "S\n\nBody\n\nAI-Assisted: yes\n# comment\n" + SCISSORS + "diff\nKey: v\n"
    assert trailers.remove(added, {"ai-assisted"}) == message


def test_add_appends_to_an_existing_block_in_the_message_line_ending() -> None:
    message = "S\r\n\r\nBody\r\n\r\nSigned-off-by: A <a@x>\r\n"
    added = trailers.add(message, [("AI-Assisted", "yes"), ("Assisted-by", "tool:model")])
    assert added == message + "AI-Assisted: yes\r\nAssisted-by: tool:model\r\n"


def test_add_leaves_existing_lines_byte_for_byte() -> None:
    message = "S\n\nKey   : v\n# kept comment\nOther: w\n  folded\n"
    added = trailers.add(message, [("New", "x")])
    assert added == message + "New: x\n"


def test_add_skips_a_trailer_that_is_already_there_case_insensitively() -> None:
    message = "S\n\nai-assisted: YES\n"
    assert trailers.add(message, [("AI-Assisted", "yes")]) == message
    assert trailers.add("S\n", [("A", "1"), ("A", "1")]) == "S\n\nA: 1\n"


def test_add_keeps_a_message_without_final_newline_unterminated() -> None:
    # git itself would write "Subject\nK: v\n", which makes K part of the title.
    assert trailers.add("Subject", [("K", "v")]) == "Subject\n\nK: v"
    assert trailers.add("S\n\nA: 1", [("K", "v")]) == "S\n\nA: 1\nK: v"
    assert trailers.remove("Subject\n\nK: v", {"k"}) == "Subject"


def test_add_to_an_empty_or_comment_only_message_matches_git(
        git_env: tuple[dict[str, str], Path],
) -> None:
    for message in ("", "# Please enter the commit message\n#\n"):
        expected = git(git_env, "interpret-trailers", "--trailer", "K: v", message=message)
        assert trailers.add(message, [("K", "v")]) == expected


def test_add_rejects_keys_and_values_git_would_not_read_back() -> None:
    for bad in (("Bad Key", "v"), ("Key=", "v"), ("", "v"), ("K", "a\nb"), ("K", " padded")):
        with pytest.raises(ProvenanceError):
            trailers.add("S\n", [bad])


def test_remove_takes_continuation_lines_and_honours_the_predicate() -> None:
    message = "S\n\nA: 1\nSig: old\n  more\nSig: new\nB: 2\n"
    removed = trailers.remove(message, {"sig"}, predicate=lambda k, v: v == "old more")
    assert removed == "S\n\nA: 1\nSig: new\nB: 2\n"


def test_remove_drops_the_separating_blank_line_with_the_last_trailer() -> None:
    assert trailers.remove("S\n\nBody\n\nSig: x\n# c\n", {"SIG"}) == "S\n\nBody\n# c\n"


def test_remove_only_touches_the_trailer_block() -> None:
    message = "S\n\nSig: in body\nprose\n\nOther: x\n" + SCISSORS + "Sig: diff\n"
    assert trailers.remove(message, {"sig"}) == message


def test_values_match_keys_case_insensitively() -> None:
    message = "S\n\nassisted-by: a\nAI-Assisted: yes\nAssisted-By: b\n"
    assert trailers.values(message, "Assisted-by") == ["a", "b"]


def test_block_span_covers_the_block_or_marks_where_one_would_go() -> None:
    message = "S\n\nBody\n\nA: 1\nB: 2\n# c\n"
    start, end = trailers.block_span(message)
    assert message[start:end] == "A: 1\nB: 2\n"
    assert trailers.block_span("S\n\nBody\n# c\n") == (8, 8)


def test_custom_comment_char(git_env: tuple[dict[str, str], Path]) -> None:
    message = "S\n\nA: 1\n; note\nB: 2\n; tail\n"
    env, cwd = git_env
    out = subprocess.run(
        ("git", "-c", "core.commentChar=;", "interpret-trailers", "--parse", "--no-divider"),
        input=message.encode(), capture_output=True, check=True, env=env, cwd=cwd,
    ).stdout.decode()
    assert out == "A: 1\nB: 2\n"
    assert trailers.parse(message, comment_char=";") == [("A", "1"), ("B", "2")]


def test_strip_for_emptiness_drops_comments_scissors_and_whitespace() -> None:
    message = "\n# c\nA: yes  \r\n\n\n# x\nB\n" + SCISSORS + "diff\n"
    assert trailers.strip_for_emptiness(message) == "A: yes\n\nB\n"
    assert trailers.strip_for_emptiness("# only\n\n  \n" + SCISSORS + "x\n") == ""


# ---------------------------------------------------------------- differential properties

PROSE = st.sampled_from([
    "Fix the frobnicator", "Some prose here.", "more text: with colon",
    "caf\udce9 \udcff", "na\u00efve \u2028 \x0b\x0c",
    "Bad Key: v", "Key=v", ":starts with colon", "---", "--- a/file", "Conflicts:", "\tfile.c",
    "x", "Key:", "Key:v", "Key   : spaced", "Key\t: tabbed", "http://example.com",
])
TRAILER = st.builds(
    "{}: {}".format,
    st.sampled_from(["AI-Assisted", "Assisted-by", "Key", "k-2", "Signed-off-by", "Co-authored-by"]),
    st.sampled_from(["yes", "no", "A <a@x>", "tool:model", "", "v1 declare x sha256:ab"]),
)
SPECIAL = st.sampled_from([
    "", "", "", "  ", "\t", "  continued", "\tcontinued", "# comment", "#", "Signed-off-by: X <x@y>",
    "(cherry picked from commit 0123abc)", SCISSORS.rstrip("\n"),
])
LINE = st.one_of(PROSE, TRAILER, TRAILER, SPECIAL)


@st.composite
def messages(draw: st.DrawFn) -> str:
    lines = draw(st.lists(LINE, max_size=12))
    crlf = draw(st.sampled_from(["never", "never", "always", "mixed"]))
    out = []
    for line in lines:
        use_crlf = crlf == "always" or (crlf == "mixed" and draw(st.booleans()))
        out.append(line + ("\r\n" if use_crlf else "\n"))
    text = "".join(out)
    if text and draw(st.integers(0, 4)) == 0:
        text = text.rstrip("\n")
    return text


# Raw text finds the corners the line grammar misses.
NOISE = st.text(alphabet="Kv: \t\r\n#-=(S\udcff", max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.one_of(messages(), NOISE))
def test_parse_agrees_with_git_interpret_trailers(
        git_env: tuple[dict[str, str], Path], message: str,
) -> None:
    assert trailers.parse(message) == git_parse(git_env, message)


NEW = st.lists(
    st.tuples(
        st.sampled_from(["Provenance-Signature", "X-New"]),
        st.sampled_from(["v1 declare a@x sha256:00 AAAA", "yes", "b"]),
    ),
    min_size=1, max_size=3, unique=True,
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(messages(), NOISE), NEW)
def test_add_then_git_parse_ends_with_the_new_trailers_and_remove_undoes_add(
        git_env: tuple[dict[str, str], Path], message: str, new: list[tuple[str, str]],
) -> None:
    keys = {k.lower() for k, _ in new}
    message = trailers.remove(message, keys)  # the round trip is for messages without them
    added = trailers.add(message, new)
    parsed = git_parse(git_env, added)
    assert parsed == trailers.parse(added)
    assert parsed[len(parsed) - len(new):] == new
    assert trailers.remove(added, keys) == message
    # add only inserts: the message is a prefix of the result plus a suffix of it.
    prefix = len(os.path.commonprefix([message, added]))
    assert added.endswith(message[prefix:])


@settings(max_examples=100, deadline=None)
@given(st.one_of(messages(), NOISE))
def test_strip_for_emptiness_agrees_with_git_stripspace(
        git_env: tuple[dict[str, str], Path], message: str,
) -> None:
    scissors = message.find(SCISSORS.rstrip("\n"))
    if scissors == 0 or (scissors > 0 and message[scissors - 1] == "\n"):
        message = message[:scissors]
    assert trailers.strip_for_emptiness(message) == git(
        git_env, "stripspace", "--strip-comments", message=message,
    )


# ---------------------------------------------------------------- the fast path for the common shape


def general_parse(message: str, comment_char: str = "#") -> tuple[int, int, list[tuple[str, str]]]:
    """The block and its trailers by git's general rules alone, bypassing the common-shape path."""
    text = trailer_block._visible(message)
    end = trailer_block._end_of_log_message(text, comment_char)
    start = trailer_block._find_trailer_start(text, end, comment_char)
    found = [trailer_block._entry_trailer(entry, comment_char)
             for entry in trailer_block._entries(text[start:end])]
    return start, end, [t for t in found if t is not None]


def test_a_block_of_key_value_lines_takes_the_fast_path() -> None:
    message = "Subject\n\nBody.\n\nAI-Assisted: yes\nProvenance-Signature: v1 declare a@x sha256:00 AA==\n"
    assert trailer_block._plain_block(message, "#") is not None
    assert trailers.parse(message) == general_parse(message)[2] == [
        ("AI-Assisted", "yes"), ("Provenance-Signature", "v1 declare a@x sha256:00 AA==")]
    # A continuation line, a comment or prose in the paragraph: the general rules decide.
    for odd in ("  folded\n", "# comment\n", "prose\n", "Bad Key: v\n", "\t\n"):
        assert trailer_block._plain_block(message + odd, "#") is None


# Blocks that almost have the common shape: each line is one step away from `Key: value`.
PLAIN_LINE = st.one_of(
    TRAILER, TRAILER, TRAILER,
    st.sampled_from([
        "Key   : spaced", "Key\t: tabbed", "K:", "k-2:v", "Conflicts:", "Signed-off-by: X <x@y>",
        "Key: v\r", "Key: caf\udce9", "Key: a # b", "Key: x\x0by", "-: dash", "0: digit",
        "Bad Key: v", " Key: v", "\tKey: v", "Key", ":v", "K\udcff: v", "  ", "", "# c", "#",
        "(cherry picked from commit 0123abc)", "Key: v\0Other: w", SCISSORS.rstrip("\n"),
    ]),
)


@st.composite
def plain_messages(draw: st.DrawFn) -> str:
    head = draw(st.one_of(st.just("Subject"), st.just(""), st.just("S\n\nBody"), messages()))
    gap = draw(st.sampled_from(["\n\n", "\n\n", "\n", "\r\n\r\n", "\n  \n", "\n\n\n"]))
    block = "\n".join(draw(st.lists(PLAIN_LINE, min_size=1, max_size=5)))
    end = draw(st.sampled_from(["\n", "\n", "", "\n\n", "\r\n", "\n# tail\n"]))
    return head + gap + block + end


@settings(max_examples=300, deadline=None)
@given(plain_messages(), st.sampled_from(["#", ";", "K"]))
def test_the_fast_path_agrees_with_the_general_rules(message: str, comment_char: str) -> None:
    start, end, expected = general_parse(message, comment_char)
    assert trailers.parse(message, comment_char=comment_char) == expected
    assert trailer_block._git_block(message, comment_char) == (start, end)


@settings(max_examples=150, deadline=None)
@given(plain_messages())
def test_the_fast_path_agrees_with_git_interpret_trailers(
        git_env: tuple[dict[str, str], Path], message: str,
) -> None:
    assert trailers.parse(message) == git_parse(git_env, message)


def reference_find_separator(line: str) -> int:
    """git's find_separator, transcribed loop for loop."""
    whitespace_found = False
    for i, c in enumerate(line):
        if c == ":":
            return i
        if not whitespace_found and (c.isascii() and c.isalnum() or c == "-"):
            continue
        if i != 0 and c in " \t":
            whitespace_found = True
            continue
        break
    return -1


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="Kk9-: \t\r\n#=\udcff\u00e9\u0660", max_size=12))
def test_find_separator_is_gits_loop(line: str) -> None:
    assert trailer_block._find_separator(line) == reference_find_separator(line)
