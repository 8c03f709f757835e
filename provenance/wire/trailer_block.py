"""Where git 2.39 finds a commit message's trailer block, and how it reads the block's lines.

The functions below mirror git's `trailer.c` (`find_trailer_start`, `find_separator`,
`unfold_value`), `commit.c` (`ignore_non_trailer`) and `wt-status.c` (`wt_status_locate_end`)
line by line, so that what we read is what git and every other verifier read.  `trailers` reads
and edits messages with them.
"""

from __future__ import annotations

import functools
import re

from provenance.errors import ProvenanceError

Trailer = tuple[str, str]

# git's isspace() (sane_ctype): no \v, \f or Unicode spaces.
_SPACE = " \t\n\r"
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
_GIT_GENERATED = ("Signed-off-by: ", "(cherry picked from commit ")
# The scissors line must end in LF: a CRLF one is ordinary text to git.
_CUT_LINE = "------------------------ >8 ------------------------\n"


def _lines(text: str) -> list[str]:
    """Split on LF only (str.splitlines would also split on \\r, \\v, U+2028...), keeping ends."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _is_blank(line: str) -> bool:
    return not line.strip(_SPACE)


def _ends_with_blank(text: str) -> bool:
    lines = _lines(text)
    return bool(lines) and _is_blank(lines[-1])


def _find_separator(line: str) -> int:
    """Index of the ':' ending a `Token  :` prefix, or -1 (git's find_separator).

    git's loop accepts token characters, then spaces or tabs (not at the start of the line), then
    the ':'; here the text before the first ':' is checked in a few string operations instead."""
    colon = line.find(":")
    if colon < 0:
        return -1
    token = line[:colon].rstrip(" \t")
    if not token:  # only spaces before the ':' are a break at offset 0, unless there are none
        return -1 if colon else 0
    letters = token.replace("-", "")
    return colon if token.isascii() and (not letters or letters.isalnum()) else -1


def _visible(message: str) -> str:
    """git reads the message as a C string: nothing after a NUL exists for it."""
    nul = message.find("\0")
    return message if nul < 0 else message[:nul]


def _locate_end(text: str, comment_char: str) -> int:
    """Offset of the scissors line (`git commit -v`), or len(text) (wt_status_locate_end)."""
    if _CUT_LINE not in text:  # the usual answer, without building the pattern
        return len(text)
    pattern = f"\n{comment_char} {_CUT_LINE}"
    if text.startswith(pattern[1:]):
        return 0
    pos = text.find(pattern)
    return len(text) if pos < 0 else pos + 1


def _end_of_log_message(text: str, comment_char: str) -> int:
    """Where the ignored tail starts: trailing comment/blank lines, an old `Conflicts:` block and
    the scissors section (git's ignore_non_trailer, including its quirk that a run starting at
    offset 0 is forgotten because `boc == 0` reads as "unset")."""
    cutoff = _locate_end(text, comment_char)
    # Only the run of ignorable lines that reaches the cutoff matters, and any other line resets
    # it: when the last line is one, the answer is the cutoff without reading the others.
    last = text.rfind("\n", 0, max(cutoff - 1, 0)) + 1
    if last < cutoff and text[last] not in (comment_char, "\n", "\t") and (
        not text.startswith("Conflicts:\n", last)
    ):
        return cutoff
    boc = bol = 0
    in_conflicts = False
    while bol < cutoff:
        nl = text.find("\n", bol)
        next_bol = len(text) if nl < 0 else nl + 1
        c = text[bol]
        if c in (comment_char, "\n"):
            if not boc:
                boc = bol
        elif text.startswith("Conflicts:\n", bol):
            in_conflicts = True
            if not boc:
                boc = bol
        elif in_conflicts and c == "\t":
            pass
        elif boc:
            boc = 0
            in_conflicts = False
        bol = next_bol
    return boc if boc else cutoff


def _find_trailer_start(text: str, end: int, comment_char: str) -> int:
    """Start of the trailer block in text[:end], or end if there is none (find_trailer_start)."""
    lines = _lines(text[:end])

    # The first paragraph is the title and cannot hold trailers.
    title_end = 0
    while title_end < len(lines):
        line = lines[title_end]
        if not line.startswith(comment_char):
            if _is_blank(line):
                break
        title_end += 1

    only_spaces = True
    recognized_prefix = False
    trailer_lines = non_trailer_lines = possible_continuation_lines = 0
    bol = end
    for i in range(len(lines) - 1, title_end - 1, -1):
        line = lines[i]
        next_bol, bol = bol, bol - len(line)
        if line.startswith(comment_char):
            non_trailer_lines += possible_continuation_lines
            possible_continuation_lines = 0
            continue
        if _is_blank(line):
            if only_spaces:
                continue
            non_trailer_lines += possible_continuation_lines
            if recognized_prefix and trailer_lines * 3 >= non_trailer_lines:
                return next_bol
            if trailer_lines and not non_trailer_lines:
                return next_bol
            return end
        only_spaces = False
        if line.startswith(_GIT_GENERATED):
            trailer_lines += 1
            possible_continuation_lines = 0
            recognized_prefix = True
        elif _find_separator(line) >= 1 and line[0] not in _SPACE:
            trailer_lines += 1
            possible_continuation_lines = 0
        elif line[0] in _SPACE:
            possible_continuation_lines += 1
        else:
            non_trailer_lines += 1 + possible_continuation_lines
            possible_continuation_lines = 0
    return end


# The common shape, read without the general rules below: the message ends in a paragraph of
# `Key: value` lines (no comments, continuations or prose).  Such a paragraph is the whole block,
# because every line of it counts as a trailer and git's scan up from the end stops at the blank
# line before it (tests/wire/test_trailers.py checks this against the general rules and real git).
@functools.cache
def _plain_trailer() -> re.Pattern[str]:
    """Compiled on first use: most commit hooks never need it, and compiling costs ~0.1 ms."""
    return re.compile(r"^([A-Za-z0-9-]+)[ \t]*:([^\n]*)", re.MULTILINE)


def _plain_block(text: str, comment_char: str) -> tuple[int, list[tuple[str, str]]] | None:
    """(start, [(key, raw value)]) of the block when `text` (NUL-free) has the common shape."""
    if comment_char in _TOKEN_CHARS:  # then a `Key: value` line could be a comment
        return None
    start = text.rfind("\n\n") + 2
    if start < 2 or start == len(text) or text[start] not in _TOKEN_CHARS:
        return None
    found = _plain_trailer().findall(text, start)
    # One match per line at most, so every line of the paragraph matched if the counts agree.
    if len(found) != text.count("\n", start) + (not text.endswith("\n")) or (
        # An old `Conflicts:` block or a scissors line moves the end of the message.
        text.endswith("\nConflicts:\n") or _locate_end(text, comment_char) != len(text)
    ):
        return None
    return start, found


def _find_block(
        message: str, comment_char: str,
) -> tuple[int, int, list[tuple[str, str]] | None]:
    """The block's [start, end) offsets, and its (key, raw value) pairs if it has the common shape."""
    if len(comment_char) != 1 or comment_char in _SPACE:
        raise ProvenanceError(f"invalid comment character: {comment_char!r}")
    text = _visible(message)
    plain = _plain_block(text, comment_char)
    if plain is not None:
        return plain[0], len(text), plain[1]
    end = _end_of_log_message(text, comment_char)
    return _find_trailer_start(text, end, comment_char), end, None


def _git_block(message: str, comment_char: str) -> tuple[int, int]:
    start, end, _ = _find_block(message, comment_char)
    return start, end


_FOLD = re.compile("\n[" + re.escape(_SPACE) + "]*")


def _unfold(value: str) -> str:
    """Each newline and the whitespace after it become one space (git's unfold_value)."""
    if "\n" in value:
        value = _FOLD.sub(" ", value)
    return value.strip(_SPACE)


def _entries(block: str) -> list[list[str]]:
    """The block's lines grouped as git groups them: a trailer with its continuation lines."""
    entries: list[list[str]] = []
    last_is_trailer = False
    for line in _lines(block):
        if last_is_trailer and line[0] in _SPACE:
            entries[-1].append(line)
            continue
        entries.append([line])
        last_is_trailer = _find_separator(line) >= 1
    return entries


def _entry_trailer(entry: list[str], comment_char: str) -> Trailer | None:
    text = "".join(entry)
    if text.startswith(comment_char):
        return None
    sep = _find_separator(text)
    if sep < 1:
        return None
    value = text[sep + 1:].strip(_SPACE)
    return text[:sep].strip(_SPACE), _unfold(value)
