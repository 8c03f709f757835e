"""A pinned patch and git's `--raw` lines, read as files: which paths they name, and their blocks.

Paths are decoded with surrogateescape (a non-UTF-8 name keeps its bytes); git C-quotes unusual
names (core.quotePath=true), and `unquote` reverses that.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator

from provenance.errors import ProvenanceError

_SIMPLE = {b"a": 7, b"b": 8, b"t": 9, b"n": 10, b"v": 11, b"f": 12, b"r": 13, b'"': 34, b"\\": 92}


def unquote(data: bytes) -> tuple[bytes, bytes]:
    """Decode one C-quoted string at the start of `data` (git's quote_c_style); return the rest."""
    out = bytearray()
    i = 1
    while i < len(data):
        c = data[i:i + 1]
        if c == b'"':
            return bytes(out), data[i + 1:]
        if c == b"\\":
            nxt = data[i + 1:i + 2]
            if nxt in _SIMPLE:
                out.append(_SIMPLE[nxt])
                i += 2
                continue
            out.append(int(data[i + 1:i + 4], 8) & 0xFF)
            i += 4
            continue
        out += c
        i += 1
    return bytes(out), b""


def path_of_header(line: bytes) -> str | None:
    """The path a `diff --git` / `diff --cc` / `diff --combined` header names."""
    text = line.rstrip(b"\n")
    if text.startswith(b"diff --git "):
        rest = text[len(b"diff --git "):]
        if rest.startswith(b'"'):
            raw = unquote(rest)[0][2:]
        else:
            # No renames: "a/P b/P", both halves the same path.
            raw = rest[2:2 + (len(rest) - 5) // 2]
    elif text.startswith((b"diff --cc ", b"diff --combined ")):
        rest = text.split(b" ", 2)[2]
        raw = unquote(rest)[0] if rest.startswith(b'"') else rest
    else:
        return None
    return raw.decode("utf-8", "surrogateescape")


DIFF_HEADER = re.compile(rb"^diff --.*$", re.MULTILINE)  # `^` after LF only: a lone CR is content
# ":MODE MODE OLD NEW STATUS\tPATH"; one `findall` a commit rather than a Python step per line.
RAW_LINE = re.compile(rb"^:[0-7]+ [0-7]+ ([0-9a-f]+) ([0-9a-f]+) ([A-Z])[0-9]*\t([^\n]*)$", re.M)


def raw_entries(raw: bytes) -> Iterator[tuple[str, str, bytes, str]]:
    """(old id, new id, status letter, path) of each `--raw` line."""
    lines = RAW_LINE.findall(raw)
    if len(lines) != raw.count(b"\n:") + raw.startswith(b":"):  # a path unread: a rule unapplied
        raise ProvenanceError("unexpected output from git (a --raw line)")
    for old, new, status, name in lines:
        path = (unquote(name)[0] if name.startswith(b'"') else name).decode(
            "utf-8", "surrogateescape")
        yield old.decode(), new.decode(), status, path


def raw_paths(raw: bytes) -> tuple[str, ...]:
    """The paths of `--raw` lines, each once, in git's order."""
    return tuple(dict.fromkeys(path for _, _, _, path in raw_entries(raw)))


def header_paths(patch: bytes) -> set[str]:
    """The paths a patch's `diff --` headers name."""
    return {p for h in DIFF_HEADER.finditer(patch) if (p := path_of_header(h[0])) is not None}


def blocks_of(patch: bytes, paths: Collection[str]) -> bytes:
    """The blocks of `patch` (each from its `diff --` header to the next) whose header names one
    of `paths`, in the patch's order."""
    starts = [h.start() for h in DIFF_HEADER.finditer(patch)]
    kept = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(patch)
        header_end = patch.find(b"\n", start)
        if path_of_header(patch[start:header_end if header_end >= 0 else end]) in paths:
            kept.append(patch[start:end])
    return b"".join(kept)
