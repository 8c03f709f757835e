"""Read and write a commit message's trailer block exactly as git 2.39 finds it.

The block is the one `%(trailers)` shows, i.e. `git interpret-trailers --no-divider`: a `---` line
does not end the message.  Where the block is and how its lines read is git's own rules, ported in
`trailer_block`; `strip_for_emptiness` mirrors `strbuf.c` (`strbuf_stripspace`).

Messages are `str`; callers decode bytes with `surrogateescape`, so only ASCII characters are ever
treated specially (git works on bytes with its own ASCII-only ctype).  Editing functions change
nothing but the lines they add or remove: CRLF endings, comments and the scissors tail survive.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from provenance.errors import ProvenanceError
from provenance.wire.trailer_block import (
    _CUT_LINE,
    _SPACE,
    Trailer,
    _ends_with_blank,
    _entries,
    _entry_trailer,
    _find_block,
    _git_block,
    _is_blank,
    _lines,
    _locate_end,
)

_KEY_RE = re.compile(r"[A-Za-z0-9-]+")


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
