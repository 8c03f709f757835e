"""The manual page: generated from the click commands, committed, and what `git provenance --help` opens."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT, clean_env

from provenance.cli import cli
from provenance.commands.manpage import render

PAGE = PROJECT / "man" / "git-provenance.1"
needs_man = pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")


def test_the_committed_page_is_generated_from_the_commands() -> None:
    assert PAGE.read_text() == render(cli), "man/git-provenance.1 is out of date: run `make man`"


def test_every_command_and_option_is_in_the_page() -> None:
    text = PAGE.read_text()
    for name, command in cli.commands.items():
        assert f".SS git provenance {name.replace('-', chr(92) + '-')}" in text
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert opt.replace("-", "\\-") in text, (name, opt)


@needs_man
def test_man_renders_the_page_without_a_warning() -> None:
    proc = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", str(PAGE)], capture_output=True,
                          text=True, env={**clean_env(PROJECT), "MANWIDTH": "80", "MANPAGER": "cat"})
    assert proc.returncode == 0 and proc.stderr == ""
    assert "git provenance audit [OPTIONS] [RANGE]" in proc.stdout


@needs_man
def test_git_provenance_help_opens_the_page_installed_beside_the_command(tmp_path: Path) -> None:
    """git runs `man git-provenance`; man looks in ../share/man of each bin/ on PATH, where pip's
    data-files put the page (tests/record/test_precommit_setup.py checks a real `pip install`)."""
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "share" / "man" / "man1").mkdir(parents=True)
    (prefix / "bin" / "git-provenance").symlink_to(Path(sys.executable).parent / "git-provenance")
    shutil.copy(PAGE, prefix / "share" / "man" / "man1")
    env = {**clean_env(tmp_path), "MANPAGER": "cat", "MANWIDTH": "80", "PAGER": "cat"}
    env["PATH"] = f"{prefix / 'bin'}:{env['PATH']}"
    env.pop("MANPATH", None)
    for args in (["provenance", "--help"], ["help", "provenance"]):
        proc = subprocess.run(["git", *args], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("GIT-PROVENANCE(1)") and "git provenance doctor" in proc.stdout
