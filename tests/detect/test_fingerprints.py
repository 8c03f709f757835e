"""The fingerprint table is versioned data: its schema, its loader's validation, its coverage."""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from typing import Any

import pytest

from provenance.detect import fingerprints
from provenance.detect.fingerprints import table_version
from provenance.errors import ProvenanceError

_ENV_KEYS = {"tool", "tool_from", "strength", "all"}
_COMMIT_KEYS = {"tool", "strength", "where", "name", "email", "model", "keys", "value",
                "value_names", "line"}


def _raw_table() -> dict[str, Any]:
    text = importlib.resources.files("provenance.detect").joinpath("fingerprints.toml").read_text("utf-8")
    return tomllib.loads(text)


def test_fingerprint_table_entries_follow_the_schema() -> None:
    data = _raw_table()
    assert set(data) == {"version", "names", "env", "commit"}
    assert data["version"] == table_version() >= 1
    for entry in data["names"]:
        assert set(entry) <= {"tool", "pattern", "trailing"} and entry["tool"]
        re.compile(entry["pattern"])
    for entry in data["env"]:
        assert set(entry) <= _ENV_KEYS, entry
        assert entry["strength"] in ("strong", "weak")
        assert ("tool" in entry) != ("tool_from" in entry)
        for cond in entry["all"]:
            ops = set(cond) - {"var"}
            assert len(ops) == 1 and ops <= {"present", "equals", "contains", "suffix"}, cond
    for entry in data["commit"]:
        assert set(entry) <= _COMMIT_KEYS, entry
        assert entry["strength"] in ("strong", "weak")
        assert entry["where"] in ("author", "committer", "co-author", "trailer", "line")
        for key in ("name", "email", "model", "value", "line"):
            if key in entry:
                re.compile(entry[key])


def test_the_shipped_table_passes_the_loaders_full_validation() -> None:
    text = importlib.resources.files("provenance.detect").joinpath("fingerprints.toml").read_text("utf-8")
    table = fingerprints.parse_table(text)
    assert table.version == table_version()
    assert table.env and table.commit and table.names


def test_committer_rules_never_match_on_a_name_suffix() -> None:
    for entry in _raw_table()["commit"]:
        if entry["where"] == "committer":
            assert "name" not in entry, entry


def test_every_tool_the_brief_names_has_a_rule() -> None:
    data = _raw_table()
    tools = {e.get("tool") for e in data["env"] + data["commit"]}
    for tool in ("claude-code", "cursor", "copilot", "codex", "gemini-cli", "aider", "devin",
                 "jules", "openhands", "amazon-q", "kiro", "windsurf", "opencode", "amp",
                 "goose", "warp", "sweep", "replit"):
        assert tool in tools, tool


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("version = 1\n[[env]]\ntool = 'x'\nstrength = 'maybe'\nall = [{var='A', present=true}]",
         "strength"),
        ("version = 1\n[[env]]\ntool = 'x'\nstrength = 'weak'\nall = [{var='A', like='b'}]",
         "condition"),
        ("version = 1\n[[commit]]\ntool = 'x'\nstrength = 'weak'\nwhere = 'author'\ncolour = 1",
         "unknown keys"),
        ("version = 1\n[[commit]]\ntool = 'x'\nstrength = 'weak'\nwhere = 'line'\nline = '('",
         "bad regex"),
        ("version = 'one'", "version"),
        ("version = 1\nextra = 2", "top-level"),
        ("version = [", "TOML"),
    ],
)
def test_a_malformed_table_is_a_clear_error(text: str, complaint: str) -> None:
    with pytest.raises(ProvenanceError, match=complaint):
        fingerprints.parse_table(text)
