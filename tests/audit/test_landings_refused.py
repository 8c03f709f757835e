"""Content, not claims: a commit naming a request is judged as its landing only when its tree is
git's merge of the request's head onto its first parent. Otherwise it is judged on its own, and
the output says which check failed, or which fetch would tell. The gate, `show`, the text and
markdown reports and the HTML page explain a landing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import factory as f
import pytest
from conftest import PROJECT
from forges import github
from forges.history import commit as plumbing_commit
from forges.plumbing import publish_request_head, read_commit
from landing_support import LINES, MERGER, WHEN, audit, entry, nearby, request, setup, verdicts

from provenance.audit import report, walk
from provenance.commands import report as html_report
from provenance.commands import report_data
from provenance.commands import show as show_mod


@pytest.fixture
def people(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


def _pr5() -> dict[str, str | bytes | None]:
    return {"payments/pay.py": LINES.replace("line 5\n", "pr 5\n")}


def _tamper(repo: Path, squash: str, files: dict[str, str]) -> str:
    """The squash again, with the same message, parent and identities, and `files` on top."""
    c = read_commit(repo, squash)
    new = plumbing_commit(repo, [c.parents[0]], files, c.message, c.author, c.author_when,
                          committer=c.committer, cwhen=c.committer_when)
    f.git(repo, "update-ref", "refs/heads/main", new, squash)
    f.git(repo, "reset", "-q", "--hard", "main")
    return new


def test_a_squash_that_adds_a_line_the_request_did_not_have_is_not_a_landing(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo = setup(tmp_path, people)
    request(repo, people, [_pr5()], cosigned=True)
    nearby(repo, people)
    squash = github.squash(repo, "main", "pr", 7, "Pay more", merger=MERGER, when=WHEN)
    content = f.git(repo, "show", f"{squash}:payments/pay.py") + "\nsecret = 1\n"
    bad = _tamper(repo, squash, {"payments/pay.py": content})
    doc = audit(repo)
    judged = entry(doc, bad)
    assert "landed_from" not in judged
    assert "its tree is not git's merge of refs/pull/7/head" in judged["not_landed"]["reason"]
    assert judged["not_landed"]["request"] == "#7"
    assert "missing-cosign" in verdicts(doc)[bad]  # judged on its own: the copied co-sign is stale


def test_a_request_number_naming_an_unrelated_head_is_not_a_landing(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo = setup(tmp_path, people)
    request(repo, people, [_pr5()], cosigned=True)
    nearby(repo, people)
    squash = github.squash(repo, "main", "pr", 7, "Pay more", merger=MERGER, when=WHEN)
    # request #7's head now names a reviewed, unrelated change
    f.git(repo, "checkout", "-qb", "other", f"{squash}~1")
    other = f.commit(repo, people["bob"], {"docs/x.md": "x\n"}, ai=True)
    f.git(repo, "checkout", "-q", "main")
    publish_request_head(repo, 7, other, "github")
    doc = audit(repo)
    assert "its tree is not git's merge" in entry(doc, squash)["not_landed"]["reason"]
    assert set(verdicts(doc)[squash]) >= {"missing-cosign", "stale-signature"}


@pytest.mark.parametrize("forge,number,ref", [
    ("github", "#7", "refs/pull/7/head"), ("gitlab", "!7", "refs/merge-requests/7/head")])
def test_a_failing_commit_naming_an_absent_request_says_what_to_fetch(
    tmp_path: Path, people: dict[str, f.Actor], forge: str, number: str, ref: str
) -> None:
    repo = setup(tmp_path, people)
    request(repo, people, [_pr5()], cosigned=True, forge=forge)
    nearby(repo, people)
    message = None if forge == "github" else "Pay more\n\nSee merge request pay/app!7\n"
    landed = github.squash(repo, "main", "pr", 7, "Pay more", merger=MERGER, when=WHEN,
                           message=message)
    f.git(repo, "update-ref", "-d", ref)  # CI did not fetch the request heads
    doc = audit(repo)
    assert entry(doc, landed)["not_landed"] == {
        "request": number, "source": None, "reason": f"names {number}, but {ref} is not here",
        "fetch": f"git fetch origin +{ref}:{ref}"}
    _documented(entry(doc, landed))
    text = report.to_text(walk.audit(None, None, None, repo, use_cache=False))
    assert f"  fetch it: git fetch origin +{ref}:{ref}" in text
    f.git(repo, "remote", "add", "upstream", "https://example.invalid/pay.git")
    doc = audit(repo)  # the only remote is the one named
    assert entry(doc, landed)["not_landed"]["fetch"] == f"git fetch upstream +{ref}:{ref}"


def _landed_history(tmp_path: Path, people: dict[str, f.Actor], *, cosigned: bool
                    ) -> tuple[Path, str, str]:
    repo = setup(tmp_path, people)
    (src,) = request(repo, people, [_pr5()], cosigned=cosigned)
    nearby(repo, people)
    squash = github.squash(repo, "main", "pr", 7, "Pay more", merger=MERGER, when=WHEN)
    f.git(repo, "reset", "-q", "--hard", "main")
    return repo, squash, src


def test_text_markdown_and_json_say_what_a_landing_is(tmp_path: Path,
                                                      people: dict[str, f.Actor]) -> None:
    repo, squash, src = _landed_history(tmp_path, people, cosigned=False)
    result = walk.audit(None, None, None, repo, use_cache=False)
    text = report.to_text(result)
    assert f"  landing of #7 {src[:12]}: judged by its source commits: {src[:12]} missing-cosign" \
        in text
    assert f"source commit {src[:12]}: AI-assisted change" in text
    assert "1 landing(s) judged by their source commits" in text
    markdown = report.to_markdown(result)
    assert "1 landing(s) judged by their source commits." in markdown
    assert f"landing of #7 {src[:12]}" in markdown
    (judged,) = [c for c in json.loads(report.to_json(result))["commits"] if c["commit"] == squash]
    assert judged["landed_from"]["commits"] == [src]
    assert judged["violations"][0]["fix"].startswith(f"git provenance cosign {src}")
    _documented(judged)


def _documented(commit: dict[str, object]) -> None:
    documented = (PROJECT / "docs" / "audit-json.md").read_text()
    for key in commit:
        assert f"`commits[].{key}`" in documented or f"`commits[].{key}[]`" in documented, key


def test_show_explains_a_landing_and_the_html_report_counts_it(
    tmp_path: Path, people: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, squash, src = _landed_history(tmp_path, people, cosigned=True)
    monkeypatch.chdir(repo)
    info = show_mod.inspect(squash)
    assert info["landing"] == {"source": src, "request": "#7", "commits": [src],
                               "verdicts": {src: []}}
    text = show_mod.render(squash, "text")
    assert f"landing     of #7 {src}: judged by its source commits" in text
    assert f"source      {src} ok" in text
    assert show_mod.inspect(src)["landing"] is None  # a reviewed commit, fine on its own
    data = report_data.build(walk.audit(None, None, None, repo), repo)
    assert [(x.commit, x.request, x.source) for x in data.landings] == [(squash, "#7", src)]
    page = html_report.render(data)
    assert '<div class="value">1</div><div class="label">landings judged by their sources' in page
    assert f"<code>{src[:12]}</code></td><td>{src[:12]} ok</td>" in page


def test_the_pre_push_gate_explains_a_failing_landing(tmp_path: Path,
                                                      people: dict[str, f.Actor]) -> None:
    repo, squash, src = _landed_history(tmp_path, people, cosigned=False)
    server = tmp_path / "server.git"
    subprocess.run(["git", "init", "-q", "--bare", str(server)], check=True)
    f.git(repo, "remote", "add", "origin", str(server))
    line = f"refs/heads/main {squash} refs/heads/main {'0' * 40}\n"
    proc = subprocess.run([sys.executable, "-m", "provenance", "hook", "pre-push", "origin",
                           str(server)], cwd=repo, input=line.encode(), capture_output=True)
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert f"{squash[:12]} landing of #7 {src[:12]}: judged by its source commits: " \
           f"{src[:12]} missing-cosign" in err
    assert f"git provenance cosign {src}" in err
