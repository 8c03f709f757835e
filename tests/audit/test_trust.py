"""Where an audit starts: partial clones are refused, the default trust root is trusted on first use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import factory as f
import pytest
from conftest import Person, Repo, new_repo

from provenance.audit import cache, trust, walk
from provenance.errors import ProvenanceError
from provenance.policy.schema import POLICY_FILE
from provenance.wire import digest

AGENT = {"CLAUDECODE": "1"}


@pytest.fixture
def actors(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


def _cli(repo: Repo, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "provenance", *args], cwd=repo.path, env=repo.env,
                          capture_output=True, input=input)


def _one_line(proc: subprocess.CompletedProcess[bytes], code: int = 2) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == code, (proc.returncode, err, proc.stdout.decode())
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize("spec", ["blob:none", "tree:0"])
def test_a_partial_clone_is_refused_naming_what_makes_it_whole(
    tmp_path: Path, people: dict[str, Person], spec: str
) -> None:
    repo = new_repo(tmp_path, people)
    for i in range(3):  # earlier versions of a file: blobs no checkout fetches
        repo.commit(people["bob"], f"Change {i}", {"notes.txt": f"{i}\n"})
    repo.git("config", "uploadpack.allowFilter", "true")
    path = tmp_path / "partial"
    repo.run("git", "clone", "-q", f"--filter={spec}", f"file://{repo.path}", str(path))
    clone = Repo(path, repo.home, repo.env)
    for args in (("audit",), ("audit", "--trust-root", "HEAD~3"), ("audit", "HEAD~1..HEAD")):
        err = _one_line(_cli(clone, *args))
        assert f"partial clone (remote 'origin' filters {spec})" in err, err
        assert "unable to read" not in err
        assert "git config --unset remote.origin.partialclonefilter && git fetch --refetch origin" in err
    # The pre-push gate refuses a protected push it cannot judge, with the same words.
    base = clone.git("rev-parse", "HEAD").strip()
    head = clone.commit(people["bob"], "Local", {"local.txt": "1\n"})
    gate = _cli(clone, "hook", "pre-push", "origin", "url",
                input=f"refs/heads/main {head} refs/heads/main {base}\n".encode())
    assert gate.returncode == 1 and "partial clone" in gate.stderr.decode()
    # Made whole as the message says, it audits.
    clone.run("sh", "-c", "git config --unset remote.origin.partialclonefilter && "
              "git fetch -q --refetch origin")
    audited = _cli(clone, "audit", "--trust-root", "HEAD~4", "--format", "json")
    assert audited.returncode == 1, audited.stderr.decode()  # judged: the local commit is undeclared
    judged = {c["commit"]: [v["code"] for v in c["violations"]]
              for c in json.loads(audited.stdout)["commits"]}
    assert len(judged) == 4 and judged[head] == ["missing-declaration"]


def test_a_clone_marked_partial_by_the_older_key_alone_is_refused(
    tmp_path: Path, people: dict[str, Person]
) -> None:
    repo = new_repo(tmp_path, people)
    repo.git("config", "extensions.partialClone", "upstream")
    err = _one_line(_cli(repo, "audit"))
    assert "partial clone (remote 'upstream' filters a filter)" in err, err


def test_the_pinned_trust_root_is_read_as_git_config_reads_it(
    tmp_path: Path, people: dict[str, Person]
) -> None:
    repo = new_repo(tmp_path, people)
    root = repo.git("rev-parse", "HEAD").strip()
    repo.commit(people["bob"], "Docs", {"notes.txt": "1\n"})
    # Keys are case-blind and the last value wins, as `git config --get` has it.
    repo.git("config", "--add", "provenance.trustRoot", "HEAD")
    repo.git("config", "--add", "Provenance.TRUSTROOT", root)
    found = trust.trust_root_of(None, None, repo.path, None)
    assert found == trust.TrustRoot(root, "pinned by git config provenance.trustRoot")
    # Recorded on first use (the same value under the first-use key too), it is a default.
    repo.git("config", "provenance.firstUseTrustRoot", root)
    assert trust.trust_root_of(None, None, repo.path, None).sha == root
    assert trust.trust_root_of(None, None, repo.path, None).how != found.how


# ---- the default trust root, trusted on first use -------------------------------------------------


def _evil_policy(p: dict[str, f.Actor]) -> str:
    """An attacker's policy: mallory is the only senior, nothing is critical, nothing required."""
    return f.PolicySpec(people=[(p["mallory"], ["senior"])], required=False, signed=False,
                        detect=False).text()


def _hijack(repo: Path, p: dict[str, f.Actor], root: str) -> tuple[str, str]:
    """An orphan commit with the attacker's policy, merged with main as its FIRST parent, main
    fast-forwarded to the merge, and the trust root's own policy change 'authorised' by a
    co-sign note under the attacker's policy. Returns (orphan, merge)."""
    f.git(repo, "checkout", "-q", "--orphan", "evil")
    f.git(repo, "rm", "-rqf", ".")
    orphan = f.commit(repo, p["mallory"], {POLICY_FILE: _evil_policy(p)}, ai=None)
    f.git(repo, "merge", "-q", "--no-commit", "--allow-unrelated-histories", "main",
          who=p["mallory"], check=False)
    f.git(repo, "checkout", "--ours", "--", POLICY_FILE)
    f.git(repo, "add", POLICY_FILE)
    f.git(repo, "commit", "-q", "--no-verify", "-m", "Merge main", who=p["mallory"])
    merge = f.git(repo, "rev-parse", "HEAD")
    f.git(repo, "checkout", "-q", "main")
    f.git(repo, "merge", "-q", "--ff-only", "evil")
    blob = f.git(repo, "rev-parse", f"{root}:{POLICY_FILE}")
    cosign = f.signature(p["mallory"], "cosign", digest.of_commit(root, cwd=repo),
                         p["alice"].email, policy=blob)
    f.add_note(repo, root, [f"Provenance-Signature: {cosign}"])
    return orphan, merge


