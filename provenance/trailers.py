"""Read and write a commit message's trailer block exactly as git 2.39 finds it.

The block is the one `%(trailers)` shows, i.e. `git interpret-trailers --no-divider`: a `---` line
does not end the message.  The functions below mirror git's `trailer.c` (`find_trailer_start`,
`find_separator`, `unfold_value`), `commit.c` (`ignore_non_trailer`), `wt-status.c`
(`wt_status_locate_end`) and `strbuf.c` (`strbuf_stripspace`) line by line, so that what we read is
what git and every other verifier read.

Messages are `str`; callers decode bytes with `surrogateescape`, so only ASCII characters are ever
treated specially (git works on bytes with its own ASCII-only ctype).  Editing functions change
nothing but the lines they add or remove: CRLF endings, comments and the scissors tail survive.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from provenance.errors import ProvenanceError

Trailer = tuple[str, str]

# git's isspace() (sane_ctype): no \v, \f or Unicode spaces.
_SPACE = " \t\n\r"
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
_KEY_RE = re.compile(r"[A-Za-z0-9-]+")
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
# line before it (tests/test_trailers.py checks this against the general rules and real git).
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


def _newline(message: str) -> str:
    """The message's line ending, judged by its first line.  A message without one gets LF,
    or CRLF if it ends in CR: what `remove` later reads back from the line `add` terminated."""
    nl = message.find("\n")
    if nl < 0:
        return "\r\n" if message.endswith("\r") else "\n"
    return "\r\n" if nl > 0 and message[nl - 1] == "\r" else "\n"


def parse(message: str, *, comment_char: str = "#") -> list[Trailer]:
    """Exactly what `git interpret-trailers --parse --no-divider` prints, as (key, value) pairs.

    git's `trailer.<alias>.key` configuration is not consulted: only `Signed-off-by: ` and
    `(cherry picked from commit ` lines make a partly-prose block count (the 25% rule)."""
    start, end, plain = _find_block(message, comment_char)
    if plain is not None:
        return [(key, value.strip(_SPACE)) for key, value in plain]
    trailers = []
    for entry in _entries(message[start:end]):
        trailer = _entry_trailer(entry, comment_char)
        if trailer is not None:
            trailers.append(trailer)
    return trailers


def values(message: str, key: str) -> list[str]:
    """Values of all trailers whose key equals `key` case-insensitively."""
    wanted = key.lower()
    return [v for k, v in parse(message) if k.lower() == wanted]


def _insertion_point(message: str, end: int, comment_char: str) -> int:
    """Where a new block goes: git's end of the log message, moved back over lines that are
    exactly a line ending (git treats "\\r\\n" lines as text, so CRLF messages keep their trailing
    empty lines after the block, as LF ones do).  This also makes `add` invertible."""
    nl = _newline(message)
    pos = end
    # An unterminated scissors line would become a real one once `add` terminated it.
    last_bol = message.rfind("\n", 0, end) + 1
    if end == len(message) and message[last_bol:] + nl == f"{comment_char} {_CUT_LINE}":
        pos = last_bol
    while pos >= len(nl) and message[pos - len(nl):pos] == nl and (
        pos == len(nl) or message[pos - len(nl) - 1] == "\n"
    ):
        pos -= len(nl)
    return pos


def block_span(message: str, *, comment_char: str = "#") -> tuple[int, int]:
    """[start, end) offsets of the trailer block; start == end when there is none, and then it is
    the position where `add` puts a new block (the end of the log message, before the ignored
    tail of comments, blank lines and the scissors section)."""
    start, end = _git_block(message, comment_char)
    if start == end:
        pos = _insertion_point(message, end, comment_char)
        return pos, pos
    return start, end


def _check(trailer: Trailer) -> None:
    key, value = trailer
    if not _KEY_RE.fullmatch(key):
        raise ProvenanceError(f"invalid trailer key {key!r}: use letters, digits and '-'")
    if "\n" in value or "\0" in value or value != value.strip(_SPACE):
        raise ProvenanceError(f"invalid value for trailer {key}: {value!r}")


def add(message: str, trailers: list[Trailer], *, comment_char: str = "#") -> str:
    """Append trailers as `git interpret-trailers --where end --if-exists addIfDifferent` does:
    to the existing block, or as a new block after one blank line, before the ignored tail.

    Unlike git, existing lines are left byte-for-byte (git rewrites the block: drops comments,
    normalises `Key  :` and CRLF), new lines use the message's line ending, a message without a
    final newline gets none after the new trailers (git would glue them to the last paragraph),
    and keys compare by equality, not by git's prefix match; values compare case-insensitively
    as git's do."""
    for trailer in trailers:
        _check(trailer)
    start, end = _git_block(message, comment_char)
    seen = {(k.lower(), v.lower()) for k, v in parse(message, comment_char=comment_char)}
    new_lines = []
    for key, value in trailers:
        if (key.lower(), value.lower()) not in seen:
            seen.add((key.lower(), value.lower()))
            new_lines.append(f"{key}: {value}")
    if not new_lines:
        return message
    nl = _newline(message)

    if start < end:
        # After the block's last real line, before trailing blank or comment lines.
        pos = start
        offset = start
        for line in _lines(message[start:end]):
            offset += len(line)
            if not _is_blank(line) and not line.startswith(comment_char):
                pos = offset
        if message[pos - 1] != "\n":
            return message[:pos] + nl + nl.join(new_lines) + message[pos:]
        return message[:pos] + "".join(line + nl for line in new_lines) + message[pos:]

    pos = _insertion_point(message, end, comment_char)
    before = message[:pos]
    unterminated = bool(before) and not before.endswith("\n")
    prefix = nl if unterminated else ""
    if not _ends_with_blank(before + prefix):
        prefix += nl
    if unterminated:
        return before + prefix + nl.join(new_lines) + message[pos:]
    return before + prefix + "".join(line + nl for line in new_lines) + message[pos:]


