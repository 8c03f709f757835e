"""Where a declaration sits in a message: git's comment character, and the final trailer block.

A declaration counts only in the message's final trailer block (docs/spec.md). An editor session
can leave it elsewhere: the user types a subject above lines that then read as the subject's
paragraph, writes their own trailers in a paragraph of their own above ours, or a squash
concatenates several messages, each with its own block. `gather` moves the declaration lines
(never co-signs, never the user's other lines) into the final block; `for_editor` places a new
declaration where typing on the first line cannot glue the subject to it.
"""

from __future__ import annotations

from provenance.wire.trailer_block import (
    _CUT_LINE,
    _SPACE,
    _end_of_log_message,
    _find_separator,
    _git_block,
    _is_blank,
    _lines,
)
from provenance.wire.trailers import add, strip_for_emptiness

# git's candidates for `core.commentChar=auto`, in its order (builtin/commit.c).
AUTO_CANDIDATES = "#;@!$%^&|:"
_DECLARATION_KEYS = frozenset(("ai-assisted", "assisted-by"))
_SIGNATURE_KEY = "provenance-signature"


def comment_char(setting: str | None, message: str, *, edited: bool = False) -> str:
    """The comment character git uses for this message, from `core.commentChar`.

    git refuses a setting longer than one character before any hook runs. For `auto` git picks
    the first candidate that starts no line of the message it prepared, then appends its own
    comments when an editor runs (`edited`): the scissors line (`commit -v`,
    `--cleanup=scissors`) names the character, else the last line does (git's comments come
    last); without an editor there are no comments, and git's own rule applies to the message.
    """
    if not setting:
        return "#"
    if setting.lower() != "auto":
        return setting[0]
    text = "\n" + message
    for c in AUTO_CANDIDATES:
        if f"\n{c} {_CUT_LINE}" in text:
            return c
    if edited:
        last = next((ln for ln in reversed(message.split("\n")) if ln.strip(_SPACE)), "")
        if last[:1] and last[0] in AUTO_CANDIDATES:
            return last[0]
    starts = {ln[:1] for ln in text.split("\n")}
    return next((c for c in AUTO_CANDIDATES if c not in starts), "#")


def _declaration_line(line: str) -> bool:
    """`AI-Assisted:`, `Assisted-by:` or a `declare` signature, as a trailer line."""
    if not line or line[0] in _SPACE:
        return False
    sep = _find_separator(line)
    if sep < 1:
        return False
    key = line[:sep].strip(_SPACE).lower()
    if key in _DECLARATION_KEYS:
        return True
    return key == _SIGNATURE_KEY and line[sep + 1:].split()[:2] == ["v1", "declare"]


def _may_hold_declaration(message: str) -> bool:
    low = message.lower()
    return "ai-assisted" in low or "assisted-by" in low or _SIGNATURE_KEY in low


class _Layout:
    """The log message's lines (before git's ignored tail) as paragraphs of line indices.

    Comment lines belong to no paragraph (git's clean-up drops them); blank lines separate.
    """

    def __init__(self, message: str, comment_char: str) -> None:
        self.end = _end_of_log_message(message, comment_char)
        self.lines = _lines(message[:self.end])
        self.offsets: list[int] = []
        self.paragraphs: list[list[int]] = []
        current: list[int] = []
        offset = 0
        for i, line in enumerate(self.lines):
            self.offsets.append(offset)
            offset += len(line)
            if line.startswith(comment_char):
                continue
            if _is_blank(line):
                if current:
                    self.paragraphs.append(current)
                current = []
            else:
                current.append(i)
        if current:
            self.paragraphs.append(current)


def _trailer_paragraph(lines: list[str]) -> bool:
    """Every line a `Key: value` trailer or the continuation of one."""
    if _find_separator(lines[0]) < 1 or lines[0][0] in _SPACE:
        return False
    return all(ln[0] in " \t" or (_find_separator(ln) >= 1 and ln[0] not in _SPACE)
               for ln in lines)


