"""`git provenance evidence`: the population of AI-assisted changes to critical paths, a seeded
sample of it that is the same to the byte every time, and `ssh-keygen` commands that really
re-check each signature without the tool."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import subprocess
import sys
from pathlib import Path

import factory as f
import pytest
from conftest import PROJECT

from provenance.audit.records import VERDICT_CODES
from provenance.commands import evidence_render
from provenance.commands.evidence import Request, collect, selection_key
from provenance.commands.evidence_render import export
from provenance.errors import ProvenanceError
from provenance.policy.schema import POLICY_FILE
from provenance.wire import digest, note
from provenance.wire.statement import parse_signature_value

DAY = 86400
T0 = 1_751_328_000  # 2025-07-01T00:00:00Z


class History:
    """Ten AI-assisted changes to payments/ on ten days, signed and co-signed in every way a
    change can be (trailers, notes, a merge's covers, a forgery, nothing), and two changes
    outside the population."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        p = self.people = f.cast(tmp_path)
        spec = f.PolicySpec(people=[(p["alice"], ["senior"]), (p["bob"], []),
                                    (p["carol"], ["senior"])],
                            rules=[{"name": "tier-1", "paths": ["payments/**"]}])
        self.path = repo = f.init(tmp_path / "repo")
        self.at(-1)
        self.root = f.commit(repo, p["alice"], {POLICY_FILE: spec.text()})
        self.ai: list[str] = []
        for day in range(8):
            self.at(day)
            cosigners = [p["alice"]] if day % 3 == 0 else []
            self.ai.append(f.commit(repo, p["bob"], {f"payments/f{day}.py": f"{day}\n"},
                                    ai=True if day < 7 else None,  # the last: declared in a note
                                    cosigners=cosigners, subject=f"payments change {day}"))
        self.at(8, hour=4)  # after the fact: a signed Provenance-Declaration line in a note
        value = f.signature(p["bob"], "declare", digest.of_commit(self.ai[7], cwd=repo),
                            p["bob"].email, ai=True, assisted_by=["claude-code"])
        f.add_note(repo, self.ai[7], [note.declaration_line(
            parse_signature_value(value), True, ["claude-code"])])
        self.at(8, hour=5)  # a co-sign in a note, two days after the change it approves
        self.note(self.ai[1], p["carol"])
        self.at(8, hour=6)  # a forgery: mallory's key in alice's name
        self.note(self.ai[2], p["mallory"], as_email="alice@example.com")
        self.at(8)
        self.outside = [f.commit(repo, p["bob"], {"payments/human.py": "h\n"}),  # not AI
                        f.commit(repo, p["bob"], {"docs/ai.md": "a\n"}, ai=True)]  # not critical
        f.git(repo, "checkout", "-qb", "topic")
        self.at(9)
        self.ai.append(f.commit(repo, p["bob"], {"payments/topic.py": "t\n"}, ai=True,
                                subject="topic change"))
        f.git(repo, "checkout", "-q", "main")
        f.git(repo, "merge", "-q", "--no-ff", "--no-edit", "topic", who=p["bob"])
        self.merge = f.amend_trailers(repo, p["bob"], cosigners=[p["carol"]],
                                      covers=[digest.of_commit(self.ai[-1], cwd=repo)])

    def at(self, day: int, hour: int = 12) -> None:
        stamp = f"@{T0 + day * DAY + hour * 3600} +0000"
        self.monkeypatch.setenv("GIT_AUTHOR_DATE", stamp)
        self.monkeypatch.setenv("GIT_COMMITTER_DATE", stamp)

    def note(self, sha: str, signer: f.Actor, as_email: str | None = None) -> None:
        line = f.signature(signer, "cosign", digest.of_commit(sha, cwd=self.path),
                           self.people["bob"].email, as_email=as_email)
        f.add_note(self.path, sha, [f"Provenance-Signature: {line}"])

    def export(self, fmt: str = "csv", **kw: object) -> str:
        req = Request(str(kw.get("rev", "HEAD")), kw.get("size"), kw.get("seed"),  # type: ignore[arg-type]
                      kw.get("since"), kw.get("until"), fmt, None, None)  # type: ignore[arg-type]
        return export(req, self.path)

    def rows(self, **kw: object) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(self.export("csv", **kw))))


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> History:
    return History(tmp_path, monkeypatch)


def test_the_population_is_every_ai_assisted_change_to_a_critical_path(history: History) -> None:
    rows = history.rows()
    assert [r["commit"] for r in rows] == history.ai  # oldest first
    assert not set(history.outside) & {r["commit"] for r in rows}
    assert all(r["selection_key"] == "" for r in rows)


