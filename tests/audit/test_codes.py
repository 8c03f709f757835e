"""The verdict table (audit/codes.py) is the one source: docs/verdicts.md shows exactly its rows."""

from __future__ import annotations

from conftest import PROJECT

from provenance.audit import codes
from provenance.audit.records import VERDICT_CODES

VERDICTS_DOC = PROJECT / "docs" / "verdicts.md"


def test_the_table_has_every_verdict_code_in_order() -> None:
    assert tuple(c.code for c in codes.TABLE) == VERDICT_CODES


def test_docs_verdicts_shows_the_table_row_by_row() -> None:
    rows = [line for line in VERDICTS_DOC.read_text().splitlines() if line.startswith("| `")]
    assert rows == [codes.markdown_row(c) for c in codes.TABLE]


def test_every_row_has_a_title_meaning_example_and_fix() -> None:
    for c in codes.TABLE:
        assert c.title.endswith(".") and c.meaning and c.example and c.fix
        assert "|" not in "".join(c)  # a pipe would split the docs' table cell


def test_plain_text_drops_markdown_marks() -> None:
    assert codes.plain("the **previous** `git provenance cosign <sha>`") == (
        "the previous git provenance cosign <sha>")
