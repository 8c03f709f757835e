"""Specification of agent detection from the environment a hook runs in: strong and weak signals."""

from __future__ import annotations

import pytest
from test_signals import _tools

from provenance.detect.signals import Signal, environment_signals


@pytest.mark.parametrize(
    ("environ", "tool"),
    [
        ({"CLAUDECODE": "1"}, "claude-code"),
        ({"CLAUDE_CODE_ENTRYPOINT": "cli"}, "claude-code"),
        ({"CLAUDE_CODE_REMOTE": "true"}, "claude-code"),
        ({"GEMINI_CLI": "1"}, "gemini-cli"),
        ({"CODEX_THREAD_ID": "0199-abcd"}, "codex"),
        ({"CODEX_SANDBOX": "seatbelt"}, "codex"),
        ({"CODEX_INTERNAL_ORIGINATOR_OVERRIDE": "codex_web_agent"}, "codex"),
        ({"CURSOR_AGENT": "1"}, "cursor"),
        ({"HOSTNAME": "cursor"}, "cursor"),
        ({"COPILOT_AGENT_SESSION_ID": "s-1", "CI": "true"}, "copilot"),
        ({"COPILOT_AGENT": "1"}, "copilot"),
        ({"KIRO_SESSION_ID": "k-1"}, "kiro"),
        ({"AWS_EXECUTION_ENV": "AmazonQ-For-CLI"}, "amazon-q"),
        ({"GIT_AUTHOR_NAME": "Paul Gauthier (aider)"}, "aider"),
        ({"HOME": "/home/jules", "USER": "swebot"}, "jules"),
        ({"OPENCODE": "1"}, "opencode"),
        ({"AGENT": "amp"}, "amp"),
        ({"GOOSE_TERMINAL": "1"}, "goose"),
        ({"OZ_RUN_ID": "r-1"}, "warp"),
        ({"QWEN_CODE": "1"}, "qwen-code"),
        ({"AI_AGENT": "devin"}, "devin"),
        ({"AI_AGENT": "OpenHands"}, "openhands"),
        ({"AI_AGENT": "v0"}, "v0"),
    ],
)
def test_strong_environment_variables_name_their_tool(environ: dict[str, str], tool: str) -> None:
    signals = environment_signals(environ)
    assert signals and signals[0].tool == tool and signals[0].strength == "strong"
    assert signals[0].evidence.startswith("env ")


@pytest.mark.parametrize(
    ("environ", "tool"),
    [
        ({"CURSOR_TRACE_ID": "t"}, "cursor"),
        ({"TERM_PROGRAM": "vscode"}, "vscode"),
        ({"TERM_PROGRAM": "kiro"}, "kiro"),
        ({"CODEIUM_EDITOR_APP_ROOT": "/opt/windsurf"}, "windsurf"),
        ({"REPL_ID": "abc"}, "replit"),
        ({"COPILOT_CLI": "1"}, "copilot"),
        ({"AGENT": "some-new-agent"}, "some-new-agent"),
    ],
)
def test_hints_that_also_appear_in_human_terminals_are_weak(
    environ: dict[str, str], tool: str
) -> None:
    assert [(s.tool, s.strength) for s in environment_signals(environ)] == [(tool, "weak")]


def test_weak_hints_rank_after_strong_signals_whatever_the_table_order() -> None:
    environ = {
        "TERM_PROGRAM": "vscode", "CURSOR_TRACE_ID": "t", "GEMINI_CLI": "1", "CLAUDECODE": "1",
    }
    strengths = [s.strength for s in environment_signals(environ)]
    assert strengths == ["strong", "strong", "weak", "weak"]


def test_exact_variables_outrank_composite_rules() -> None:
    environ = {"HOME": "/home/jules", "USER": "swebot", "CLAUDECODE": "1"}
    assert _tools(environment_signals(environ)) == ["claude-code", "jules"]


@pytest.mark.parametrize(
    "environ",
    [
        {"HOME": "/home/jules"},
        {"USER": "swebot"},
        {"HOME": "/home/jules", "USER": "jules"},
        {"HOME": "/home/ada", "USER": "swebot"},
    ],
)
def test_composite_rules_need_every_part(environ: dict[str, str]) -> None:
    assert environment_signals(environ) == []


def test_an_ordinary_human_shell_yields_nothing() -> None:
    environ = {
        "HOME": "/home/ada", "USER": "ada", "SHELL": "/bin/bash", "TERM": "xterm-256color",
        "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "GIT_AUTHOR_NAME": "Ada Lovelace",
        "GIT_COMMITTER_NAME": "Ada Lovelace (aider)",  # aider committing a person's own edits
        "CLAUDECODE": "", "CODEX_THREAD_ID": "", "AI_AGENT": "0", "AGENT": "false",
    }
    assert environment_signals(environ) == []


def test_value_rules_are_exact_and_empty_means_absent() -> None:
    assert environment_signals({"CLAUDECODE": "0"}) == []
    assert environment_signals({"GEMINI_CLI": "10"}) == []
    assert environment_signals({"COPILOT_AGENT_SESSION_ID": ""}) == []


def test_evidence_records_which_variable_matched_without_leaking_opaque_ids() -> None:
    evidence = [s.evidence for s in environment_signals(
        {"CLAUDECODE": "1", "CODEX_THREAD_ID": "secret-thread", "HOME": "/home/jules",
         "USER": "swebot", "GIT_AUTHOR_NAME": "Paul Gauthier (aider)"}
    )]
    assert "env CLAUDECODE=1" in evidence
    assert "env CODEX_THREAD_ID (set)" in evidence
    assert "env HOME=/home/jules + USER=swebot" in evidence
    assert 'env GIT_AUTHOR_NAME="Paul Gauthier (aider)"' in evidence
    assert not any("secret-thread" in e for e in evidence)


def test_the_same_variable_matched_twice_is_reported_once() -> None:
    signals = environment_signals({"AGENT": "amp"})  # a strong rule and the weak generic one
    assert signals == [Signal("amp", "env AGENT=amp", "strong")]


def test_generic_agent_variable_with_a_bare_truthy_value_is_an_unknown_agent() -> None:
    assert _tools(environment_signals({"AI_AGENT": "1"})) == ["unknown"]
    assert environment_signals({"AI_AGENT": "!!!"}) == []