def test_a_sample_is_the_n_smallest_selection_keys_anyone_can_recompute(history: History) -> None:
    rows = history.rows(size=4, seed="2025-Q3")
    expected = sorted(history.ai, key=lambda c: hashlib.sha256(f"2025-Q3:{c}".encode()).hexdigest())
    assert {r["commit"] for r in rows} == set(expected[:4])
    assert [r["commit"] for r in rows] == [c for c in history.ai if c in expected[:4]]
    for r in rows:
        assert r["selection_key"] == selection_key("2025-Q3", r["commit"])
    other = history.rows(size=4, seed="another seed")
    assert [r["selection_key"] for r in other] != [r["selection_key"] for r in rows]
    assert len(history.rows(size=50, seed="s")) == len(history.ai)  # at most the population


@pytest.mark.parametrize("fmt", ["csv", "markdown", "html"])
def test_the_same_seed_and_range_give_the_same_bytes(history: History, fmt: str,
                                                      tmp_path: Path) -> None:
    first = history.export(fmt, size=5, seed="42")
    assert history.export(fmt, size=5, seed="42") == first
    for cache in history.path.glob(".git/provenance-cache*"):
        cache.unlink()
    assert history.export(fmt, size=5, seed="42") == first
    # A fresh clone with the notes fetched: the same history gives the same evidence.
    clone = tmp_path / "clone"
    f.git(tmp_path, "clone", "-q", str(history.path), str(clone))
    f.git(clone, "fetch", "-q", "origin", "refs/notes/provenance:refs/notes/provenance")
    req = Request("HEAD", 5, "42", None, None, fmt, None, None)
    assert export(req, clone) == first


def test_since_and_until_bound_the_period_by_committer_date(history: History) -> None:
    rows = history.rows(since="2025-07-03", until="2025-07-05T12:00:00Z")
    assert [r["commit"] for r in rows] == history.ai[2:4]
    assert rows[0]["committed_at"] == "2025-07-03T12:00:00Z"
    ev = collect(Request("HEAD", None, None, "2025-07-03", None, "csv", None, None), history.path)
    assert ev.population == len(history.ai) - 2


def test_each_row_has_the_verdict_declaration_and_rule(history: History) -> None:
    rows = {r["commit"]: r for r in history.rows()}
    ok, open_ = rows[history.ai[0]], rows[history.ai[4]]
    assert ok["verdict"] == "pass" and ok["cosigners"] == "alice@example.com"
    assert open_["verdict"] == "fail: missing-cosign" and open_["cosigners"] == ""
    assert open_["violations"].startswith("missing-cosign: AI-assisted change to rule 'tier-1'")
    assert ok["rules"] == "tier-1: payments/f0.py"
    assert ok["declaration"].startswith("declared yes (trailer, signed by bob@example.com)")
    assert ok["declaration_checks"].startswith("bob@example.com: valid (trailer, key SHA256:")
    assert ok["author"] == "Bob Dev <bob@example.com>" and ok["subject"] == "payments change 0"
    assert ok["change"] == digest.of_commit(history.ai[0], cwd=history.path)
    assert ok["policy"] == f.git(history.path, "rev-parse", f"{history.root}:{POLICY_FILE}")
    for r in rows.values():
        codes = r["verdict"].removeprefix("fail: ").split(", ") if r["verdict"] != "pass" else []
        assert set(codes) <= set(VERDICT_CODES)


def test_a_declaration_made_after_the_fact_in_a_note_is_checked_too(history: History) -> None:
    row = {r["commit"]: r for r in history.rows()}[history.ai[7]]
    assert row["declaration"] == "declared yes (note, signed by bob@example.com)"
    assert row["declaration_checks"].startswith(
        f"bob@example.com: valid (note on {history.ai[7][:12]}, key SHA256:")
    assert "'ai-assisted yes' 'assisted-by claude-code'" in row["verify_commands"]


def test_co_signs_are_dated_as_the_html_report_dates_them(history: History) -> None:
    rows = {r["commit"]: r for r in history.rows()}
    # In trailers: the commit's committer date. In a note: the notes commit that added it.
    assert "(trailer, 2025-07-01T12:00:00Z, key SHA256:" in rows[history.ai[0]]["cosign_checks"]
    assert rows[history.ai[1]]["cosign_checks"].startswith(
        f"carol@example.com: valid (note on {history.ai[1][:12]}, 2025-07-09T05:00:00Z, key")
    # Through the merge that brings it in: the merge's co-sign with its covers line.
    topic = rows[history.ai[-1]]
    assert topic["verdict"] == "pass" and topic["cosigners"] == "carol@example.com"
    assert f"co-sign of merge {history.merge[:12]} (trailer)" in topic["cosign_checks"]


def test_a_forged_co_sign_is_shown_as_such_with_no_command(history: History) -> None:
    row = {r["commit"]: r for r in history.rows()}[history.ai[2]]
    assert "alice@example.com: unknown-key (note on" in row["cosign_checks"]
    assert row["verdict"] == "fail: unknown-key, missing-cosign"
    assert "-I alice@example.com" not in row["verify_commands"]


