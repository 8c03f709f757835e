"""End to end: `audit --policy FILE` over a history that never adopted the tool.

Real aider commits and other agents' fingerprints are flagged `undeclared-ai` with the fingerprint
quoted as evidence; human commits are not, in every output format.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import AIDER_COMMITS, Person, Repo, clean_env, policy_text
from scenarios_support import entry, expect, provenance

People = dict[str, Person]


def _aider_samples() -> list[dict[str, str]]:
    rows = [json.loads(line) for line in
            AIDER_COMMITS.read_text().splitlines()]
    out: list[dict[str, str]] = []
    for label, n in (("ai:author-suffix", 6), ("ai:co-author", 4),
                     ("human:committed-through-aider", 6), ("human", 6)):
        out += [r for r in rows if r["label"] == label][:n]
    return out


# (author name, author email, message, the fingerprint text the evidence must quote)
AGENTS = [
    ("Dana Dev", "dana@example.com",
     "Add refund webhook\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)\n\n"
     "Co-Authored-By: Claude Opus 4.6 <noreply@anthropic.com>", "noreply@anthropic.com"),
    ("Claude", "noreply@anthropic.com", "Fix flaky test", "noreply@anthropic.com"),
    ("Dana Dev", "dana@example.com", "Tidy imports\n\nMade-with: Cursor", "Made-with: Cursor"),
    ("Dana Dev", "dana@example.com", "Split module\n\nCo-authored-by: Cursor <cursoragent@cursor.com>",
     "cursoragent@cursor.com"),
    ("Copilot", "198982749+Copilot@users.noreply.github.com", "Initial plan",
     "198982749+Copilot@users.noreply.github.com"),
    ("devin-ai-integration[bot]", "158243242+devin-ai-integration[bot]@users.noreply.github.com",
     "Add pagination", "158243242+devin-ai-integration[bot]@users.noreply.github.com"),
    ("google-labs-jules[bot]", "161369871+google-labs-jules[bot]@users.noreply.github.com",
     "Upgrade dependencies", "161369871+google-labs-jules[bot]@users.noreply.github.com"),
    ("Dana Dev", "dana@example.com", "Port parser\n\nCo-authored-by: Codex <noreply@openai.com>",
     "noreply@openai.com"),
]


def test_policy_file_scan_of_an_unadopted_history(tmp_path: Path, people: People) -> None:
    home = tmp_path / "home"
    home.mkdir()
    repo = Repo(tmp_path / "scan", home, clean_env(home))
    repo.path.mkdir()
    repo.git("init", "-q", "-b", "main")
    plan: list[tuple[str, str, str, str, str | None]] = []  # author, email, committer, message, marker
    for row in _aider_samples():
        ai = row["label"].startswith("ai:")
        marker = None
        if row["label"] == "ai:author-suffix":
            marker = f'author name "{row["author_name"]}"'
        elif ai:
            marker = next(ln for ln in row["message"].splitlines()
                          if ln.lower().startswith("co-authored-by:"))
        plan.append((row["author_name"], row["author_email"], row["committer_name"], row["message"], marker))
    plan += [(n, e, "Dana Dev", m, marker) for n, e, m, marker in AGENTS]
    plan += [("Erin Human", "erin@example.com", "Erin Human", f"Human change {i}", None) for i in range(3)]
    shas: list[tuple[str, str | None]] = []
    for i, (name, email, committer, message, marker) in enumerate(plan):
        repo.write(f"src/f{i}.py", f"x = {i}\n")
        repo.git("add", "-A")
        repo.run("git", "commit", "-q", "-F", "-", input=message.encode(), env={
            "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": committer, "GIT_COMMITTER_EMAIL": email})
        shas.append((repo.git("rev-parse", "HEAD").strip(), marker))
    assert len(shas) >= 30
    policy = tmp_path / "scan-policy.toml"
    policy.write_text(policy_text(people, extra=(
        "[declaration]\nrequired = false\nsigned = false\ndetect-undeclared = true\n\n")))
    someone = people["alice"]
    doc = expect(repo, someone, {sha: ["undeclared-ai"] for sha, marker in shas if marker},
                 "--policy", str(policy))
    assert doc["summary"]["commits"] == len(shas)
    assert doc["summary"]["ai_assisted"] == sum(1 for _, m in shas if m)
    for sha, marker in shas:
        judged = entry(doc, sha)
        assert judged["ai_assisted"] is (marker is not None), judged
        if marker:
            assert any(marker in e for e in judged["evidence"]), (marker, judged["evidence"])
        else:
            assert not any(e.startswith("fingerprint") for e in judged["evidence"]), judged
    flagged = [sha for sha, m in shas if m]
    text = provenance(repo, someone, "audit", "--policy", str(policy), check=False)
    md = provenance(repo, someone, "audit", "--policy", str(policy), "--format", "markdown", check=False)
    assert (text.returncode, md.returncode) == (1, 1)
    assert text.stdout.decode().count("undeclared-ai:") == len(flagged)
    assert md.stdout.decode().startswith("## git-provenance audit failed")
    for sha in flagged:
        assert sha[:12] in text.stdout.decode() and f"| `{sha[:12]}` |" in md.stdout.decode()
    humans = [sha for sha, m in shas if not m]
    assert not any(sha[:12] in text.stdout.decode() + md.stdout.decode() for sha in humans)
    clean = tmp_path / "no-detect.toml"
    clean.write_text(policy.read_text().replace("detect-undeclared = true", "detect-undeclared = false"))
    for fmt in ("text", "markdown", "json"):
        ok = provenance(repo, someone, "audit", "--policy", str(clean), "--format", fmt, check=False)
        assert ok.returncode == 0, ok.stdout.decode()
    assert "0 violation(s)" in provenance(repo, someone, "audit", "--policy", str(clean),
                                          check=False).stdout.decode()