def test_the_default_trust_root_is_recorded_on_first_use_and_said(
    tmp_path: Path, people: dict[str, Person]
) -> None:
    repo = new_repo(tmp_path, people)
    root = repo.git("rev-parse", "HEAD").strip()
    first = _cli(repo, "audit")
    assert first.returncode == 0, first.stderr.decode()
    assert "trusted on first use and recorded in git config provenance.trustRoot" in \
        first.stdout.decode()
    assert repo.git("config", "provenance.trustRoot").strip() == root
    assert repo.git("config", "provenance.firstUseTrustRoot").strip() == root
    again = _cli(repo, "audit")
    assert again.stdout == first.stdout  # the same words every time: reports stay comparable
    # --policy FILE scans everything, as before: a default trust root is not a pin.
    external = tmp_path / "policy.toml"
    external.write_text((repo.path / POLICY_FILE).read_text())
    scan = _cli(repo, "audit", "--policy", str(external), "--format", "json")
    assert json.loads(scan.stdout)["trust_root"] is None


def test_a_history_whose_default_trust_root_moved_is_refused(
    tmp_path: Path, actors: dict[str, f.Actor]
) -> None:
    spec = f.PolicySpec(people=[(actors["alice"], ["senior"]), (actors["bob"], [])],
                        rules=[{"name": "tier-1", "paths": ["payments/**"]}])
    repo = f.init(tmp_path / "repo")
    root = f.commit(repo, actors["alice"], {POLICY_FILE: spec.text()})
    f.commit(repo, actors["bob"], {"payments/a.py": "a = 1\n"}, ai=True, cosigners=[actors["alice"]])
    assert walk.audit(None, None, None, repo).trust_root == root  # recorded here
    orphan, merge = _hijack(repo, actors, root)
    bad = f.commit(repo, actors["bob"], {"payments/a.py": "a = 2\n"}, ai=True)
    with pytest.raises(ProvenanceError) as e:
        walk.audit(None, None, None, repo)
    message = str(e.value)
    assert e.value.exit_code == 2 and root[:12] in message and orphan[:12] in message
    assert f"git config provenance.trustRoot {orphan}" in message and "\n" not in message
    # Pinned explicitly, the same history is judged from the real root: the hijack shows.
    judged = walk.audit(None, root, None, repo)
    assert {j.commit for j in judged.judgements if j.violations} >= {orphan, bad}
    assert merge


def test_the_gate_refuses_a_push_on_a_history_whose_default_trust_root_moved(
    tmp_path: Path, people: dict[str, Person], actors: dict[str, f.Actor]
) -> None:
    repo = new_repo(tmp_path, people)
    root = repo.git("rev-parse", "HEAD").strip()
    origin = tmp_path / "origin.git"
    repo.run("git", "init", "-q", "--bare", "-b", "main", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.commit(people["bob"], "Docs", {"docs/a.md": "a\n"})
    first = repo.run("git", "push", "origin", "main", check=False)
    assert first.returncode == 0, first.stderr.decode()
    assert "trust root" in first.stderr.decode()  # said on first use
    assert repo.git("config", "provenance.trustRoot").strip() == root
    # Someone without hooks (or past them) makes an orphan policy the start of main.
    attacker = tmp_path / "attacker"
    repo.run("git", "clone", "-q", str(origin), str(attacker))
    orphan, _ = _hijack(attacker, actors, root)
    f.git(attacker, "push", "-q", "origin", "main")
    repo.git("pull", "-q", "--ff-only", "origin", "main")
    repo.commit(people["bob"], "More docs", {"docs/b.md": "b\n"})
    stopped = repo.run("git", "push", "origin", "main", check=False)
    err = stopped.stderr.decode()
    assert stopped.returncode != 0 and "the trust root moved" in err, err
    assert root[:12] in err and orphan[:12] in err


def test_the_head_a_default_trust_root_was_found_from_counts_as_on_its_chain(
    tmp_path: Path, people: dict[str, Person]
) -> None:
    # The default is read down HEAD's first-parent chain, so HEAD is remembered as passing through
    # it: the next push's check of that chain (e.g. the first push after `install`) stops there.
    repo = new_repo(tmp_path, people)
    root = repo.git("rev-parse", "HEAD").strip()
    head = repo.commit(people["bob"], "Docs", {"docs/a.md": "a\n"})
    assert walk.audit(None, None, None, repo.path).trust_root_recorded
    db = cache.open_cache(repo.path / ".git")
    assert db is not None
    try:
        assert (db.recall(trust._VERIFIED, root) or "").split() == [head]
    finally:
        db.close()
