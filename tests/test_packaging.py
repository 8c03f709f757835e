"""The package as pip builds it: no deprecation banner (the SPDX licence form), and the manual among
its data files, where `git provenance --help` finds it once installed."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from conftest import PROJECT, clean_env


def test_pyproject_uses_the_spdx_licence_form() -> None:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"
    assert "setuptools>=77" in project["build-system"]["requires"]  # the first to read that form
    assert project["tool"]["setuptools"]["data-files"] == {"share/man/man1": ["man/git-provenance.1"]}


def test_a_build_prints_no_warning_and_ships_the_manual(tmp_path: Path) -> None:
    env = {**clean_env(tmp_path), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path),
                           str(PROJECT)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "Deprecat" not in output and "BuildBackendWarning" not in output, output
    (wheel,) = tmp_path.glob("git_provenance-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "git_provenance-0.1.0.data/data/share/man/man1/git-provenance.1" in names
