"""One TOML table of the policy being validated: typed accessors whose errors name the key.

`schema` builds its records through these; `locator.Checker` turns each failure into one
`FILE:LINE: KEY: message` error.
"""

from __future__ import annotations

import difflib
import json
from typing import Any, NoReturn

from provenance.policy.locator import Checker


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = json.dumps(value)
        return shown if len(shown) <= 60 else shown[:56] + '..."'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


class _Table:
    """One TOML table being validated; every accessor names the key when it fails."""

    def __init__(
        self, ck: Checker, data: Any, table: str, index: int | None, allowed: tuple[str, ...],
    ) -> None:
        self.ck, self.table, self.index = ck, table, index
        if not isinstance(data, dict):
            if index is None:
                ck.fail("", None, table, f"must be a table ([{table}]), got {_show(data)}")
            ck.fail(table, index, None, f"must be a table, got {_show(data)}")
        self.data: dict[str, Any] = data
        for key in data:
            if key not in allowed:
                near = difflib.get_close_matches(key, allowed, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                self.fail(key, f"unknown key (expected one of: {', '.join(allowed)}){hint}")

    def fail(self, key: str | None, message: str, **kw: Any) -> NoReturn:
        self.ck.fail(self.table, self.index, key, message, **kw)

    def has(self, key: str) -> bool:
        return key in self.data

    def get_bool(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, got {_show(value)}")
        return value

    def get_str(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if value is None:
            self.fail(key, "missing (this key is required)")
        if not isinstance(value, str) or (key not in ("description",) and not value.strip()):
            self.fail(key, f"must be a non-empty string, got {_show(value)}")
        return value

    def get_int(self, key: str, default: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail(key, f"must be a positive integer, got {_show(value)}")
        return value

    def get_strs(self, key: str, default: tuple[str, ...] | None, what: str) -> tuple[str, ...]:
        value = self.data.get(key, default)
        if value is None:
            self.fail(key, "missing (this key is required)")
        if isinstance(value, tuple):
            return value
        if not isinstance(value, list):
            self.fail(key, f"must be an array of strings ({what}), got {_show(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(key, f"must be a string ({what}), got {_show(item)}", elem=i)
        return tuple(value)
