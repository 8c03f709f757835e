"""Specification of agent detection in commits: fingerprints, false-positive guards, Assisted-by.

Environment signals are specified in tests/detect/test_environment.py, the data table in
tests/detect/test_fingerprints.py.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from conftest import AIDER_COMMITS
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.detect.signals import (
    _MAX_LINE,
    _TRAILER_RE,
    Signal,
    _any_line_rule,
    _clip,
    _ranked,
    _rules_where,
    _trailer_signals,
    assisted_by_value,
    commit_signals,
    environment_signals,
)

AIDER_DATA = AIDER_COMMITS
HUMAN = ("Ada Lovelace", "ada@example.com")


def _tools(signals: list[Signal]) -> list[str]:
    return [s.tool for s in signals]


def _msg_signals(message: str) -> list[Signal]:
    return commit_signals(*HUMAN, message, *HUMAN)


# -- commit fingerprints ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trailer", "tool", "model"),
    [
        ("Co-Authored-By: Claude Opus 4.6 (1M context) <noreply@anthropic.com>",
         "claude-code", "Claude Opus 4.6"),
        ("Co-Authored-By: Claude <noreply@anthropic.com>", "claude-code", None),
        ("Co-authored-by: aider (gpt-4o) <aider@aider.chat>", "aider", "gpt-4o"),
        ("co-authored-by: aider (sonnet) <noreply@aider.chat>", "aider", "sonnet"),
        ("Co-authored-by: Cursor <cursoragent@cursor.com>", "cursor", None),
        ("Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>", "copilot", None),
        ("Co-authored-by: Copilot <999+Copilot@users.noreply.github.com>", "copilot", None),
        ("Co-Authored-By: Devin <158243242+devin-ai-integration[bot]@users.noreply.github.com>",
         "devin", None),
        ("Co-authored-by: openhands <openhands@all-hands.dev>", "openhands", None),
        ("Co-authored-by: Codex <noreply@openai.com>", "codex", None),
        ("Co-authored-by: Codex <codex@example.com>", "codex", None),
        ("Co-Authored-By: opencode <noreply@opencode.ai>", "opencode", None),
        ("Co-Authored-By: Oz <oz-agent@warp.dev>", "warp", None),
        ("Made-with: Cursor", "cursor", None),
        ("Claude-Session: https://claude.ai/code/session_01AbC", "claude-code", None),
        ("Replit-Commit-Author: Agent", "replit", None),
        ("Generated-By: PostHog Code", "posthog-code", None),
        ("Generated-by: Claude Code (claude-opus-4-6)", "claude-code", "claude-opus-4-6"),
        ("Co-authored-by-AI: GitHub Copilot (gpt-4.1)", "copilot", "gpt-4.1"),
        ("Assisted-by: LLM coccinelle sparse", "llm", None),
        ("Assisted-by: Claude:claude-3-opus coccinelle sparse", "claude-code", "claude-3-opus"),
        ("Assisted-by: claude-code/claude-opus-4", "claude-code", "claude-opus-4"),
        ("Assisted-by: Gemini CLI", "gemini-cli", None),
        ("Assisted-by: Windsurf", "windsurf", None),
        ("Assisted-by: Amazon Q Developer", "amazon-q", None),
        ("🤖 Generated with [Claude Code](https://claude.com/claude-code)", "claude-code", None),
        ("🤖 Generated with [Claude Code](https://claude.ai/code)", "claude-code", None),
        ("Generated with [Devin](https://devin.ai)", "devin", None),
        ("Made with [Cursor](https://cursor.com)", "cursor", None),
    ],
)
def test_message_fingerprints_name_tool_and_model(
    trailer: str, tool: str, model: str | None
) -> None:
    signals = _msg_signals(f"Fix the parser\n\nLonger text.\n\n{trailer}\n")
    assert [(s.tool, s.model, s.strength) for s in signals] == [(tool, model, "strong")]
    assert signals[0].evidence == trailer


@pytest.mark.parametrize(
    ("author", "tool"),
    [
        (("Paul Gauthier (aider)", "aider@paulg.org"), "aider"),
        (("Claude", "noreply@anthropic.com"), "claude-code"),
        (("claude[bot]", "209825114+claude[bot]@users.noreply.github.com"), "claude-code"),
        (("Copilot", "198982749+Copilot@users.noreply.github.com"), "copilot"),
        (("devin-ai-integration[bot]",
          "158243242+devin-ai-integration[bot]@users.noreply.github.com"), "devin"),
        (("google-labs-jules[bot]",
          "161369871+google-labs-jules[bot]@users.noreply.github.com"), "jules"),
        (("openai-codex[bot]", "215057067+openai-codex[bot]@users.noreply.github.com"), "codex"),
        (("chatgpt-codex-connector[bot]",
          "199175422+chatgpt-codex-connector[bot]@users.noreply.github.com"), "codex"),
        (("cursor[bot]", "206951365+cursor[bot]@users.noreply.github.com"), "cursor"),
        (("amazon-q-developer[bot]",
          "208079219+amazon-q-developer[bot]@users.noreply.github.com"), "amazon-q"),
        (("sweep-ai[bot]", "sweep-ai[bot]@users.noreply.github.com"), "sweep"),
        (("openhands", "openhands@all-hands.dev"), "openhands"),
        (("Kiro Agent", "kiro@example.com"), "kiro"),
    ],
)
def test_agent_and_bot_identities_as_author_are_fingerprints(
    author: tuple[str, str], tool: str
) -> None:
    signals = commit_signals(*author, "Update things", *HUMAN)
    assert _tools(signals) == [tool]


def test_aider_author_suffix_evidence_quotes_the_name() -> None:
    (signal,) = commit_signals("Paul (aider)", "p@x.org", "feat: x", "Paul (aider)", "p@x.org")
    assert signal == Signal("aider", 'author name "Paul (aider)"', "strong")


def test_numeric_noreply_ids_are_matched_by_pattern_not_value() -> None:
    signals = commit_signals("claude", "1+claude[bot]@users.noreply.github.com", "x")
    assert _tools(signals) == ["claude-code"]


def test_cosine_committer_identity_is_a_fingerprint() -> None:
    assert _tools(commit_signals(*HUMAN, "x", "Cosine", "agent@cosine.sh")) == ["cosine"]


def test_one_commit_can_carry_several_tools_and_duplicates_collapse() -> None:
    message = (
        "squash\n\nCo-authored-by: aider (gpt-4o) <aider@aider.chat>\n\n"
        "more\n\nCo-authored-by: aider (gpt-4o) <aider@aider.chat>\nMade-with: Cursor\n"
    )
    assert _tools(_msg_signals(message)) == ["aider", "cursor"]


# -- false-positive guards -------------------------------------------------------------------


# What `git merge --squash` writes (SQUASH_MSG, kept by `git commit --no-edit`): each squashed
# commit's header, then its message indented by four spaces.
SQUASH_BODY = (
    "Squashed commit of the following:\n\n"
    "commit 2eb8e116fadfbd7b5d2d9f94b442b7c96faf3b00\n"
    "Author: Paul Gauthier (aider) <paul@example.com>\n"
    "Date:   Thu Dec 3 12:29:31 2026 +0000\n\n"
    "    aider: add refund endpoint\n\n"
    "commit 9b383bf85066d8afb794b5baa9599069d24d4d2f\n"
    "Author: Bob <bob@example.com>\n"
    "Date:   Thu Dec 3 12:30:00 2026 +0000\n\n"
    "    Agent work\n    \n"
    "    Co-Authored-By: Claude <noreply@anthropic.com>\n"
    "\tMade-with: Cursor\n\n"
    "commit 5ff9918684df789cf6b78273c4a8b91d9ed2ac75\n"
    "Author: Bob <bob@example.com>\n"
    "Date:   Thu Dec 3 12:31:00 2026 +0000\n\n"
    "    Declared by hand\n    \n"
    "    AI-Assisted: yes\n"
)


def test_a_squash_body_as_git_writes_it_carries_its_commits_fingerprints() -> None:
    found = _msg_signals(SQUASH_BODY)
    assert sorted(_tools(found)) == ["aider", "claude-code", "cursor", "unknown"]
    evidence = {s.tool: s.evidence for s in found}
    assert evidence["aider"] == 'squashed commit\'s author name "Paul Gauthier (aider)"'
    assert evidence["unknown"] == "squashed AI-Assisted: yes"


@pytest.mark.parametrize("message", [
    "Fix\n\nAuthor: Paul Gauthier (aider) <paul@example.com>\n",  # not a squash body
    "Fix\n\n    AI-Assisted: yes\n",  # quoted, outside a squash body
    "Squashed commit of the following:\n\n    AI-Assisted: no\n",
    "Squashed commit of the following:\n\nAuthor: Ada Lovelace <ada@example.com>\n",
])
def test_only_a_squash_body_makes_headers_and_indented_declarations_evidence(message: str) -> None:
    assert _msg_signals(message) == []



@pytest.mark.parametrize(
    "message",
    [
        "Fix crash\n\nAssisted-by: Daniel Stenberg\nReported-by: Jay Satiro\n",
        "Fix crash\n\nAssisted-by: Claude Dupont\n",  # a person called Claude
        "Fix crash\n\nAssisted-by: Claude Dupont <claude@dupont.fr>\n",
        "Fix crash\n\nAssisted-by: none\n",
        "Fix crash\n\nGenerated-by: protoc 25.1\n",
        "Compare Claude and GPT-4o output; Claude Code and Cursor both fail here.\n",
        "Document the '🤖 Generated with [Claude Code]' footer in CONTRIBUTING\n",
        "Drop support for Made-with: Cursor trailers in the linter\n",
        "Bump lodash to 4.17.21\n\nSigned-off-by: dependabot[bot] <support@github.com>",
        "Fix\n\nCo-authored-by: Grace Hopper <grace@example.com>\n",
        "Fix\n\nCo-authored-by: Claude Shannon <claude@bell-labs.com>\n",
    ],
)
def test_human_or_prose_mentions_are_not_fingerprints(message: str) -> None:
    assert _msg_signals(message) == []


def test_dependabot_and_renovate_are_bots_but_not_ai() -> None:
    dependabot = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
    renovate = ("renovate[bot]", "29139614+renovate[bot]@users.noreply.github.com")
    for bot in (dependabot, renovate):
        assert commit_signals(*bot, "Bump x from 1 to 2", *bot) == []


def test_a_committer_only_aider_suffix_is_not_evidence() -> None:
    assert commit_signals(*HUMAN, "fix: y", "Ada Lovelace (aider)", "ada@example.com") == []


# -- the real aider history ------------------------------------------------------------------


def _aider_records() -> list[dict[str, str]]:
    if not AIDER_DATA.exists():
        pytest.skip(f"{AIDER_DATA} not available")
    return [json.loads(line) for line in AIDER_DATA.read_text(encoding="utf-8").splitlines()]


def test_real_aider_commits_are_detected_exactly_when_aider_wrote_them() -> None:
    outcome: Counter[tuple[str, str]] = Counter()
    for r in _aider_records():
        signals = commit_signals(
            r["author_name"], r["author_email"], r["message"],
            r["committer_name"], r["committer_email"],
        )
        label = r["label"]
        if label in ("ai:author-suffix", "ai:co-author"):
            assert _tools(signals) == ["aider"], r["commit"]
            assert signals[0].strength == "strong"
            if label == "ai:co-author":
                assert signals[0].model, r["commit"]
                assert f"({signals[0].model})" in signals[0].evidence
            outcome[(label, "detected")] += 1
        else:
            assert label in ("human", "human:committed-through-aider"), label
            assert signals == [], r["commit"]
            outcome[(label, "clean")] += 1
    print(dict(outcome))
    assert outcome == {
        ("ai:author-suffix", "detected"): 150,
        ("ai:co-author", "detected"): 30,
        ("human", "clean"): 100,
        ("human:committed-through-aider", "clean"): 100,
    }


# -- Assisted-by values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signal", "value"),
    [
        (Signal("claude-code", "env CLAUDECODE=1", "strong"), "claude-code"),
        (Signal("aider", "x", "strong", "gpt-4o"), "aider:gpt-4o"),
        (Signal("claude-code", "x", "strong", "Claude Opus 4.6"), "claude-code:claude-opus-4.6"),
        (Signal("aider", "x", "strong", "openai/GPT-5.2"), "aider:openai/gpt-5.2"),
    ],
)
def test_assisted_by_value_is_tool_then_normalised_model(signal: Signal, value: str) -> None:
    assert assisted_by_value(signal) == value


def test_assisted_by_values_written_by_us_are_read_back_as_the_same_tool() -> None:
    (signal,) = _msg_signals("x\n\nCo-authored-by: aider (gpt-4o) <aider@aider.chat>")
    (again,) = _msg_signals(f"x\n\nAssisted-by: {assisted_by_value(signal)}")
    assert (again.tool, again.model) == ("aider", "gpt-4o")


# -- robustness ------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.text(), st.text(), st.text(), st.text(), st.text())
def test_commit_signals_never_crash(a: str, b: str, msg: str, c: str, d: str) -> None:
    for signal in commit_signals(a, b, msg, c, d):
        assert signal.strength in ("strong", "weak") and signal.tool and signal.evidence


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["AI_AGENT", "AGENT", "CLAUDECODE", "HOME", "USER",
                                        "TERM_PROGRAM", "GIT_AUTHOR_NAME"]), st.text()))
def test_environment_signals_never_crash(environ: dict[str, str]) -> None:
    signals = environment_signals(environ)
    assert len({(s.tool, s.evidence) for s in signals}) == len(signals)
    assert [s.strength for s in signals] == sorted((s.strength for s in signals),
                                                  key=("strong", "weak").index)


def reference_commit_signals(message: str) -> list[Signal]:
    """commit_signals' message scan as first written: every line with a ':' tried as a trailer."""
    found: list[Signal] = []
    any_line = _any_line_rule()
    for raw in message.splitlines():
        if len(raw) > _MAX_LINE:
            continue
        line = raw.strip()
        if ":" in raw:
            m = _TRAILER_RE.fullmatch(raw.strip(" \t\r\n"))
            if m is not None:
                found.extend(_trailer_signals(m.group(1).lower(), m.group(2).strip(), line))
        if any_line is not None and any_line.fullmatch(line):
            for rule in _rules_where("line"):
                if rule.line is not None and rule.line.fullmatch(line):
                    assert rule.tool is not None
                    found.append(Signal(rule.tool, _clip(line), rule.strength))
    return _ranked(found)


