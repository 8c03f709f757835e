"""The HTML report of the demo repository, rendered by headless Chromium and read back."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Person, new_repo

from provenance.commands import demo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
# A developer without Chromium may skip; CI (which .ci/run provisions) must not pass by skipping.
needs_chromium = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                    reason="Debian chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("demo")
    repo = demo.build(root / "d")
    out = root / "report.html"
    proc = subprocess.run([sys.executable, "-m", "provenance", "report", "--html", str(out)], cwd=repo,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "6 commit(s), 4 AI-assisted, 1 open violation(s)" in proc.stdout
    return out, out.read_text()


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


def test_the_page_is_self_contained(demo_report: tuple[Path, str]) -> None:
    _, page = demo_report
    assert not re.search(r"(?:src|href)\s*=|https?://|<script|@import|url\(", page, re.I)
    assert "default-src 'none'" in page  # the browser itself refuses any fetch


@needs_chromium
def test_chromium_renders_every_chart_with_the_demo_numbers(
        demo_report: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = demo_report
    dom = _chromium(tmp_path, "--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr
    html = dom.stdout
    for chart in ("timeline", "agents", "rules", "coverage", "cosign-delay"):
        assert f'id="{chart}"' in html
    # The demo spans four weeks: 2+2+1+1 commits, of which 1+1+1+1 AI-assisted.
    buckets = re.findall(r'class="bucket" data-label="([\d-]+)" data-commits="(\d+)" data-ai="(\d+)"', html)
    assert [(c, a) for _, c, a in buckets] == [("2", "1"), ("2", "1"), ("1", "1"), ("1", "1")]
    agents = dict(re.findall(r'<g class="row" data-label="([^"]+)" data-value="(\d+)"', html.split(
        'id="agents"')[1].split("</svg>")[0]))
    assert agents == {"claude-code": "2", "cursor": "1", "codex": "1"}
    assert 'data-needing="3" data-cosigned="2"' in html
    rules = html.split('id="rules"')[1].split("</svg>")[0]
    assert 'data-label="tier-1" data-value="3"' in rules and 'class="bar open" data-value="1"' in rules
    # Alice co-signed two days and one day after the commits (the demo's dates, minus its hours).
    delays = html.split('id="cosign-delay"')[1].split("</svg>")[0]
    assert re.findall(r'data-value="(\d+)"', delays)[::2] == [str(2 * 86400 - 3 * 3700),
                                                             str(86400 + 3700)]
    assert "44.9 h" in delays and "25.0 h" in delays
    assert html.count('class="violation"') == 1 and "missing-cosign" in html


@needs_chromium
def test_chromium_screenshots_the_page(demo_report: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = demo_report
    shot = tmp_path / "report.png"
    proc = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1300", path.as_uri())
    assert proc.returncode == 0, proc.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_a_critical_path_with_a_non_utf8_name_is_shown_escaped(
        tmp_path: Path, people: dict[str, Person]) -> None:
    repo = new_repo(tmp_path, people)
    name = os.fsencode(repo.path) + b"/payments/caf\xe9.py"  # Latin-1, not UTF-8
    os.makedirs(os.path.dirname(name))
    with open(name, "wb") as fh:
        fh.write(b"FEE = 5\n")
    repo.git("add", "-A")
    repo.commit(people["bob"], "Fees", env={"CLAUDECODE": "1"})
    out = tmp_path / "report.html"
    proc = repo.run(sys.executable, "-m", "provenance", "report", "--html", str(out), check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert b"Traceback" not in proc.stderr
    page = out.read_bytes().decode("utf-8")  # valid UTF-8 throughout
    assert "payments/caf\\xe9.py" in page and "\udce9" not in page
    if CHROMIUM is None and not os.environ.get("CI"):
        return  # as needs_chromium: CI must render it
    dom = _chromium(tmp_path, "--dump-dom", out.as_uri())
    assert dom.returncode == 0, dom.stderr
    assert 'class="violation"' in dom.stdout and "payments/caf\\xe9.py" in dom.stdout
