"""A scan (`--policy`, no notes) reads `--raw` paths in git's own order instead of patches in
topological order: the same verdicts, no digests."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import factory as f
import pytest

from provenance.audit import cache, report, scan, stream, walk
from provenance.policy.schema import POLICY_FILE
from provenance.wire import digest

TIER1 = {"name": "tier-1", "paths": ["payments/**"]}
AGENT = "Co-Authored-By: Claude <noreply@anthropic.com>"


@pytest.fixture
def people(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


def _plain(repo: Path, files: dict[str, str | bytes | None], message: str) -> str:
    f.write(repo, files)
    f.git(repo, "add", "-A")
    f.git(repo, "commit", "-q", "--no-verify", "--allow-empty", "-m", message)
    return f.git(repo, "rev-parse", "HEAD")


def _policy(tmp_path: Path, p: dict[str, f.Actor]) -> str:
    spec = f.PolicySpec(people=[(p["alice"], ["senior"]), (p["bob"], [])], rules=[TIER1])
    path = tmp_path / "scan.toml"
    path.write_text(spec.text())
    return str(path)


def _without_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    def patches(revs: list[str], cwd: Path, db: object) -> object:
        return stream.cached_stream(revs, cwd, db)  # type: ignore[arg-type]

    monkeypatch.setattr(walk, "scan_stream", patches)


def _policy_blob(repo: Path, rev: str) -> str:
    found = subprocess.run(["git", "rev-parse", "-q", "--verify", f"{rev}:{POLICY_FILE}"],
                           cwd=repo, capture_output=True, text=True)
    return found.stdout.strip() or stream.NULL_OID


def _by_commit(result: walk.AuditResult) -> dict[str, object]:
    """The JSON report with its commits keyed by id: a scan lists them in git's order."""
    doc = json.loads(report.to_json(result))
    doc["commits"] = {c["commit"]: c for c in doc["commits"]}
    return doc  # type: ignore[no-any-return]


def test_raw_lines_give_the_paths_and_policy_ids_the_patches_give(tmp_path: Path) -> None:
    repo = f.init(tmp_path / "r")
    _plain(repo, {"a b/é.txt": "1\n2\n3\n", "bin": b"\x00\x01", "x": "x\n", "tab\tname": "t\n",
                  'q"uote': "q\n", POLICY_FILE: "v = 1\n", "link": "target\n"}, "files")
    f.git(repo, "checkout", "-qb", "side")
    _plain(repo, {"a b/é.txt": "1\n2\n3\n4\n", "bin": b"\x00\x02"}, "side")
    f.git(repo, "checkout", "-q", "main")
    f.git(repo, "mv", "x", "y")
    (repo / "y").chmod(0o755)
    f.git(repo, "rm", "-q", "tab\tname")
    (repo / "link").unlink()
    os.symlink("target", repo / "link")  # a type change: two headers in a patch
    _plain(repo, {POLICY_FILE: "v = 2\n"}, "rename, mode change, deletion, type change, policy")
    f.git(repo, "merge", "-q", "--no-edit", "side")
    _plain(repo, {POLICY_FILE: None, "a b/é.txt": "0\n2\n3\n"}, "edit, policy gone")
    f.git(repo, "checkout", "-qb", "c2", "HEAD~1")
    _plain(repo, {"a b/é.txt": "9\n2\n3\n4\n"}, "conflicting")
    f.git(repo, "checkout", "-q", "main")
    f.git(repo, "merge", "-q", "--no-edit", "c2", check=False)
    _plain(repo, {"a b/é.txt": "8\n2\n3\n4\n"}, "conflicted merge")
    full = list(walk.log_stream(["HEAD"], repo))
    scanned = {r.sha: r for r in scan.scan_stream(["HEAD"], repo, None)}
    assert len(full) == len(scanned) == 7
    for a in full:
        b = scanned[a.sha]
        assert (a.sha, a.parents, a.message, a.paths) == (b.sha, b.parents, b.message, b.paths)
        if len(a.parents) > 1:  # a scan looks up every merge's policy blobs, and its first parent's
            assert b.policy_ids == (_policy_blob(repo, a.parents[0]), _policy_blob(repo, a.sha))
        else:
            assert b.policy_ids == a.policy_ids, a.message
        assert b.digest == stream.UNKNOWN  # unsigned: nothing needs it, merges included
    assert any(r.paths.count("link") == 2 for r in full)


