"""`git-provenance completion SHELL`, sourced in real shells: `git provenance <TAB>` through git's own
completion (bash's `_git_provenance`, zsh's `_git-provenance`, a fish rule) and `git-provenance <TAB>`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import clean_env

from provenance.cli import cli

BIN = Path(sys.executable).parent
# What `audit --format <TAB>` must offer: the choices the command itself declares.
_FORMAT = next(p for p in cli.commands["audit"].params if p.name == "fmt")
assert isinstance(_FORMAT.type, click.Choice)
FORMATS = [str(c) for c in _FORMAT.type.choices]
GIT_BASH_COMPLETION = next((p for p in (Path("/usr/share/bash-completion/completions/git"),
                                        Path("/etc/bash_completion.d/git")) if p.exists()), None)


def _env(tmp_path: Path) -> dict[str, str]:
    env = clean_env(tmp_path)
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"  # git-provenance, as after `pip install`
    return env


def _script(tmp_path: Path, shell: str) -> Path:
    out = subprocess.run([sys.executable, "-m", "provenance", "completion", shell], env=_env(tmp_path),
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    path = tmp_path / f"completion.{shell}"
    path.write_text(out)
    return path


@pytest.mark.skipif(GIT_BASH_COMPLETION is None, reason="git's bash completion is not installed")
@pytest.mark.parametrize(("line", "expected"), [
    ("git provenance do", ["doctor "]),
    ("git provenance audit --fo", ["--format "]),
    ("git provenance audit --format ", [f"{f} " for f in FORMATS]),
    ("git -C . provenance he", ["help "]),
    ("git-provenance do", ["doctor"]),
])
def test_bash_completes_git_provenance_through_gits_completion(tmp_path: Path, line: str,
                                                                 expected: list[str]) -> None:
    script = _script(tmp_path, "bash")
    words = line.split(" ")
    program = f"""
        source {GIT_BASH_COMPLETION}
        source {script}
        COMP_WORDS=({' '.join(f'"{w}"' for w in words)})
        COMP_CWORD={len(words) - 1}
        COMP_LINE="{line}"
        COMP_POINT=${{#COMP_LINE}}
        if [[ $COMP_WORDS == git ]]; then __git_wrap__git_main
        else _git_provenance_completion git-provenance; fi
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    proc = subprocess.run(["bash", "-c", program], env=_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.splitlines()) == sorted(expected)


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_gives_gits_completion_a_git_provenance_function(tmp_path: Path) -> None:
    """zsh's _git calls `_git-provenance` with `words` starting at `provenance`; compadd and
    _describe stand in for the completion widget, which needs a terminal."""
    script = _script(tmp_path, "zsh")
    program = f"""
        autoload -U compinit; compinit -u -d {tmp_path}/zcompdump
        source {script}
        _describe() {{ print -l -- "${{(@P)3}}"; }}
        compadd() {{ print -l -- "${{(@P)5}}"; }}
        words=(provenance do); CURRENT=2; _git-provenance
        words=(provenance audit --format ''); CURRENT=4; _git-provenance
    """
    proc = subprocess.run(["zsh", "-f", "-c", program], env=_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("doctor:Check this clone's set-up")
    assert lines[1:] == FORMATS


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_git_provenance(tmp_path: Path) -> None:
    script = _script(tmp_path, "fish")
    program = (f"source {script}; complete -C 'git provenance do'; echo ==; "
               "complete -C 'git -C . provenance audit --format '; echo ==; complete -C 'git-provenance re'")
    proc = subprocess.run(["fish", "-c", program], env=_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    doctor, formats, re_ = (block.strip().splitlines() for block in proc.stdout.split("==\n"))
    assert [c.split("\t")[0] for c in doctor] == ["doctor"]
    assert sorted(formats) == sorted(FORMATS)
    assert sorted(c.split("\t")[0] for c in re_) == ["report", "resign", "review"]
