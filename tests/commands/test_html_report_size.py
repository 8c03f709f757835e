"""The HTML report's size is bounded whatever the history's length: what grows is grouped and counted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_html_report import _chromium, needs_chromium

from provenance.commands import report, report_data
from provenance.commands.report_data import CosignDelay, Landing, ReportData

COMMITS = 2_500
LIMIT = 500_000  # bytes: docs/ci.md "The HTML report"
POLICY = """version = 1

[declaration]
required = true
detect-undeclared = true

[[rule]]
name = "payments"
paths = ["services/payments/**"]
cosign-roles = ["senior"]

[[rule]]
name = "checkout"
paths = ["services/checkout/**"]
cosign-roles = ["senior"]

[[person]]
name = "Alice Senior"
email = "alice@example.com"
roles = ["senior"]
keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice"]
"""


def _history(repo: Path, env: dict[str, str]) -> None:
    """COMMITS commits in one `git fast-import`: every one undeclared, most AI-assisted, each touching
    a critical path, with a long subject and many distinct agents, dated over ~34 years."""
    stream = bytearray()
    for i in range(COMMITS):
        area = ("payments", "checkout", "docs")[i % 3]
        msg = (f"change {i}: " + "a long subject line " * 20 + "\n\n"
               + (f"Assisted-by: tool-{i % 40}\nCo-Authored-By: Claude <noreply@anthropic.com>\n"
                  if i % 5 else "")).encode()
        body = f"value = {i}\n".encode()
        stream += (f"commit refs/heads/main\nmark :{i + 1}\n"
                   f"author Dev {i % 300} <dev{i % 300}@example.com> {800_000_000 + i * 432_000} +0000\n"
                   f"committer Dev <dev@example.com> {800_000_000 + i * 432_000} +0000\n"
                   f"data {len(msg)}\n").encode() + msg + b"\n"
        stream += f"M 100644 inline services/{area}/f{i % 50}.py\ndata {len(body)}\n".encode() + body
        stream += b"\n"
    stream += b"done\n"
    subprocess.run(["git", "fast-import", "--quiet", "--done"], cwd=repo, env=env,
                   input=bytes(stream), check=True, capture_output=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=repo, env=env, check=True)


@pytest.fixture(scope="module")
def large_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    root = tmp_path_factory.mktemp("large")
    env = {"HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
           "PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
    repo = root / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], env=env, check=True)
    _history(repo, env)
    policy = root / "policy.toml"
    policy.write_text(POLICY)
    out = root / "report.html"
    proc = subprocess.run([sys.executable, "-m", "provenance", "report", "--policy", str(policy),
                           "--html", str(out)], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out, out.read_text(), proc.stdout


def test_a_large_history_stays_under_the_bound_with_every_violation_counted(
        large_report: tuple[Path, str, str]) -> None:
    path, page, stdout = large_report
    # No commit declares: those with an agent's fingerprint are undeclared-ai, the others miss their
    # declaration, and the AI-assisted ones on payments or checkout miss a co-sign too.
    ai = sum(1 for i in range(COMMITS) if i % 5)
    ai_critical = sum(1 for i in range(COMMITS) if i % 5 and i % 3 != 2)
    total = COMMITS + ai_critical
    assert f"{COMMITS} commit(s)" in stdout and f"{total} open violation(s)" in stdout
    assert path.stat().st_size < LIMIT
    groups = {(code, rule): int(n) for code, rule, n in re.findall(
        r'class="group" data-code="([^"]+)" data-rule="([^"]*)" data-count="(\d+)"', page)}
    assert groups[("missing-declaration", "")] == COMMITS - ai and groups[("undeclared-ai", "")] == ai
    assert groups[("missing-cosign", "payments")] + groups[("missing-cosign", "checkout")] == ai_critical
    assert sum(groups.values()) == total
    assert page.count('class="violation"') <= report_data.SHOWN_VIOLATIONS
    assert f"… and {ai - report_data.SHOWN_PER_GROUP} more undeclared-ai" in page
    # 40 agents are named: the chart draws the first few and counts the others.
    agents = re.findall(r'<g class="row" data-label="([^"]+)"',
                        page.split('id="agents"')[1].split("</svg>")[0])
    assert len(agents) == report_data.SHOWN_AGENTS + 1 and agents[-1] == report_data.OTHER_AGENTS
    # ~34 years of author dates are drawn per year, not as ~400 months.
    buckets = re.findall(r'class="bucket" data-label="(\d{4})"', page)
    assert 30 <= len(buckets) <= 40 and sum(map(int, re.findall(r'data-commits="(\d+)"', page))) == COMMITS


def test_only_the_latest_cosign_delays_are_drawn_and_the_median_counts_all() -> None:
    delays = [CosignDelay(f"{i:040x}", "s", "alice", "note", i) for i in range(1001)]
    shown, total, median = report_data.delay_summary(delays)
    assert shown == tuple(delays[-report_data.SHOWN_DELAYS:]) and total == 1001 and median == 500
    assert report_data.delay_summary([]) == ((), 0, None)


def test_landings_list_the_latest_with_their_first_sources_and_count_the_rest() -> None:
    sources = tuple((f"{i:040x}", ("missing-cosign",)) for i in range(200))
    shown = tuple(Landing(f"{i:040x}", "squash " * 20, f"#{i}", f"{i:040x}", sources)
                  for i in range(report_data.SHOWN_LANDINGS))
    data = ReportData("main", "policy", "policy", 5000, 0, "week", (), (), (), 0, 0, (), 0, None, 0,
                      (), landings=shown, landings_total=5000)
    page = report.render(data)
    assert len(page.encode()) < LIMIT
    assert f"the latest {report_data.SHOWN_LANDINGS} of 5000" in page
    assert page.count("… and 190 more") == report_data.SHOWN_LANDINGS
    assert '<div class="value">5000</div><div class="label">landings judged' in page


@needs_chromium
def test_chromium_renders_the_large_report(large_report: tuple[Path, str, str], tmp_path: Path) -> None:
    path, _, _ = large_report
    dom = _chromium(tmp_path, "--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr
    for chart in ("timeline", "agents", "rules", "coverage"):  # no co-signs: no delays to draw
        assert f'id="{chart}"' in dom.stdout
    assert dom.stdout.count('class="group"') == 4 and dom.stdout.count('class="violation"') == 40
