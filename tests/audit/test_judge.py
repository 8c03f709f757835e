"""judge(): one commit under one policy, no git — every verdict code and the non-violations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import factory as f
import pytest
from conftest import AIDER_COMMITS

from provenance.audit.declarations import trailers_read
from provenance.audit.judge import judge
from provenance.audit.records import VERDICT_CODES, CommitRecord, CoverApproval, NoteAttestation
from provenance.policy import schema
from provenance.ssh.sshsig import PublicKey
from provenance.wire import trailers
from provenance.wire.digest import EMPTY

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
BLOB = "b" * 40


@pytest.fixture(scope="module")
def ppl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, f.Actor]:
    d = tmp_path_factory.mktemp("keys")
    out = {n: f.actor(d, n.title(), f"{n}@example.com") for n in ("alice", "bob", "carol")}
    out["alice2"] = f.actor(d, "Alice Senior", "alice+2@example.com")  # a second key of alice
    out["stranger"] = f.actor(d, "Stranger", "stranger@example.com")
    return out


def _policy(ppl: dict[str, f.Actor], threshold: int = 1, applies: str = "ai-assisted",
            **kw: object) -> schema.Policy:
    spec = f.PolicySpec(
        people=[(ppl["alice"], ["senior"]), (ppl["bob"], []), (ppl["carol"], ["senior"])],
        rules=[{"name": "tier-1", "paths": ["payments/**"], "threshold": threshold,
                "applies_to": applies}],
    )
    for k, v in kw.items():
        setattr(spec, k, v)
    text = spec.text()
    # alice holds a second key under the same person (counts once toward thresholds)
    text = text.replace(f'keys = ["{ppl["alice"].key_line()}"]',
                        f'keys = ["{ppl["alice"].key_line()}", "{ppl["alice2"].key_line()}"]')
    return schema.load_text(text)


def _sig(who: f.Actor, role: str, *, author: str = "bob@example.com", change: str = D1,
         ai: bool | None = None, policy: str | None = None, as_email: str | None = None,
         covers: Sequence[str] = ()) -> str:
    return f.signature(who, role, change, author, ai=ai, policy=policy, as_email=as_email,
                       covers=covers)


def _record(trailers: Sequence[tuple[str, str]] = (), *, paths: Sequence[str] = ("app.py",),
            author: str = "bob@example.com", name: str = "Bob", message: str = "change",
            parents: Sequence[str] = ("p" * 40,), change: str = D1,
            policy_blob: str | None = None) -> CommitRecord:
    return CommitRecord(
        sha="c" * 40, parents=tuple(parents), author_name=name, author_email=author,
        committer_name=name, committer_email=author, author_time=0, message=message,
        trailers=tuple(trailers), paths=tuple(paths), digest=change, policy_blob=policy_blob)


def _declared(ppl: dict[str, f.Actor], ai: bool = False, **kw: object) -> list[tuple[str, str]]:
    return [("AI-Assisted", "yes" if ai else "no"),
            ("Provenance-Signature", _sig(ppl["bob"], "declare", ai=ai, **kw))]  # type: ignore[arg-type]


def _codes(record: CommitRecord, pol: schema.Policy, notes: Sequence[NoteAttestation] = (),
           revoked: frozenset[PublicKey] = frozenset()) -> list[str]:
    return sorted(v.code for v in judge(record, pol, notes, revoked).violations)


def test_a_signed_human_change_outside_critical_paths_is_clean(ppl: dict[str, f.Actor]) -> None:
    j = judge(_record(_declared(ppl)), _policy(ppl), [], frozenset())
    assert j.violations == () and not j.ai_assisted
    assert j.evidence == ("declared no (trailer, signed by bob@example.com)",)


def test_an_ai_change_outside_critical_paths_is_clean(ppl: dict[str, f.Actor]) -> None:
    assert _codes(_record(_declared(ppl, True)), _policy(ppl)) == []


def test_a_human_change_to_a_critical_path_under_an_ai_rule_is_clean(
    ppl: dict[str, f.Actor]
) -> None:
    assert _codes(_record(_declared(ppl), paths=["payments/x.py"]), _policy(ppl)) == []


def test_an_ai_change_to_a_critical_path_needs_and_accepts_a_senior_cosign(
    ppl: dict[str, f.Actor]
) -> None:
    pol = _policy(ppl)
    bare = _record(_declared(ppl, True), paths=["payments/x.py"])
    j = judge(bare, pol, [], frozenset())
    assert [v.code for v in j.violations] == ["missing-cosign"]
    v = j.violations[0]
    assert v.rule == "tier-1" and "payments/x.py (payments/**)" in v.message
    assert v.fix.startswith(f"git provenance cosign {'c' * 40}")
    signed = bare._replace(trailers=bare.trailers + (("Provenance-Signature",
                                                      _sig(ppl["alice"], "cosign")),))
    j = judge(signed, pol, [], frozenset())
    assert j.violations == () and j.cosigners == ("alice@example.com",)
    assert j.critical_paths == {"tier-1": ["payments/x.py"]}


def test_a_rule_for_all_commits_needs_a_cosign_even_for_human_changes(
    ppl: dict[str, f.Actor]
) -> None:
    pol = _policy(ppl, applies="all")
    assert _codes(_record(_declared(ppl), paths=["payments/x.py"]), pol) == ["missing-cosign"]


def test_the_authors_own_cosign_does_not_count(ppl: dict[str, f.Actor]) -> None:
    rec = _record([*_declared(ppl, True, author="alice@example.com"),
                   ("Provenance-Signature", _sig(ppl["alice"], "cosign",
                                                 author="alice@example.com"))],
                  author="alice@example.com", paths=["payments/x.py"])
    rec = rec._replace(trailers=(("AI-Assisted", "yes"), ("Provenance-Signature", _sig(
        ppl["alice"], "declare", ai=True, author="alice@example.com")), rec.trailers[2]))
    j = judge(rec, _policy(ppl), [], frozenset())
    assert [v.code for v in j.violations] == ["missing-cosign"]
    assert "is the author" in j.violations[0].message


def test_threshold_two_is_not_met_by_one_person_with_two_keys(ppl: dict[str, f.Actor]) -> None:
    rec = _record([*_declared(ppl, True),
                   ("Provenance-Signature", _sig(ppl["alice"], "cosign")),
                   ("Provenance-Signature", _sig(ppl["alice2"], "cosign",
                                                 as_email="alice@example.com"))],
                  paths=["payments/x.py"])
    assert _codes(rec, _policy(ppl, threshold=2)) == ["missing-cosign"]
    rec2 = rec._replace(trailers=rec.trailers + (("Provenance-Signature",
                                                  _sig(ppl["carol"], "cosign")),))
    assert _codes(rec2, _policy(ppl, threshold=2)) == []


def test_a_key_not_in_the_policy_is_unknown(ppl: dict[str, f.Actor]) -> None:
    rec = _record([*_declared(ppl, True), ("Provenance-Signature", _sig(
        ppl["stranger"], "cosign", as_email="alice@example.com"))], paths=["payments/x.py"])
    assert _codes(rec, _policy(ppl)) == ["missing-cosign", "unknown-key"]


def test_a_key_used_under_another_persons_email_is_unknown(ppl: dict[str, f.Actor]) -> None:
    rec = _record([*_declared(ppl), ("Provenance-Signature", _sig(
        ppl["carol"], "cosign", as_email="alice@example.com"))])
    assert _codes(rec, _policy(ppl)) == ["unknown-key"]


def test_a_cosign_copied_from_another_change_is_stale(ppl: dict[str, f.Actor]) -> None:
    rec = _record([*_declared(ppl, True),
                   ("Provenance-Signature", _sig(ppl["alice"], "cosign", change=D2))],
                  paths=["payments/x.py"])
    assert _codes(rec, _policy(ppl)) == ["missing-cosign", "stale-signature"]


def test_a_forged_or_garbage_signature_is_invalid(ppl: dict[str, f.Actor]) -> None:
    forged = _sig(ppl["alice"], "cosign", author="someone@example.com")
    for value in (forged, "v1 cosign alice@example.com " + D1 + " !!!!", "garbage"):
        rec = _record([*_declared(ppl), ("Provenance-Signature", value)])
        assert _codes(rec, _policy(ppl)) == ["invalid-signature"], value


def test_a_revoked_key_is_rejected(ppl: dict[str, f.Actor]) -> None:
    rec = _record([*_declared(ppl, True), ("Provenance-Signature", _sig(ppl["alice"], "cosign"))],
                  paths=["payments/x.py"])
    codes = _codes(rec, _policy(ppl), revoked=frozenset({ppl["alice"].public}))
    assert codes == ["missing-cosign", "revoked-key"]


def test_a_declaration_signed_by_someone_else_is_signer_not_author(
    ppl: dict[str, f.Actor]
) -> None:
    rec = _record([("AI-Assisted", "no"),
                   ("Provenance-Signature", _sig(ppl["carol"], "declare", ai=False))])
    assert _codes(rec, _policy(ppl)) == ["signer-not-author"]


def test_declarations_missing_unsigned_conflicting_or_malformed(ppl: dict[str, f.Actor]) -> None:
    pol = _policy(ppl)
    assert _codes(_record([]), pol) == ["missing-declaration"]
    assert _codes(_record([("AI-Assisted", "no")]), pol) == ["unsigned-declaration"]
    assert _codes(_record([("AI-Assisted", "yes"), ("AI-Assisted", "no")]), pol) == [
        "conflicting-declaration", "unsigned-declaration"]
    j = judge(_record([("AI-Assisted", "maybe")]), pol, [], frozenset())
    assert [v.code for v in j.violations] == ["missing-declaration"]
    assert "'maybe'" in j.violations[0].message
    lax = _policy(ppl, required=False, signed=False)
    assert _codes(_record([]), lax) == []
    assert _codes(_record([("AI-Assisted", "no")]), lax) == []


def test_a_merge_without_an_own_change_needs_no_declaration(ppl: dict[str, f.Actor]) -> None:
    merge = _record([], parents=("a" * 40, "b" * 40), change=EMPTY, paths=())
    assert _codes(merge, _policy(ppl)) == []
    nearby = merge._replace(digest=D1)  # --cc shows both sides' nearby changes: still clean
    assert _codes(nearby, _policy(ppl)) == []
    resolved = nearby._replace(paths=("src/app.py",))  # its tree differs from git's merge there
    assert _codes(resolved, _policy(ppl)) == ["missing-declaration"]


def test_fingerprints_make_a_commit_ai_assisted_whatever_it_declares(
    ppl: dict[str, f.Actor]
) -> None:
    msg = "change\n\nCo-authored-by: Claude <noreply@anthropic.com>\n"
    rec = _record([("Co-authored-by", "Claude <noreply@anthropic.com>"), *_declared(ppl)],
                  message=msg, paths=["payments/x.py"])
    j = judge(rec, _policy(ppl), [], frozenset())
    assert j.ai_assisted
    assert sorted(v.code for v in j.violations) == ["missing-cosign", "undeclared-ai"]
    assert any(e.startswith("fingerprint: ") for e in j.evidence)
    # undeclared-ai replaces missing-declaration
    bare = rec._replace(trailers=rec.trailers[:1])
    assert _codes(bare, _policy(ppl)) == ["missing-cosign", "undeclared-ai"]


def test_a_valid_note_supersedes_a_stale_trailer_signature_by_the_same_signer(
    ppl: dict[str, f.Actor]
) -> None:
    rec = _record([("AI-Assisted", "yes"),
                   ("Provenance-Signature", _sig(ppl["bob"], "declare", ai=True, change=D2))])
    assert _codes(rec, _policy(ppl)) == ["stale-signature"]
    note = NoteAttestation(_sig(ppl["bob"], "declare", ai=True), "x" * 40, ("yes",))
    j = judge(rec, _policy(ppl), [note], frozenset())
    assert j.violations == () and j.ai_assisted
    assert "declared yes (note, signed by bob@example.com)" in j.evidence


def test_a_note_declaration_verifies_whatever_the_line_order(ppl: dict[str, f.Actor]) -> None:
    note = NoteAttestation(_sig(ppl["bob"], "declare", ai=False), "x" * 40)
    j = judge(_record([]), _policy(ppl), [note], frozenset())
    assert j.violations == () and not j.ai_assisted


def test_nothing_downgrades_yes(ppl: dict[str, f.Actor]) -> None:
    note = NoteAttestation(_sig(ppl["bob"], "declare", ai=False), "x" * 40)
    j = judge(_record(_declared(ppl, True)), _policy(ppl), [note], frozenset())
    assert j.ai_assisted and j.violations == ()


def _grouped(ppl: dict[str, f.Actor], ai: bool, reads: str | None = None,
             assisted: tuple[str, ...] = ("copilot",), gone: bool = False) -> NoteAttestation:
    """A `Provenance-Declaration` line as audit/notes.py reads it; `reads` overrides its value."""
    value = f.signature(ppl["bob"], "declare", D1, "bob@example.com", ai=ai, assisted_by=assisted)
    return NoteAttestation(value, "c" * 40, (reads or ("yes" if ai else "no"),), assisted,
                           grouped=True, gone=gone)


def test_a_note_declaration_line_is_checked_against_its_own_values(ppl: dict[str, f.Actor]) -> None:
    j = judge(_record(_declared(ppl)), _policy(ppl), [_grouped(ppl, True)], frozenset())
    assert j.ai_assisted and j.violations == ()
    assert "declared yes (note, signed by bob@example.com)" in j.evidence


def test_an_edited_or_broken_note_yes_stays_yes_and_the_fix_is_never_no_ai(
        ppl: dict[str, f.Actor]) -> None:
    pol = _policy(ppl)
    edited_value = _grouped(ppl, True, reads="no")
    edited_by = NoteAttestation(_grouped(ppl, True).value, "c" * 40, ("yes",), ("other",),
                                grouped=True)
    for note in (edited_value, edited_by):
        j = judge(_record(_declared(ppl)), pol, [note], frozenset())
        assert j.ai_assisted, note
        assert [v.code for v in j.violations] == ["invalid-signature"]
        assert all("--no-ai" not in v.fix for v in j.violations)
    # A broken `no` on a commit with an AI fingerprint: the fix still says --ai.
    bare = NoteAttestation(_grouped(ppl, False).value, "c" * 40, ("no",), ("x",), grouped=True)
    rec = _record([], message="change\n\nCo-authored-by: Claude <noreply@anthropic.com>\n")
    j = judge(rec, pol, [bare], frozenset())
    assert j.ai_assisted and j.violations and all("--no-ai" not in v.fix for v in j.violations)


def test_a_valid_yes_only_the_notes_history_holds_is_removed_declaration(
        ppl: dict[str, f.Actor]) -> None:
    pol = _policy(ppl)
    j = judge(_record(_declared(ppl)), pol, [_grouped(ppl, True, gone=True)], frozenset())
    assert j.ai_assisted and [v.code for v in j.violations] == ["removed-declaration"]
    assert "--ai" in j.violations[0].fix
    # When the commit still declares yes, the history changes nothing.
    j = judge(_record(_declared(ppl, True)), pol, [_grouped(ppl, True, gone=True)], frozenset())
    assert j.ai_assisted and j.violations == ()
    # A gone declaration of no, or one that does not verify, is not about this commit.
    for gone in (_grouped(ppl, False, gone=True),
                 NoteAttestation(_grouped(ppl, True).value, "c" * 40, ("yes",), ("x",),
                                 grouped=True, gone=True)):
        j = judge(_record(_declared(ppl)), pol, [gone], frozenset())
        assert not j.ai_assisted and j.violations == ()


def test_a_policy_change_needs_a_senior_cosign_that_is_not_the_author(
    ppl: dict[str, f.Actor]
) -> None:
    pol = _policy(ppl)
    decl = _declared(ppl, policy=BLOB)
    rec = _record(decl, policy_blob=BLOB, paths=[".provenance.toml"])
    j = judge(rec, pol, [], frozenset())
    assert [v.code for v in j.violations] == ["unauthorized-policy-change"]
    assert j.policy_change and not j.policy_authorized
    unsigned_policy_line = rec._replace(trailers=(*decl, (
        "Provenance-Signature", _sig(ppl["alice"], "cosign"))))
    assert "invalid-signature" in _codes(unsigned_policy_line, pol)
    ok = rec._replace(trailers=(*decl, ("Provenance-Signature",
                                        _sig(ppl["alice"], "cosign", policy=BLOB))))
    j = judge(ok, pol, [], frozenset())
    assert j.violations == () and j.policy_authorized


def test_cover_approvals_from_a_merge_count_for_the_commits_it_brings_in(
    ppl: dict[str, f.Actor]
) -> None:
    rec = _record(_declared(ppl, True), paths=["payments/x.py"])
    cover = CoverApproval("m" * 40, "alice@example.com", ppl["alice"].public)
    assert judge(rec, _policy(ppl), [], frozenset(), cover_approvals=[cover]).violations == ()
    merge = _record([("Provenance-Signature", _sig(ppl["alice"], "cosign", covers=[D2],
                                                               change=EMPTY))],
                    parents=("a" * 40, "b" * 40), change=EMPTY, paths=())
    merge = merge._replace(covers=(D2,))
    j = judge(merge, _policy(ppl), [], frozenset())
    assert j.violations == () and [c.signer for c in j.cover_approvals] == ["alice@example.com"]


def test_every_violation_has_a_known_code_a_message_and_a_fix(ppl: dict[str, f.Actor]) -> None:
    rec = _record([("AI-Assisted", "yes"), ("AI-Assisted", "no"),
                   ("Provenance-Signature", "garbage")], paths=["payments/x.py"])
    for v in judge(rec, _policy(ppl), [], frozenset()).violations:
        assert v.code in VERDICT_CODES
        assert v.message and "\n" not in v.message
        assert v.fix.startswith("git provenance ")


def test_every_verdict_code_is_documented() -> None:
    table = (Path(__file__).resolve().parents[2] / "docs" / "verdicts.md").read_text()
    for code in VERDICT_CODES:
        assert f"| `{code}` |" in table, code


def test_judge_needs_no_repository(ppl: dict[str, f.Actor], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # not a repository: judge must never run git
    assert _codes(_record(_declared(ppl)), _policy(ppl)) == []


_JUDGED = {"ai-assisted", "assisted-by", "provenance-signature"}


@pytest.mark.parametrize("message", [
    "plain subject", "subject\n\nSigned-off-by: A <a@x>",
    "subject\n\nai-ASSISTED: yes", "subject\n\nAi-Assisted : no", "s\n\nAssisted-by: aider",
    "subject\n\nprovenance-signature v1 declare a@x sha256:00 AAAA",
    "subject\n\nX-AI-Assisted-Note: yes",  # a longer key holding the name: parsed, judged as git does
    "subject\n\nAI-Assisted:\n yes",  # a folded value
])
def test_trailers_read_are_every_trailer_or_none_the_judge_reads(message: str) -> None:
    got = trailers_read(message)
    every = tuple(trailers.parse(message))
    assert got in (every, ())
    if got == ():
        assert not {k.lower() for k, _ in every} & (_JUDGED - {"assisted-by"})


def test_trailers_read_skip_only_messages_without_judged_keys_in_real_commits() -> None:
    messages = [json.loads(line)["message"] for line in AIDER_COMMITS.read_text().splitlines()]
    skipped = 0
    for m in messages + [m + "\n\nAI-Assisted: yes" for m in messages[:50]]:
        got, every = trailers_read(m), tuple(trailers.parse(m))
        if got != every:
            assert got == () and not {k.lower() for k, _ in every} & {"ai-assisted",
                                                                      "provenance-signature"}
            skipped += 1
    assert skipped > 10  # real commits carry other trailers (Co-authored-by, ...): not parsed
