"""docs/hooks.md lists the agents' environment variables as fingerprints.toml defines them: the table
between its markers is generated from the `[[env]]` entries. After a change to the table, run
`python tests/detect/test_agent_table.py` to rewrite it."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[2]
TABLE = PROJECT / "provenance" / "detect" / "fingerprints.toml"
DOC = PROJECT / "docs" / "hooks.md"
BEGIN = ("<!-- agent-table: generated from provenance/detect/fingerprints.toml by "
         "tests/detect/test_agent_table.py -->")
END = "<!-- end of agent-table -->"


def _condition(cond: dict[str, Any]) -> str:
    var = f"`{cond['var']}`"
    if "present" in cond:
        return f"{var} set"
    if "equals" in cond:
        return f"`{cond['var']}={cond['equals']}`"
    if "contains" in cond:
        return f"{var} contains `{cond['contains']}`"
    return f"{var} ends with `{cond['suffix']}`"


def agent_table() -> str:
    """The markdown table of `[[env]]`: one row per entry, in the table's order (strong first)."""
    entries = tomllib.loads(TABLE.read_text())["env"]
    rows = ["| variables (all must hold) | agent | strength |", "|---|---|---|"]
    for entry in entries:
        tool = f"`{entry['tool']}`" if "tool" in entry else f"named by `{entry['tool_from']}`"
        conditions = " and ".join(_condition(c) for c in entry["all"])
        rows.append(f"| {conditions} | {tool} | {entry['strength']} |")
    return "\n".join(rows)


def _generated() -> str:
    return f"{BEGIN}\n{agent_table()}\n{END}"


def test_the_table_in_docs_hooks_md_is_generated_from_fingerprints_toml() -> None:
    doc = DOC.read_text()
    assert doc.count(BEGIN) == 1 and doc.count(END) == 1
    found = doc[doc.index(BEGIN):doc.index(END) + len(END)]
    assert found == _generated(), "run `python tests/detect/test_agent_table.py`"


def test_every_variable_of_the_table_is_in_the_doc() -> None:
    doc = DOC.read_text()
    for entry in tomllib.loads(TABLE.read_text())["env"]:
        for cond in entry["all"]:
            assert re.search(rf"`{cond['var']}[`=]", doc), cond["var"]


if __name__ == "__main__":
    text = DOC.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    DOC.write_text(text[:start] + _generated() + text[end:])
    sys.exit(0)
