"""Line numbers for policy errors: tomllib reports none for a document that parses.

`Locator` maps tables and keys to the lines that hold them (best effort, by scanning the text);
`Checker.fail` turns a failed check into one `FILE:LINE: KEY: message` error.
"""

from __future__ import annotations

import re
from typing import NoReturn

from provenance.errors import ProvenanceError

_KEY_PART = re.compile(r"""[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'""")
_HEADER = re.compile(r"""\s*(\[\[?)\s*([A-Za-z0-9_\-."' ]+?)\s*\]\]?\s*(?:#.*)?$""")
_KEY_LINE = re.compile(
    r"""\s*((?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
    r"""(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'))*)\s*="""
)


def _dotted(key_text: str) -> str:
    return ".".join(p[1:-1] if p[0] in "\"'" else p for p in _KEY_PART.findall(key_text))


class Locator:
    """Best-effort line numbers for tables and keys: tomllib reports none for valid documents."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: dict[tuple[str, int | None], int] = {}
        self.keys: dict[tuple[str, int | None, str], int] = {}
        counts: dict[str, int] = {}
        table: tuple[str, int | None] = ("", None)
        in_string: str | None = None
        for n, line in enumerate(self.lines, 1):
            if in_string is not None:
                if line.count(in_string) % 2:
                    in_string = None
                continue
            if m := _HEADER.match(line):
                name = _dotted(m.group(2))
                index = counts[name] = counts.get(name, -1) + 1
                table = (name, index) if m.group(1) == "[[" else (name, None)
                self.headers.setdefault(table, n)
                continue
            if m := _KEY_LINE.match(line):
                self.keys.setdefault((*table, _dotted(m.group(1))), n)
            in_string = next((q for q in ('"""', "'''") if line.count(q) % 2), None)

    def line(self, table: str, index: int | None, key: str | None, value: str | None) -> int:
        n = None
        if key is not None:
            n = self.keys.get((table, index, key))
            if n is None and index is None and table:
                n = self.keys.get(("", None, f"{table}.{key}"))
        if n is not None and value:
            # An array element: point at the line holding it when the array spans lines.
            for i in range(n - 1, len(self.lines)):
                if value in self.lines[i] or (i >= n and _HEADER.match(self.lines[i])):
                    n = i + 1 if value in self.lines[i] else n
                    break
        if n is None and not table and key is not None:  # a top-level table or array of tables
            n = self.headers.get((key, None)) or self.headers.get((key, 0))
        if n is None:
            n = self.headers.get((table, index)) or self.keys.get(("", None, table))
        return n or 1


class Checker:
    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.loc = Locator(text)

    def fail(
        self, table: str, index: int | None, key: str | None, message: str,
        *, elem: int | None = None, value: str | None = None,
    ) -> NoReturn:
        where = table + (f"[{index}]" if index is not None else "")
        if key is not None:
            where = f"{where}.{key}" if where else key
        if elem is not None:
            where += f"[{elem}]"
        line = self.loc.line(table, index, key, value)
        text = f"{self.source}:{line}: {where}: {message}"
        # Quoted TOML keys and names may hold control characters; the error stays one line.
        raise ProvenanceError(re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], text))
