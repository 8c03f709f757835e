"""The manual page `git-provenance(1)`, written from the click commands.

git turns `git provenance --help` into `man git-provenance`, so the page is installed with the
package (pyproject's data-files, `share/man/man1`, where man looks beside the `bin/` on PATH).
`man/git-provenance.1` is this module's output for `cli`, committed; tests/commands/test_manpage.py
holds it equal. Regenerate with `make man`.
"""

from __future__ import annotations

import inspect
import re

import click

from provenance import __version__

_LEADING_CONTROL = re.compile(r"^([.'])", re.M)


def _escape(text: str) -> str:
    """roff text: backslashes and hyphens escaped, no line starting a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return _LEADING_CONTROL.sub(r"\\&\1", text)


def _paragraphs(help_text: str) -> list[str]:
    """A docstring as roff: click's `\\b` paragraphs keep their lines, others are filled."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", inspect.cleandoc(help_text)):
        lines = para.splitlines()
        if lines and lines[0].strip() == "\b":
            out += [".PP", ".nf", *(_escape(line) for line in lines[1:]), ".fi"]
        else:
            out += [".PP", _escape(" ".join(line.strip() for line in lines))]
    return out


def _command(group: click.Group, ctx: click.Context, name: str) -> list[str]:
    command = group.get_command(ctx, name)
    assert command is not None
    sub = click.Context(command, info_name=name, parent=ctx)
    usage = " ".join(command.collect_usage_pieces(sub))
    out = [f".SS {_escape(f'git provenance {name} {usage}'.strip())}"]
    out += _paragraphs(command.help or "")
    for param in command.get_params(sub):
        record = param.get_help_record(sub)
        if record is None or param.name == "help" or record[0] == "--help":
            continue
        opts, text = record
        if isinstance(param, click.Argument) and not text:
            continue
        out += [".TP", f"\\fB{_escape(opts)}\\fR", _escape(text) or "\\&"]
    return out


def render(group: click.Group) -> str:
    """The whole page: name, synopsis, the group's help, then every command with its options."""
    ctx = click.Context(group, info_name="git-provenance")
    summary = (group.help or "").strip().splitlines()[0]
    lines = [
        f'.TH GIT\\-PROVENANCE 1 "" "git\\-provenance {_escape(__version__)}" "Git Manual"',
        ".SH NAME",
        f"git\\-provenance \\- {_escape(summary)}",
        ".SH SYNOPSIS",
        ".B git provenance",
        "\\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".br",
        ".B git provenance help",
        "[\\fICOMMAND\\fR]",
        ".SH DESCRIPTION",
        *_paragraphs("\n".join((group.help or "").strip().splitlines()[1:])),
        ".SH COMMANDS",
    ]
    for name in group.list_commands(ctx):
        lines += _command(group, ctx, name)
    lines += [
        ".SH FILES",
        ".TP",
        "\\fB.provenance.toml\\fR",
        "The policy, at the root of the repository (docs/policy.md).",
        ".TP",
        "\\fBrefs/notes/provenance\\fR",
        "Co\\-signs and after\\-the\\-fact declarations, one attestation a line; "
        "\\fBgit provenance sync\\fR moves them.",
        ".SH ENVIRONMENT",
        ".TP",
        "\\fBPROVENANCE_SKIP=1\\fR",
        "Every hook does nothing: the commit carries no declaration, and the audit reports it.",
        ".SH SEE ALSO",
        "\\fBgit\\fR(1), \\fBgithooks\\fR(5), \\fBssh\\-keygen\\fR(1), \\fBgit\\-notes\\fR(1)",
    ]
    return "\n".join(lines) + "\n"