def test_a_scan_judges_an_unadopted_history_as_the_full_walk_does(
    tmp_path: Path, people: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = f.init(tmp_path / "r")
    _plain(repo, {"README": "r\n"}, "root")
    for i in range(4):
        _plain(repo, {f"payments/p{i}.py": f"{i}\n"}, f"pay {i}\n\n{AGENT}" if i % 2 else f"pay {i}")
        _plain(repo, {f"docs/d{i}.md": f"{i}\n"}, f"docs {i}\n\n{AGENT}")
    f.git(repo, "checkout", "-qb", "side", "HEAD~2")
    _plain(repo, {"payments/side.py": "s\n"}, f"side\n\n{AGENT}")
    f.git(repo, "checkout", "-q", "main")
    f.git(repo, "merge", "-q", "--no-edit", "side")
    # A clean merge that takes the other side's policy file: its combined patch does not show it.
    f.git(repo, "checkout", "-qb", "policy", "HEAD~1")
    changed = _plain(repo, {POLICY_FILE: "version = 1\n"}, "policy on a side branch")
    f.git(repo, "checkout", "-q", "main")
    f.git(repo, "merge", "-q", "--no-edit", "policy")
    merge = f.git(repo, "rev-parse", "HEAD")
    policy = _policy(tmp_path, people)
    scanned = walk.audit(None, None, policy, repo, use_cache=False)
    _without_scan(monkeypatch)
    full = walk.audit(None, None, policy, repo, use_cache=False)
    assert _by_commit(scanned) == _by_commit(full)
    assert [j.commit for j in scanned.judgements][-1] == merge  # oldest first
    assert {j.commit for j in scanned.judgements if j.policy_change} == {changed, merge}
    codes = {v.code for j in full.judgements for v in j.violations}
    assert {"undeclared-ai", "missing-cosign", "missing-declaration"} <= codes


def test_from_the_first_signed_commit_on_a_scan_reads_patches(
    tmp_path: Path, people: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = f.init(tmp_path / "r")
    _plain(repo, {"README": "r\n"}, "root")
    unsigned = _plain(repo, {"payments/a.py": "a\n"}, f"agent change\n\n{AGENT}")
    signed = f.commit(repo, people["bob"], {"payments/b.py": "b\n"}, ai=True,
                      cosigners=[people["alice"]])
    forged = f.commit(repo, people["bob"], {"payments/c.py": "c\n"}, ai=True,
                      cosigners=[people["alice"]])
    f.write(repo, {"payments/c.py": "changed after the co-sign\n"})
    f.git(repo, "add", "-A")
    f.git(repo, "commit", "-q", "--amend", "--no-verify", "--no-edit")
    forged = f.git(repo, "rev-parse", "HEAD")
    raws = {r.sha: r for r in scan.scan_stream(["HEAD"], repo, None)}
    assert raws[unsigned].digest == stream.UNKNOWN
    assert raws[signed].digest == digest.of_commit(signed, cwd=repo)
    policy = _policy(tmp_path, people)
    for use_cache in (False, True, True):  # no cache, a cold one, a warm one
        scanned = walk.audit(None, None, policy, repo, use_cache=use_cache)
        codes = {j.commit: [v.code for v in j.violations] for j in scanned.judgements}
        assert codes[signed] == []
        assert "stale-signature" in codes[forged]
        assert codes[unsigned] == ["undeclared-ai", "missing-cosign"]
    _without_scan(monkeypatch)
    assert _by_commit(walk.audit(None, None, policy, repo, use_cache=False)) == \
        _by_commit(scanned)


def test_a_scan_caches_facts_and_signature_checks_but_no_verdict(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    """Judging an unsigned commit is cheaper than looking its verdict up: a scan judges afresh."""
    repo = f.init(tmp_path / "r")
    _plain(repo, {"README": "r\n"}, "root")
    signed = f.commit(repo, people["bob"], {"payments/b.py": "b\n"}, ai=True,
                      cosigners=[people["alice"]])
    _plain(repo, {"payments/a.py": "a\n"}, f"agent change\n\n{AGENT}")
    policy = _policy(tmp_path, people)
    first = walk.audit(None, None, policy, repo)
    with sqlite3.connect(repo / ".git" / cache.FILE_NAME) as db:
        counts = [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("verdicts", "facts", "memo")]
        cached = {sha for (sha,) in db.execute("SELECT sha FROM facts")}
    assert counts[0] == 0 and counts[1] == 1 and counts[2] >= 2  # two signatures checked
    assert cached == {signed}
    assert _by_commit(walk.audit(None, None, policy, repo)) == _by_commit(first)


def test_a_scanned_commit_is_covered_by_a_merge_cosigned_over_its_digest(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo = f.init(tmp_path / "r")
    _plain(repo, {"README": "r\n"}, "root")
    f.git(repo, "checkout", "-qb", "side")
    brought = _plain(repo, {"payments/a.py": "a\n"}, f"agent change\n\n{AGENT}")
    f.git(repo, "checkout", "-q", "main")
    _plain(repo, {"docs.md": "d\n"}, "docs")
    policy = _policy(tmp_path, people)
    before = walk.audit("side", None, policy, repo, use_cache=False)
    assert "missing-cosign" in [v.code for j in before.judgements if j.commit == brought
                                for v in j.violations]
    f.merge(repo, people["bob"], "side", cosigners=[people["alice"]],
            covers=[digest.of_commit(brought, cwd=repo)])
    after = walk.audit(None, None, policy, repo, use_cache=False)
    assert [v.code for j in after.judgements if j.commit == brought for v in j.violations] == \
        ["undeclared-ai"]


def test_raw_and_header_streams_carry_no_patch(tmp_path: Path) -> None:
    """--unified and --inter-hunk-context imply --patch: a scan once read every patch anyway."""
    repo = f.init(tmp_path / "r")
    _plain(repo, {"a.txt": "1\n2\n"}, "root")
    _plain(repo, {"a.txt": "1\n3\n", "b.txt": "b\n"}, "edit")
    _plain(repo, {}, "odd\r\n\n  body with trailing space  \n\n\nKey: v\n\tfolded\n\u00e9")
    order = stream.topo_order(["HEAD"], repo)
    raw = b"".join(scan.scan_log(["HEAD"], repo))
    none = b"".join(stream.commit_lines(order, repo, body="none"))
    patch = b"".join(stream.commit_lines(order, repo))
    assert b"\n@@ " in patch and b"diff --git" in patch
    for body in (raw, none):
        assert b"@@ " not in body and b"diff --git" not in body
    assert raw.count(b"\n:") == 3 and b"\n:" not in none
    # `log --no-walk` prints exactly the headers `diff-tree -s` does, without diffing the trees.
    diff_tree = subprocess.run(
        ["git", "diff-tree", "--stdin", "-s", "--always", "--root", "-r",
         f"--format={stream.LOG_FORMAT}"], cwd=repo, input=order, capture_output=True, check=True)
    assert none == diff_tree.stdout


def test_a_scan_in_an_order_that_puts_a_parent_first_is_walked_again_in_topological_order(
    tmp_path: Path,
) -> None:
    """Commits made in one second: git's date order shows X before C2, a clean merge of it, and
    remerge-diff in that stream then invents an own change for C2 (git.merges.own_changes)."""
    repo = tmp_path / "r"
    ids = f.same_second_history(repo)
    dated = {r.sha: r for r in scan.scan_stream(["HEAD"], repo, None, topo=True)}
    assert dated[ids["C2"]].paths == () and dated[ids["TOP"]].paths == ()
    with pytest.raises(scan.Unordered):
        list(scan.scan_stream(["HEAD"], repo, None))
    full = {r.sha: r.paths for r in walk.log_stream(["HEAD"], repo)}
    assert {r.sha: r.paths for r in dated.values()} == full
    policy = tmp_path / "policy.toml"
    policy.write_text('version = 1\n[[rule]]\nname = "c"\npaths = ["crit.txt"]\n'
                      'cosign-roles = ["senior"]\nthreshold = 1\napplies-to = "all"\n')
    result = walk.audit(None, None, str(policy), repo, use_cache=False)
    assert [j.commit for j in result.judgements if j.critical_paths] == [ids["B"], ids["X"]]