def remove(
        message: str,
        keys: set[str],
        *,
        predicate: Callable[[str, str], bool] | None = None,
        comment_char: str = "#",
) -> str:
    """Remove from the trailer block the trailers (with their continuation lines) whose key,
    lower-cased, is in `keys` and for which predicate(key, value) holds.  If nothing but blank
    lines is left of the block, the blank line `add` would have put before it goes too, so
    remove(add(m, t), keys of t) == m when m has none of those keys."""
    start, end = _git_block(message, comment_char)
    if start == end:
        return message
    wanted = {k.lower() for k in keys}
    kept: list[str] = []
    removed_any = False
    for entry in _entries(message[start:end]):
        trailer = _entry_trailer(entry, comment_char)
        if (
                trailer is not None and
                trailer[0].lower() in wanted and
                (predicate is None or predicate(*trailer))
        ):
            removed_any = True
            # Blank "continuation" lines are the block's trailing whitespace, not the value.
            n = len(entry)
            while n > 1 and _is_blank(entry[n - 1]):
                n -= 1
            kept.extend(entry[n:])
        else:
            kept.extend(entry)
    if not removed_any:
        return message

    before, after = message[:start], message[end:]
    nl = _newline(message)
    if all(_is_blank(line) for line in kept):
        sep_start = before.rfind("\n", 0, len(before) - 1) + 1
        if before[sep_start:] == nl and not _ends_with_blank(before[:sep_start]):
            before = before[:sep_start]
    result = before + "".join(kept) + after
    # add() terminated an unterminated last line; undo that once its lines are gone.
    if not message.endswith("\n") and result.endswith(nl):
        result = result[:-len(nl)]
    return result


def strip_for_emptiness(message: str, *, comment_char: str = "#") -> str:
    """The message as `git commit`'s default cleanup leaves it: scissors tail, comment lines,
    trailing whitespace and surplus blank lines removed
    (wt_status_locate_end, strbuf_stripspace)."""
    text = message[:_locate_end(message, comment_char)]
    out: list[str] = []
    empties = 0
    for line in _lines(text):
        if line.startswith(comment_char):
            continue
        content = line.rstrip(_SPACE)
        if content:
            if empties and out:
                out.append("\n")
            empties = 0
            out.append(content + "\n")
        else:
            empties += 1
    return "".join(out)
