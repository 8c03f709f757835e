"""The walk: one streamed git process, the policy chain, notes, covers, revocation, trust roots."""

from __future__ import annotations

import subprocess
from pathlib import Path

import factory as f
import pytest

from provenance.audit import covers, report, stream, walk
from provenance.errors import ProvenanceError
from provenance.policy.schema import POLICY_FILE
from provenance.wire import digest

TIER1 = {"name": "tier-1", "paths": ["payments/**"]}


@pytest.fixture
def people(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


def _spec(p: dict[str, f.Actor], **kw: object) -> f.PolicySpec:
    spec = f.PolicySpec(people=[(p["alice"], ["senior"]), (p["bob"], []),
                                (p["carol"], ["senior"])], rules=[TIER1])
    for k, v in kw.items():
        setattr(spec, k, v)
    return spec


def _repo(tmp_path: Path, p: dict[str, f.Actor], spec: f.PolicySpec) -> tuple[Path, str]:
    repo = f.init(tmp_path / "repo")
    root = f.commit(repo, p["alice"], {POLICY_FILE: spec.text(), "README": "hi\n"})
    return repo, root


def _codes(result: walk.AuditResult, sha: str) -> list[str]:
    return [v.code for j in result.judgements if j.commit == sha for v in j.violations]


def test_stream_digest_equals_of_commit_on_a_tricky_history(tmp_path: Path) -> None:
    repo = f.init(tmp_path / "r")
    f.git(repo, "commit", "-q", "--allow-empty", "-m", "empty root")
    f.write(repo, {"a b/é.txt": "1\n2\n3\n", "bin": b"\x00\x01", "x": "x\n", "tab\tname": "t\n",
                   'q"uote': "q\n"})
    f.git(repo, "add", "-A")
    f.git(repo, "commit", "-qm", "files")
    f.git(repo, "checkout", "-qb", "side")
    f.write(repo, {"a b/é.txt": "1\n2\n3\n4\n", "bin": b"\x00\x02"})
    f.git(repo, "add", "-A")
    f.git(repo, "commit", "-qm", "side")
    f.git(repo, "checkout", "-q", "main")
    f.git(repo, "mv", "x", "y")
    (repo / "y").chmod(0o755)
    f.git(repo, "rm", "-q", "tab\tname")
    f.git(repo, "commit", "-qam", "rename, mode change, deletion")
    f.git(repo, "merge", "-q", "--no-edit", "side")  # clean merge
    f.write(repo, {"a b/é.txt": "0\n2\n3\n"})
    f.git(repo, "commit", "-qam", "edit")
    f.git(repo, "checkout", "-qb", "c2", "HEAD~1")
    f.write(repo, {"a b/é.txt": "9\n2\n3\n4\n"})
    f.git(repo, "commit", "-qam", "conflicting")
    f.git(repo, "checkout", "-q", "main")
    f.git(repo, "merge", "-q", "--no-edit", "c2", check=False)
    f.write(repo, {"a b/é.txt": "8\n2\n3\n4\n"})
    f.git(repo, "commit", "-qam", "conflicted merge")
    raws = list(walk.log_stream(["HEAD"], repo))
    assert len(raws) == 8
    assert [r.sha for r in raws][::-1] == f.git(repo, "rev-list", "--topo-order", "HEAD").split()
    for r in raws:
        assert r.digest == digest.of_commit(r.sha, cwd=repo), r.message
    files = next(r for r in raws if r.message.startswith("files"))
    assert set(files.paths) == {"a b/é.txt", "bin", "x", "tab\tname", 'q"uote'}
    clean = next(r for r in raws if len(r.parents) == 2 and r.digest == digest.EMPTY)
    assert clean.paths == ()


def test_batches_of_the_stream_join_into_exactly_what_git_log_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """diff-tree runs once per batch (memory stays bounded); the bytes equal one `git log -p`."""
    repo = f.init(tmp_path / "r")
    for i in range(7):
        f.write(repo, {f"d{i % 3}/f.txt": f"{i}\n", "top": f"{i}\n"})
        f.git(repo, "add", "-A")
        f.git(repo, "commit", "-qm", f"c{i}\n\nbody {i}")
    f.git(repo, "checkout", "-qb", "side", "HEAD~3")
    f.write(repo, {"side.txt": "s\n"})
    f.git(repo, "add", "-A")
    f.git(repo, "commit", "-qm", "side")
    f.git(repo, "checkout", "-q", "main")
    f.git(repo, "merge", "-q", "--no-edit", "side")
    monkeypatch.setattr(stream, "BATCH", 3)
    batched = b"".join(stream.commit_lines(stream.topo_order(["HEAD"], repo), repo))
    whole = subprocess.run(
        ["git", "log", f"--format={stream.LOG_FORMAT}", "-p", "--cc", "--root", "--full-index",
         "--no-renames", "--topo-order", "--reverse", "HEAD"],
        cwd=repo, capture_output=True, check=True).stdout
    assert batched == whole
    assert len([r for r in walk.log_stream(["HEAD"], repo)]) == 9


def test_a_clean_signed_history_passes(tmp_path: Path, people: dict[str, f.Actor]) -> None:
    repo, root = _repo(tmp_path, people, _spec(people))
    f.commit(repo, people["bob"], {"payments/a.py": "x\n"}, ai=True, cosigners=[people["alice"]])
    f.commit(repo, people["bob"], {"docs.md": "d\n"}, ai=True)
    result = walk.audit(None, None, None, repo)
    assert result.trust_root == root
    assert "default" in result.trust_root_source
    assert [v for j in result.judgements for v in j.violations] == []
    assert len(result.judgements) == 2


def test_commits_are_judged_by_the_policy_of_their_first_parent(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    spec = _spec(people)
    repo, _ = _repo(tmp_path, people, spec)
    # An authorised change adding a critical path: it is judged by the OLD policy, its child by the new.
    spec.rules = [TIER1, {"name": "infra", "paths": ["infra/**"]}]
    change = f.commit(repo, people["bob"], {POLICY_FILE: spec.text(), "infra/x": "1\n"}, ai=True,
                      cosigners=[people["alice"]])
    child = f.commit(repo, people["bob"], {"infra/y": "2\n"}, ai=True)
    result = walk.audit(None, None, None, repo)
    assert _codes(result, change) == []
    assert _codes(result, child) == ["missing-cosign"]


def test_unauthorised_policy_edit_and_the_authors_own_cosign_are_both_flagged(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    spec = _spec(people)
    repo, _ = _repo(tmp_path, people, spec)
    spec.rules = []
    spec.people.append((people["mallory"], ["senior"]))
    edit = f.commit(repo, people["bob"], {POLICY_FILE: spec.text()})
    self_signed = f.commit(repo, people["alice"], {POLICY_FILE: spec.text() + "\n"},
                           cosigners=[people["alice"]])
    after = f.commit(repo, people["mallory"], {"payments/p.py": "x\n"}, ai=True)
    result = walk.audit(None, None, None, repo)
    assert _codes(result, edit) == ["unauthorized-policy-change"]
    assert _codes(result, self_signed) == ["unauthorized-policy-change"]
    # The previous policy stays in force: mallory is unknown there and payments stays critical.
    assert set(_codes(result, after)) == {"unknown-key", "missing-cosign"}


def test_a_later_authorised_revocation_unauthorises_an_earlier_policy_change(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    spec = _spec(people)
    repo, _ = _repo(tmp_path, people, spec)
    spec.rules = []
    change = f.commit(repo, people["bob"], {POLICY_FILE: spec.text()}, cosigners=[people["carol"]])
    spec.revoked = [people["carol"].key_line()]
    f.commit(repo, people["bob"], {POLICY_FILE: spec.text()}, cosigners=[people["alice"]])
    result = walk.audit(None, None, None, repo)
    assert "unauthorized-policy-change" in _codes(result, change)
    assert "revoked-key" in _codes(result, change)


def test_a_branch_forked_before_the_trust_root_is_judged_when_merged_after(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo = f.init(tmp_path / "repo")
    f.commit(repo, people["bob"], {"README": "0\n"}, ai=None)
    f.git(repo, "checkout", "-qb", "old")
    old = f.commit(repo, people["bob"], {"payments/p.py": "x\n"}, ai=None)
    f.git(repo, "checkout", "-q", "main")
    root = f.commit(repo, people["alice"], {POLICY_FILE: _spec(people).text()})
    merge = f.merge(repo, people["alice"], "old")
    result = walk.audit(None, root, None, repo)
    assert result.trust_root_source == "pinned with --trust-root"
    assert _codes(result, old) == ["missing-declaration"]
    assert merge in [j.commit for j in result.judgements]


def test_a_cosign_note_counts_wherever_it_hangs_and_notes_match_by_digest(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo, _ = _repo(tmp_path, people, _spec(people))
    sha = f.commit(repo, people["bob"], {"payments/a.py": "x\n"}, ai=True)
    assert _codes(walk.audit(None, None, None, repo), sha) == ["missing-cosign"]
    change = digest.of_commit(sha, cwd=repo)
    line = f.signature(people["alice"], "cosign", change, people["bob"].email)
    f.add_note(repo, "HEAD~1", [f"Provenance-Signature: {line}"])  # hung on another commit
    result = walk.audit(None, None, None, repo)
    assert _codes(result, sha) == []
    assert result.judgements[-1].cosigners == ("alice@example.com",)


def test_a_merge_cosign_with_covers_approves_the_commits_it_brings_in(
    tmp_path: Path, people: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = _repo(tmp_path, people, _spec(people))
    f.git(repo, "checkout", "-qb", "topic")
    a = f.commit(repo, people["bob"], {"payments/a.py": "x\n"}, ai=True)
    f.git(repo, "checkout", "-q", "main")
    f.commit(repo, people["bob"], {"other": "o\n"})
    f.git(repo, "merge", "-q", "--no-ff", "--no-edit", "topic", who=people["bob"])
    digests = [digest.of_commit(a, cwd=repo)]
    m = f.amend_trailers(repo, people["bob"], cosigners=[people["alice"]], covers=digests)
    result = walk.audit(None, None, None, repo)
    assert _codes(result, a) == []
    assert _codes(result, m) == []
    # The digests of what a merge brings in come from the walk; past its memory, from git.
    monkeypatch.setattr(covers, "RECENT", 0)
    assert report.to_json(walk.audit(None, None, None, repo, use_cache=False)) == \
        report.to_json(result)


def test_a_note_on_an_empty_change_is_not_matched_to_other_empty_changes(
    tmp_path: Path, people: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty change has nothing a rebase could carry: its note stays on its own commit."""
    repo, _ = _repo(tmp_path, people, _spec(people))
    empty = f.commit(repo, people["bob"], {})
    line = f.signature(people["alice"], "cosign", digest.EMPTY, people["bob"].email)
    f.add_note(repo, empty, [f"Provenance-Signature: {line}"])
    f.git(repo, "checkout", "-qb", "topic")
    f.commit(repo, people["bob"], {"docs/a.md": "x\n"})
    f.git(repo, "checkout", "-q", "main")
    f.commit(repo, people["bob"], {"other": "o\n"})
    f.git(repo, "merge", "-q", "--no-ff", "--no-edit", "topic", who=people["bob"])
    merge = f.amend_trailers(repo, people["bob"])
    assert digest.of_commit(merge, cwd=repo) == digest.EMPTY
    merges_with_a_cosign: list[str] = []
    monkeypatch.setattr(covers, "brought_in", lambda m, recent, cwd: merges_with_a_cosign.append(m.sha)
                        or ())
    judged = {j.commit: j for j in walk.audit(None, None, None, repo, use_cache=False).judgements}
    assert merges_with_a_cosign == []  # the note did not reach the merge
    assert judged[merge].violations == () and judged[empty].violations == ()
    f.add_note(repo, merge, [f"Provenance-Signature: {line}"])  # hung on the merge itself
    walk.audit(None, None, None, repo, use_cache=False)
    assert merges_with_a_cosign == [merge]


def test_a_shallow_clone_refuses_without_a_pinned_trust_root(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo, _ = _repo(tmp_path, people, _spec(people))
    f.commit(repo, people["bob"], {"a": "1\n"})
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(clone)],
                   check=True, capture_output=True)
    with pytest.raises(ProvenanceError) as e:
        walk.audit(None, None, None, clone)
    assert e.value.exit_code == 2 and "shallow" in str(e.value)


def test_no_policy_anywhere_is_a_clear_error(tmp_path: Path, people: dict[str, f.Actor]) -> None:
    repo = f.init(tmp_path / "r")
    f.commit(repo, people["bob"], {"a": "1\n"})
    with pytest.raises(ProvenanceError, match="--policy FILE"):
        walk.audit(None, None, None, repo)
    with pytest.raises(ProvenanceError, match="does not name a commit"):
        walk.audit(None, "nope", None, repo)


def test_policy_file_scans_an_unadopted_history_for_fingerprints(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo = f.init(tmp_path / "r")
    human = f.commit(repo, people["bob"], {"a": "1\n"}, ai=None)
    f.write(repo, {"b": "2\n"})
    f.git(repo, "add", "-A")
    f.git(repo, "commit", "-qm", "b\n\nCo-authored-by: Claude <noreply@anthropic.com>\n",
          who=people["bob"])
    agent = f.git(repo, "rev-parse", "HEAD")
    external = tmp_path / "audit.toml"
    external.write_text(_spec(people, required=False, signed=False).text())
    result = walk.audit(None, None, str(external), repo)
    assert result.trust_root is None
    assert _codes(result, human) == []
    assert _codes(result, agent) == ["undeclared-ai"]
    judged = {j.commit: j for j in result.judgements}
    assert judged[agent].ai_assisted and any("fingerprint" in e for e in judged[agent].evidence)


@pytest.mark.parametrize("use_cache", [False, True, True])  # no cache, cold, warm (light rows)
def test_a_commit_with_three_children_keeps_its_policy_until_the_last_is_judged(
    tmp_path: Path, people: dict[str, f.Actor], monkeypatch: pytest.MonkeyPatch, use_cache: bool
) -> None:
    """The walk forgets a commit's policy state after its last child (`WalkOrder.branching`): a
    count that came up short would judge later children by the root's policy."""
    spec = _spec(people, rules=[])
    repo = f.init(tmp_path / "repo")
    f.commit(repo, people["alice"], {POLICY_FILE: spec.text(), "README": "hi\n"})
    spec.rules = [TIER1]
    fork = f.commit(repo, people["bob"], {POLICY_FILE: spec.text()}, cosigners=[people["alice"]])
    tips = []
    for n in range(3):
        f.git(repo, "checkout", "-qb", f"b{n}", fork)
        tips.append(f.commit(repo, people["bob"], {f"payments/{n}.py": "x\n"}, ai=True))
    f.git(repo, "checkout", "-q", "b0")
    for n in (1, 2):
        f.merge(repo, people["bob"], f"b{n}")
    for _ in range(2 if use_cache else 1):
        pruned = walk.audit(None, None, None, repo, use_cache=use_cache)
    assert [_codes(pruned, t) for t in tips] == [["missing-cosign"]] * 3

    real = stream.walk_order
    counts: list[dict[str, int]] = []

    def counted(*args: object, **kwargs: object) -> stream.WalkOrder:
        order = real(*args, **kwargs)  # type: ignore[arg-type]
        counts.append(dict(order.branching))  # the walk empties it as it goes
        return order

    monkeypatch.setattr(walk, "walk_order", counted)
    walk.audit(None, None, None, repo, use_cache=False)
    assert counts == [{fork: 3}]

    def short(*args: object, **kwargs: object) -> stream.WalkOrder:
        return real(*args, **kwargs)._replace(branching={})  # type: ignore[arg-type]

    monkeypatch.setattr(walk, "walk_order", short)  # every commit taken for one child
    forgetful = walk.audit(None, None, None, repo, use_cache=False)
    # Judged by the root's policy, the later tips pass on their own: only the merges that land
    # them on b0 flag them (audit/forks.py), under the policy in force there.
    assert [[v.message.endswith("lands it)") for j in forgetful.judgements if j.commit == t
             for v in j.violations] for t in tips] == [[False], [True], [True]]


def test_a_cosigned_policy_that_does_not_parse_leaves_the_previous_one_in_force(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    spec = _spec(people)
    repo, _ = _repo(tmp_path, people, spec)
    broken = f.commit(repo, people["bob"], {POLICY_FILE: "version = [unclosed\n"},
                      cosigners=[people["alice"]])
    ai = f.commit(repo, people["bob"], {"payments/p.py": "p\n"}, ai=True)
    for use_cache in (False, True, True):  # no cache, a cold one, a warm one (verdicts served)
        result = walk.audit(None, None, None, repo, use_cache=use_cache)
        assert _codes(result, broken) == ["unauthorized-policy-change"]
        [j] = [j for j in result.judgements if j.commit == broken]
        assert "unusable" in j.violations[0].message and not j.policy_authorized
        assert _codes(result, ai) == ["missing-cosign"]  # payments is still critical
