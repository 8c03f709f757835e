"""End to end: real hooks, real co-signs, then forgery, replay, tampering, rebases and policy edits.

Every scenario audits with `python -m provenance audit --format json` and requires EXACTLY the
expected verdict codes on EXACTLY the expected commits, none on the innocent ones, and the exit status.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Person, Repo, new_repo, policy_text
from scenarios_support import (
    AGENT,
    audit,
    cosign,
    cosign_by_hand,
    entry,
    expect,
    messages,
    provenance,
)

from provenance.ssh import keyfile

PAY = "payments/refund.py"
People = dict[str, Person]


def _ai_change(repo: Repo, who: Person, path: str = PAY, content: str = "refund = 1\n",
               subject: str = "Add refunds") -> str:
    return repo.commit(who, subject, {path: content}, env=AGENT)


def _other_key(tmp_path: Path, person: Person, name: str) -> Person:
    """The same person (name, email) signing with a key of their own that the policy does not list."""
    path = tmp_path / f"{name}-key"
    keyfile.keygen(path, person.email)
    return Person(person.name, person.email, path)


def _revoking(people: People, text: str, who: str) -> str:
    return text + (f'\n[[revoked-key]]\nkey = "{people[who].public}"\nreason = "laptop stolen"\n')


# ---- 1-4: the basic rule ----------------------------------------------------------------------


def test_cosigned_ai_change_to_a_critical_path_is_ok(tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    sha = _ai_change(repo, people["bob"])
    cosign(repo, people["alice"], sha)
    doc = expect(repo, people["bob"], {})
    judged = entry(doc, sha)
    assert judged["ai_assisted"] is True
    assert judged["critical_paths"] == {"tier-1": [PAY]}
    assert judged["cosigners"] == ["alice@example.com"]
    assert doc["trust_root"] == repo.git("rev-list", "--max-parents=0", "HEAD").strip()
    assert doc["trust_root_source"].startswith("default")


def test_ai_change_to_a_critical_path_without_cosign(tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    sha = _ai_change(repo, people["bob"])
    doc = expect(repo, people["bob"], {sha: ["missing-cosign"]})
    (violation,) = entry(doc, sha)["violations"]
    assert violation["rule"] == "tier-1" and violation["paths"] == [PAY]
    assert violation["fix"].startswith(f"git provenance cosign {sha}")


def test_ai_change_outside_critical_paths_is_ok(tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    sha = _ai_change(repo, people["bob"], "docs/guide.md", "# guide\n")
    doc = expect(repo, people["bob"], {})
    assert entry(doc, sha)["ai_assisted"] is True
    assert entry(doc, sha)["critical_paths"] == {}


def test_human_change_to_a_critical_path_under_an_ai_assisted_rule(tmp_path: Path,
                                                                   people: People) -> None:
    repo = new_repo(tmp_path, people)
    sha = repo.commit(people["bob"], "Hand-written refunds", {PAY: "refund = 2\n"})
    doc = expect(repo, people["bob"], {})
    assert entry(doc, sha)["ai_assisted"] is False


# ---- 5-7: forged, copied and outdated co-signs ------------------------------------------------


def test_cosign_with_a_key_the_policy_does_not_list(tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    sha = _ai_change(repo, people["bob"])
    cosign(repo, _other_key(tmp_path, people["alice"], "alice-unlisted"), sha)
    doc = expect(repo, people["bob"], {sha: ["missing-cosign", "unknown-key"]})
    assert "not in the policy" in messages(doc, sha, "unknown-key")[0]


@pytest.mark.parametrize(("how", "copier", "code"), [
    ("trailer", "bob", "stale-signature"),  # same author: verifies, but over another change
    ("note", "bob", "stale-signature"),
    ("trailer", "dave", "invalid-signature"),  # another author: the statement differs
])
def test_valid_cosign_copied_onto_another_commit(tmp_path: Path, people: People, how: str, copier: str,
                                                 code: str) -> None:
    repo = new_repo(tmp_path, people)
    approved = _ai_change(repo, people["bob"])
    if how == "trailer":
        approved = cosign(repo, people["alice"], approved, amend=True)
        line = next(ln for ln in repo.message(approved).splitlines() if " cosign " in ln)
    else:
        cosign(repo, people["alice"], approved)
        line = repo.git("notes", "--ref=provenance", "show", approved).strip()
    assert line.startswith("Provenance-Signature: v1 cosign alice@example.com sha256:")
    other = _ai_change(repo, people[copier], "payments/chargeback.py", "chargeback = 1\n",
                       subject="Add chargebacks")
    if how == "trailer":  # copied by hand into the message, amended with the hooks running
        repo.run("git", "commit", "-q", "--amend", "-m", repo.message(other).rstrip() + "\n" + line,
                 env={**repo.as_person(people[copier]), **AGENT})
        other = repo.git("rev-parse", "HEAD").strip()
        assert line in repo.message(other)
    else:
        repo.run("git", "notes", "--ref=provenance", "add", "-m", line, other,
                 env=repo.as_person(people[copier]))
    doc = expect(repo, people["bob"], {other: sorted(["missing-cosign", code])})
    assert entry(doc, approved)["cosigners"] == ["alice@example.com"]


def test_content_changed_after_the_cosign(tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    _ai_change(repo, people["bob"])
    cosign(repo, people["alice"], "HEAD", amend=True)
    repo.write(PAY, "refund = 'everything'\n")
    repo.git("add", PAY)
    repo.run("git", "commit", "-q", "--amend", "--no-edit", env={**repo.as_person(people["bob"]), **AGENT})
    sha = repo.git("rev-parse", "HEAD").strip()
    assert " cosign alice@example.com " in repo.message(sha)
    expect(repo, people["bob"], {sha: ["missing-cosign", "stale-signature"]})


# ---- 8: a clean rebase keeps the approval -----------------------------------------------------


@pytest.mark.parametrize("how", ["trailer", "note"])
def test_clean_rebase_of_a_cosigned_change(tmp_path: Path, people: People, how: str) -> None:
    repo = new_repo(tmp_path, people)
    repo.git("checkout", "-qb", "feature")
    _ai_change(repo, people["bob"], content="a = 1\nb = 2\nc = 3\nd = 4\n")
    cosign(repo, people["alice"], "HEAD", amend=how == "trailer")
    repo.git("checkout", "-q", "main")
    repo.commit(people["dave"], "Readme", {"README": "hello\n"})
    repo.git("checkout", "-q", "feature")
    before = repo.git("rev-parse", "HEAD").strip()
    repo.run("git", "rebase", "-q", "main", env=repo.as_person(people["bob"]))
    after = repo.git("rev-parse", "HEAD").strip()
    assert after != before
    doc = expect(repo, people["bob"], {})
    assert entry(doc, after)["cosigners"] == ["alice@example.com"]
    assert entry(doc, after)["ai_assisted"] is True


# ---- 9-11: whose co-sign counts --------------------------------------------------------------


def test_author_cosigning_their_own_change_does_not_count(tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    sha = _ai_change(repo, people["bob"])
    refused = provenance(repo, people["bob"], "cosign", sha, check=False)
    assert refused.returncode == 2 and b"your own commit" in refused.stderr
    cosign_by_hand(repo, people["bob"], sha)
    doc = expect(repo, people["bob"], {sha: ["missing-cosign"]})
    assert "bob@example.com (note): is the author" in messages(doc, sha, "missing-cosign")[0]


def test_senior_cosigning_their_own_ai_change_does_not_count(tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    sha = _ai_change(repo, people["alice"])
    cosign_by_hand(repo, people["alice"], sha)
    doc = expect(repo, people["bob"], {sha: ["missing-cosign"]})
    assert "alice@example.com (note): is the author" in messages(doc, sha, "missing-cosign")[0]


def test_policy_edit_making_its_author_senior_is_unauthorized_and_changes_nothing(
        tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    text = (repo.path / ".provenance.toml").read_text()
    bob = 'email = "bob@example.com"\nroles = '
    promoted = text.replace(bob + "[]", bob + '["senior"]')
    assert promoted != text
    edit = repo.commit(people["bob"], "Make me senior", {".provenance.toml": promoted})
    change = _ai_change(repo, people["dave"])
    cosign(repo, people["bob"], change)
    doc = expect(repo, people["bob"], {edit: ["unauthorized-policy-change"],
                                       change: ["missing-cosign"]})
    assert "bob@example.com (note): not senior" in messages(doc, change, "missing-cosign")[0]


# ---- 12, 20: revocation ---------------------------------------------------------------------


def test_revoked_key_is_rejected_everywhere_in_history(tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    carols = repo.commit(people["carol"], "Carol's docs", {"docs/carol.md": "hi\n"})
    approved = _ai_change(repo, people["bob"])
    cosign(repo, people["carol"], approved)
    expect(repo, people["bob"], {})
    text = (repo.path / ".provenance.toml").read_text()
    revocation = repo.commit(people["dave"], "Revoke Carol's key",
                             {".provenance.toml": _revoking(people, text, "carol")})
    cosign(repo, people["alice"], revocation)
    doc = expect(repo, people["bob"], {carols: ["revoked-key"],
                                       approved: ["missing-cosign", "revoked-key"]})
    assert entry(doc, revocation)["policy_change"] is True


def test_policy_change_cosigned_with_a_key_revoked_later_becomes_unauthorized(
        tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    text = (repo.path / ".provenance.toml").read_text()
    narrowed = text.replace('paths = ["payments/**", "checkout/**"]', 'paths = ["payments/**"]')
    assert narrowed != text
    p1 = repo.commit(people["dave"], "Checkout is no longer tier-1", {".provenance.toml": narrowed})
    cosign(repo, people["carol"], p1)
    checkout = _ai_change(repo, people["bob"], "checkout/cart.py", "cart = 1\n")
    expect(repo, people["bob"], {})  # while carol's key is good, checkout/ is not critical
    p2 = repo.commit(people["dave"], "Revoke Carol's key",
                     {".provenance.toml": _revoking(people, narrowed, "carol")})
    cosign(repo, people["alice"], p2)
    expect(repo, people["bob"], {p1: ["revoked-key", "unauthorized-policy-change"],
                                 checkout: ["missing-cosign"]})


# ---- 13-15: undeclared AI, contradictions, thresholds -----------------------------------------


@pytest.mark.parametrize(("how", "path", "codes"), [
    ("PROVENANCE_SKIP", PAY, ["missing-cosign", "undeclared-ai"]),
    ("hooks uninstalled, --no-verify", "docs/retry.md", ["undeclared-ai"]),
])
def test_commit_without_hooks_carrying_aiders_fingerprints(
        tmp_path: Path, people: People, how: str, path: str, codes: list[str]) -> None:
    repo = new_repo(tmp_path, people)
    env = {"GIT_AUTHOR_NAME": "Bob (aider)"}
    args: tuple[str, ...] = ()
    if how == "PROVENANCE_SKIP":
        env["PROVENANCE_SKIP"] = "1"
    else:
        provenance(repo, people["bob"], "install", "--uninstall")
        args = ("--no-verify",)
    message = "Add retry to refunds\n\nCo-authored-by: aider (gpt-4o) <aider@aider.chat>"
    sha = repo.commit(people["bob"], message, {path: "retry = 3\n"}, env=env, args=args)
    assert "AI-Assisted" not in repo.message(sha)
    doc = expect(repo, people["alice"], {sha: codes})
    evidence = entry(doc, sha)["evidence"]
    assert any('"Bob (aider)"' in e for e in evidence)
    assert any("Co-authored-by: aider (gpt-4o) <aider@aider.chat>" in e for e in evidence)


def test_commit_declaring_both_yes_and_no(tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    sha = repo.commit(people["bob"], "Tweak docs\n\nAI-Assisted: yes\nAI-Assisted: no",
                      {"docs/a.md": "a\n"}, env={"PROVENANCE_SKIP": "1"})
    # Unsigned too: the policy demands signed declarations, and nothing signed this one.
    expect(repo, people["alice"], {sha: ["conflicting-declaration", "unsigned-declaration"]})


def test_threshold_two_is_not_met_by_one_person_with_two_keys(tmp_path: Path, people: People) -> None:
    alice2 = _other_key(tmp_path, people["alice"], "alice-second")
    rules = ('[[rule]]\nname = "tier-0"\npaths = ["payments/**"]\ncosign-roles = ["senior"]\n'
             'threshold = 2\napplies-to = "ai-assisted"\n')
    text = policy_text(people, rules=rules).replace(
        f'keys = ["{people["alice"].public}"]', f'keys = ["{people["alice"].public}", "{alice2.public}"]')
    repo = new_repo(tmp_path, people, policy=text)
    one = _ai_change(repo, people["bob"])
    cosign(repo, people["alice"], one)
    cosign(repo, alice2, one)
    assert len(repo.git("notes", "--ref=provenance", "show", one).splitlines()) == 2
    two = _ai_change(repo, people["bob"], "payments/fees.py", "fee = 1\n")
    cosign(repo, people["alice"], two)
    cosign(repo, people["carol"], two)
    doc = expect(repo, people["alice"], {one: ["missing-cosign"]})
    assert "has 1 of 2 co-sign(s)" in messages(doc, one, "missing-cosign")[0]
    assert entry(doc, two)["cosigners"] == ["alice@example.com", "carol@example.com"]


# ---- 16-19: branches, merges, cherry-picks, squashes ------------------------------------------


def test_branch_forked_before_the_trust_root_merged_after_it(tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    repo.git("checkout", "-qb", "old")
    early = _ai_change(repo, people["bob"])
    repo.git("checkout", "-q", "main")
    root = repo.commit(people["alice"], "Trust root", {"README": "pinned\n"})
    repo.run("git", "merge", "-q", "--no-ff", "--no-edit", "old", env=repo.as_person(people["alice"]))
    doc = expect(repo, people["alice"], {early: ["missing-cosign"]}, "--trust-root", root)
    assert doc["trust_root"] == root
    assert root not in {c["commit"] for c in doc["commits"]}


def test_conflicted_merge_resolved_in_an_agent_session_needs_a_cosign(
        tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    repo.commit(people["bob"], "Base", {PAY: "rate = 1\n"})
    repo.git("checkout", "-qb", "side")
    repo.commit(people["dave"], "Side rate", {PAY: "rate = 2\n"})
    repo.git("checkout", "-q", "main")
    repo.commit(people["bob"], "Main rate", {PAY: "rate = 3\n"})
    env = {**repo.as_person(people["bob"]), **AGENT}
    assert repo.run("git", "merge", "-q", "side", env=env, check=False).returncode != 0
    repo.write(PAY, "rate = 5\n")
    repo.git("add", PAY)
    repo.run("git", "commit", "-q", "--no-edit", env=env)
    merge = repo.git("rev-parse", "HEAD").strip()
    assert len(repo.git("log", "-1", "--format=%P").split()) == 2
    doc = expect(repo, people["alice"], {merge: ["missing-cosign"]})
    assert entry(doc, merge)["ai_assisted"] is True
    cosign(repo, people["alice"], merge)
    expect(repo, people["alice"], {})


def test_cosigned_change_cherry_picked_by_someone_else(tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    repo.git("checkout", "-qb", "feature")
    original = _ai_change(repo, people["bob"])
    cosign(repo, people["alice"], original)
    repo.git("checkout", "-q", "main")
    repo.commit(people["dave"], "Readme", {"README": "hello\n"})
    repo.run("git", "cherry-pick", original, env=repo.as_person(people["dave"]))
    picked = repo.git("rev-parse", "HEAD").strip()
    assert picked != original
    assert repo.run("git", "notes", "--ref=provenance", "show", picked, check=False).returncode != 0
    doc = expect(repo, people["dave"], {})
    assert entry(doc, picked)["cosigners"] == ["alice@example.com"]
    assert entry(doc, picked)["author"] == "bob@example.com"


def test_agent_fixup_autosquashed_into_a_human_commit(tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    root = repo.git("rev-parse", "HEAD").strip()
    human = repo.commit(people["bob"], "Refunds by hand", {PAY: "refund = 1\n"})
    repo.write(PAY, "refund = 1\nretry = 3\n")
    repo.git("add", PAY)
    repo.run("git", "commit", "-q", f"--fixup={human}", env={**repo.as_person(people["bob"]), **AGENT})
    repo.run("git", "rebase", "-q", "-i", "--autosquash", root,
             env={**repo.as_person(people["bob"]), "GIT_SEQUENCE_EDITOR": "true"})
    squashed = repo.git("rev-parse", "HEAD").strip()
    assert repo.git("rev-list", "--count", f"{root}..HEAD").strip() == "1"
    doc = expect(repo, people["alice"], {squashed: ["missing-cosign"]})
    assert entry(doc, squashed)["ai_assisted"] is True


# ---- trust root in a shallow clone; exit status 2 --------------------------------------------


def test_shallow_clone_without_a_trust_root_refuses(tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    _ai_change(repo, people["bob"])
    repo.commit(people["dave"], "Readme", {"README": "x\n"})
    shallow = Repo(tmp_path / "shallow", repo.home, repo.env)
    repo.run("git", "clone", "-q", "--depth", "2", f"file://{repo.path}", str(shallow.path))
    proc = provenance(shallow, people["alice"], "audit", "--format", "json", check=False)
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert "shallow clone" in proc.stderr.decode() and "--trust-root" in proc.stderr.decode()
    code, doc = audit(shallow, people["alice"], "--trust-root", "HEAD~1")
    assert (code, len(doc["commits"])) == (0, 1)


def test_audit_that_cannot_run_exits_2(tmp_path: Path, people: People) -> None:
    repo = new_repo(tmp_path, people)
    bad = provenance(repo, people["alice"], "audit", "--trust-root", "no-such-rev", check=False)
    assert bad.returncode == 2 and "no-such-rev" in bad.stderr.decode()
    outside = Repo(tmp_path / "home", repo.home, repo.env)
    assert provenance(outside, people["alice"], "audit", check=False).returncode == 2


def test_a_note_for_the_same_change_by_another_author_is_neither_counted_nor_a_forgery(
    tmp_path: Path, people: People
) -> None:
    """Notes match by change digest; an identical diff by someone else is another change to approve.

    Found at 100k generated commits: equal diffs by different authors are common (version bumps,
    re-applied fixes). Alice's co-sign of Bob's change must not count for Dave's identical one, and
    must not be reported on Dave's commit as an invalid signature either.
    """
    repo = new_repo(tmp_path, people)
    base = repo.git("rev-parse", "HEAD").strip()
    bobs = _ai_change(repo, people["bob"])
    repo.git("checkout", "-q", "-b", "other", base)
    daves = _ai_change(repo, people["dave"])
    assert daves != bobs
    repo.git("checkout", "-q", "main")
    repo.run("git", "merge", "-q", "--no-edit", "other", env={**repo.as_person(people["carol"])})
    cosign(repo, people["alice"], bobs)
    doc = expect(repo, people["bob"], {daves: ["missing-cosign"]})
    assert entry(doc, bobs)["cosigners"] == ["alice@example.com"]
    assert entry(doc, daves)["cosigners"] == []