# Keys the rules read, in odd spellings, and keys they do not read; values that name tools or not.
TRAILER_KEY = st.sampled_from([
    "Co-authored-by", "co-AUTHORED-by", "Assisted-by", "ASSISTED-BY", "Made-with", "Made-With",
    "Generated-by", "Claude-Session", "Entire-Checkpoint", "Agent-Logs-Url", "Replit-Commit-Author",
    "Co-authored-by-AI", "Synthesized-by", "AI-Assisted", "Provenance-Signature", "Signed-off-by",
    "Assisted", "X-Assisted-by", "Assisted-by-x", "\u212aey", "Made\u2010with", "-Made-with",
])
TRAILER_VALUE = st.sampled_from([
    "claude-code", "aider:gpt-4o", "Claude <noreply@anthropic.com>", "Cursor", "cursor", "agent",
    "https://claude.ai/code/abc", "https://x.y/z", "cp-1", "yes", "Ada <ada@example.com>", "",
    "GitHub Copilot", "v1 declare a@x sha256:00 AA==",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.builds("{}{}{}:{}{}".format, st.sampled_from(["", "    ", "\t"]), TRAILER_KEY,
              st.sampled_from(["", " ", "\t", " \t"]),
              st.sampled_from(["", " ", "  "]), TRAILER_VALUE),
    st.sampled_from(["Fix it", "", "Generated with [Claude Code](https://claude.ai/code)",
                     "  Made with [Cursor](https://cursor.com)", "key: value", "a:b:c", "\u2028"]),
), max_size=8), st.sampled_from(["\n", "\r\n", "\x0b"]))
def test_skipping_keys_no_rule_reads_changes_nothing(lines: list[str], newline: str) -> None:
    message = newline.join(lines)
    assert commit_signals(*HUMAN, message, *HUMAN) == reference_commit_signals(message)
