"""A pinned patch and git's `--raw` lines, read as files: which paths they name, which of them
are submodules (gitlinks, mode 160000), and their blocks.

Paths are decoded with surrogateescape (a non-UTF-8 name keeps its bytes); git C-quotes unusual
names (core.quotePath=true), and `unquote` reverses that.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from typing import NamedTuple

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
RAW_LINE = re.compile(
    rb"^:([0-7]+) ([0-7]+) ([0-9a-f]+) ([0-9a-f]+) ([A-Z])[0-9]*\t([^\n]*)$", re.M)
GITLINK = "160000"  # the mode of a submodule's entry: a commit of another repository


class RawEntry(NamedTuple):
    """One `--raw` line: a changed path, its modes and object ids on both sides."""

    old_mode: str
    new_mode: str
    old: str
    new: str
    status: bytes  # the letter: A, D, M, T (a type change) ...
    path: str

    @property
    def gitlink(self) -> bool:
        """A submodule on either side (added, bumped, removed, or a type change)."""
        return GITLINK in (self.old_mode, self.new_mode)


def raw_entries(raw: bytes) -> Iterator[RawEntry]:
    """The `--raw` lines of `raw`, in git's order."""
    lines = RAW_LINE.findall(raw)
    if len(lines) != raw.count(b"\n:") + raw.startswith(b":"):  # a path unread: a rule unapplied
        raise ProvenanceError("unexpected output from git (a --raw line)")
    for old_mode, new_mode, old, new, status, name in lines:
        path = (unquote(name)[0] if name.startswith(b'"') else name).decode(
            "utf-8", "surrogateescape")
        yield RawEntry(old_mode.decode(), new_mode.decode(), old.decode(), new.decode(), status,
                       path)


def raw_paths(raw: bytes) -> tuple[str, ...]:
    """The paths of `--raw` lines, each once, in git's order."""
    return tuple(dict.fromkeys(e.path for e in raw_entries(raw)))


def tree_files(listing: bytes) -> tuple[list[str], tuple[str, ...]]:
    """The paths of a `git ls-tree -r -z` listing ("MODE TYPE ID\\tPATH\\0" each), and the
    submodules among them."""
    rows = [e.partition(b"\t") for e in listing.split(b"\0") if e]
    paths = [name.decode("utf-8", "surrogateescape") for _, _, name in rows]
    return paths, tuple(p for (info, _, _), p in zip(rows, paths, strict=True)
                        if info.startswith(b"160000 "))


def raw_gitlinks(raw: bytes) -> tuple[str, ...]:
    """The paths of `--raw` lines that are submodules on either side, each once."""
    if b"160000 " not in raw:  # C speed: most commits have none (an id ending so only costs)
        return ()
    return tuple(dict.fromkeys(e.path for e in raw_entries(raw) if e.gitlink))


# A submodule in a patch: its mode in the extended header (`index OLD..NEW 160000`, `new file mode
# 160000`, a combined diff's `mode A,B..C`), or, in a combined diff, which prints no mode that
# every side shares, a hunk of nothing but `Subproject commit <id>` lines.
_GITLINK_MODE = re.compile(
    rb"^(?:index \S+ |(?:new file |deleted file |old |new )?mode (?:\S*[,.])?)160000(?:[,.]|$)", re.M)
_SUBPROJECT = re.compile(rb"[ +-]*Subproject commit [0-9a-f]+")
_EXTENDED_END = re.compile(rb"^(?:--- |@@|Binary files )", re.M)


def patch_gitlinks(patch: bytes) -> tuple[str, ...]:
    """The paths of `patch`'s file sections that are submodules (on either side), each once."""
    if b"160000" not in patch and b"Subproject commit " not in patch:  # C speed: most have none
        return ()
    headers = [(h, p) for h in DIFF_HEADER.finditer(patch) if (p := path_of_header(h[0])) is not None]
    found: dict[str, None] = {}
    for n, (header, path) in enumerate(headers):
        section = patch[header.end():headers[n + 1][0].start() if n + 1 < len(headers) else None]
        cut = _EXTENDED_END.search(section)
        extended = section[:cut.start()] if cut else section
        if _GITLINK_MODE.search(extended) or (
                header[0].startswith((b"diff --cc ", b"diff --combined ")) and cut is not None
                and _only_subproject_lines(section[cut.start():])):
            found[path] = None
    return tuple(found)


def _only_subproject_lines(body: bytes) -> bool:
    """Whether a combined section's hunks (after its `---`/`+++` lines) hold nothing but
    `Subproject commit` lines: a file holding such text is taken as a submodule too, which only
    ever makes more paths critical."""
    lines = [ln for ln in body.split(b"\n") if ln and not ln.startswith((b"--- ", b"+++ ", b"@@"))]
    return bool(lines) and all(_SUBPROJECT.fullmatch(ln) for ln in lines)


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