def _stray(layout: _Layout) -> list[int]:
    """The declaration lines to gather: the paragraphs made only of them before the subject's
    (the user typed below them), those that end the subject's paragraph (typed above them), and
    those in every later paragraph made of trailers only (a block of the user's own above ours,
    a squash's earlier blocks). A declaration folded over several lines stays where it is."""
    found: list[int] = []
    paragraphs = layout.paragraphs
    title = next((n for n, para in enumerate(paragraphs)
                  if not all(_declaration_line(layout.lines[i]) for i in para)), None)
    if title is None:
        return []  # nothing but declarations: nothing typed yet (commit-msg refuses it)
    for para in paragraphs[:title]:
        found += para
    lines = [layout.lines[i] for i in paragraphs[title]]
    run = len(lines)
    while run > 1 and _declaration_line(lines[run - 1]):
        run -= 1
    found += paragraphs[title][run:]
    for para in paragraphs[title + 1:]:
        lines = [layout.lines[i] for i in para]
        if not _trailer_paragraph(lines):
            continue
        for k, (i, line) in enumerate(zip(para, lines, strict=True)):
            folded = k + 1 < len(lines) and lines[k + 1][0] in " \t"
            if _declaration_line(line) and not folded:
                found.append(i)
    return found


def _without(layout: _Layout, message: str, drop: list[int]) -> str:
    """The message without the dropped lines, nor the blank line a removed paragraph leaves
    doubled."""
    dropped = set(drop)
    kept: list[str] = []
    removed_since = False
    for i, line in enumerate(layout.lines):
        if i in dropped:
            removed_since = True
            continue
        if removed_since and _is_blank(line) and (not kept or _is_blank(kept[-1])):
            continue
        removed_since = removed_since and _is_blank(line)
        kept.append(line)
    while removed_since and kept and _is_blank(kept[-1]):  # a paragraph removed at the end
        kept.pop()
    return "".join(kept) + message[layout.end:]


def gather(message: str, comment_char: str = "#") -> str:
    """The message with its declaration lines in its final trailer block.

    Unchanged when they are all there already, unless that block holds nothing else and the
    paragraph above it is a trailer block of the user's own (then both become one block, so
    that git still reads the user's trailers). The moved lines keep their order; repeated
    ones are kept once.
    """
    if not _may_hold_declaration(message) or "\0" in message:
        return message
    layout = _Layout(message, comment_char)
    stray = _stray(layout)
    if not stray:
        return message
    start, end = _git_block(message, comment_char)
    in_block = [i for i in stray if start <= layout.offsets[i] < end]
    rest = _without(layout, message, stray)
    if len(in_block) == len(stray):
        # All in the final block already: move them only to join the user's own block above,
        # when the final block held nothing else.
        rest_start, rest_end = _git_block(rest, comment_char)
        if len(in_block) != len(layout.paragraphs[-1]) or rest_start == rest_end:
            return message
    trailers: list[tuple[str, str]] = []
    for i in stray:
        line = layout.lines[i]
        sep = _find_separator(line)
        trailers.append((line[:sep].strip(_SPACE), line[sep + 1:].strip(_SPACE)))
    return add(rest, trailers, comment_char=comment_char)


def for_editor(message: str, comment_char: str = "#") -> str:
    """A message about to open in an editor, with nothing of the user's in it yet (only the
    declaration, comments and blank lines): the declaration moves below an empty first line
    and a blank line, so that what the user types on the first line becomes the subject."""
    if not _may_hold_declaration(message):
        return message
    layout = _Layout(message, comment_char)
    if len(layout.paragraphs) != 1:
        return message
    para = layout.paragraphs[0]
    if not all(_declaration_line(layout.lines[i]) for i in para):
        return message
    rest = _without(layout, message, para)
    if strip_for_emptiness(rest, comment_char=comment_char).strip():
        return message
    block = "".join(layout.lines[i] if layout.lines[i].endswith("\n") else layout.lines[i] + "\n"
                    for i in para)
    rest = rest.lstrip("\n")
    return "\n\n" + block + ("\n" if rest else "") + rest