def test_the_ssh_keygen_commands_really_verify_every_signature(history: History) -> None:
    rows = history.rows()
    commands = [c for r in rows for c in r["verify_commands"].splitlines()]
    # Every valid declaration and co-sign, the merge's covering co-sign included.
    valid = sum(line.split(": ")[1].startswith("valid") for r in rows
                for cell in ("declaration_checks", "cosign_checks") for line in r[cell].splitlines())
    assert len(commands) == valid == len(history.ai) + 3 + 1 + 1
    for command in commands:
        proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, (command, proc.stderr)
        assert re.match(r'Good "git-provenance" signature for \S+@example\.com with ED25519 key',
                        proc.stdout + proc.stderr)
    # And they check something: a changed statement fails.
    tampered = commands[0].replace("'role declare'", "'role cosign'", 1)
    assert subprocess.run(["bash", "-c", tampered], capture_output=True, check=False).returncode != 0


def test_the_csv_columns_are_documented(history: History) -> None:
    header = history.export("csv").splitlines()[0]
    assert header.split(",") == list(evidence_render.COLUMNS)
    documented = (PROJECT / "docs" / "evidence.md").read_text()
    for column in evidence_render.COLUMNS:
        assert f"| `{column}` |" in documented, column


def test_markdown_and_html_hold_the_same_changes(history: History) -> None:
    md = history.export("markdown", size=3, seed="x")
    html = history.export("html", size=3, seed="x")
    sample = [r["commit"] for r in history.rows(size=3, seed="x")]
    for sha in sample:
        assert f"`{sha}`" in md and f"<code>{sha}</code>" in html
    assert "| population | 9 AI-assisted change(s) to critical paths |" in md
    assert "git provenance evidence HEAD --sample 3 --seed x --format markdown" in md
    assert "default-src 'none'" in html and "<script" not in html


@pytest.mark.parametrize("kw, message", [
    ({"size": 3}, "--sample needs --seed"),
    ({"seed": "x"}, "--seed goes with --sample"),
    ({"since": "July"}, "--since 'July' is not a date"),
    ({"since": "2025-07-05", "until": "2025-07-01"}, "--since must come before --until"),
    ({"rev": "HEAD~2..HEAD"}, "one revision"),
    ({"rev": "no-such-branch"}, "does not name a commit"),
])
def test_bad_arguments_are_one_clear_error(history: History, kw: dict[str, object],
                                           message: str) -> None:
    with pytest.raises(ProvenanceError, match=message) as e:
        history.export("csv", **kw)
    assert "\n" not in str(e.value)


def test_the_command_line_writes_a_file(history: History, tmp_path: Path) -> None:
    out = tmp_path / "sample.csv"
    proc = subprocess.run([sys.executable, "-m", "provenance", "evidence", "--sample", "2",
                           "--seed", "s", "--output", str(out)], cwd=history.path,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == history.export("csv", size=2, seed="s").encode()
    bad = subprocess.run([sys.executable, "-m", "provenance", "evidence", "--sample", "2"],
                         cwd=history.path, capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    nowhere = subprocess.run([sys.executable, "-m", "provenance", "evidence", "--output",
                              str(tmp_path / "no" / "such" / "dir.csv")], cwd=history.path,
                             capture_output=True, text=True, check=False)
    assert nowhere.returncode == 2 and nowhere.stderr.startswith("git-provenance: error: cannot write")


def test_an_external_policy_samples_an_unadopted_history(tmp_path: Path) -> None:
    """No declarations anywhere: the AI-assisted changes are the fingerprinted ones, judged under
    the auditor's own policy file, whose sha256 the rows name."""
    people = f.cast(tmp_path)
    repo = f.init(tmp_path / "repo")
    f.git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    f.write(repo, {"payments/a.py": "a\n"})
    f.git(repo, "add", "-A")
    f.git(repo, "commit", "-q", "-m", "pay\n\nCo-authored-by: Claude <noreply@anthropic.com>")
    ai = f.git(repo, "rev-parse", "HEAD")
    f.write(repo, {"payments/b.py": "b\n"})
    f.git(repo, "add", "-A")
    f.git(repo, "commit", "-q", "-m", "by hand")
    policy = tmp_path / "auditor.toml"
    policy.write_text(f.PolicySpec(people=[(people["alice"], ["senior"])],
                                   rules=[{"name": "tier-1", "paths": ["payments/**"]}]).text())
    req = Request("HEAD", None, None, None, None, "csv", None, str(policy))
    [row] = csv.DictReader(io.StringIO(export(req, repo)))
    assert row["commit"] == ai and row["declaration_checks"] == "" and row["verify_commands"] == ""
    assert row["verdict"] == "fail: undeclared-ai, missing-cosign"
    assert row["policy"] == "sha256:" + hashlib.sha256(policy.read_bytes()).hexdigest()
