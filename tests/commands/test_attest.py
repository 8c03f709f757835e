"""`git provenance attest`: an audit as an in-toto Statement in a DSSE envelope, signed with the
configured key, verified by securesystemslib and by `attest --verify` against the keys in force."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import factory as f
import pytest
from conftest import PROJECT
from sslib import sslib_verifies

from provenance.audit import intoto
from provenance.commands import attest
from provenance.errors import ProvenanceError
from provenance.policy.schema import POLICY_FILE

TIER1 = {"name": "tier-1", "paths": ["payments/**"]}


class Repo:
    def __init__(self, tmp_path: Path) -> None:
        self.people = f.cast(tmp_path)
        p = self.people
        self.spec = f.PolicySpec(people=[(p["alice"], ["senior"]), (p["bob"], [])], rules=[TIER1])
        self.path = f.init(tmp_path / "repo")
        self.root = f.commit(self.path, p["alice"], {POLICY_FILE: self.spec.text()})
        self.ok = f.commit(self.path, p["bob"], {"docs.md": "d\n"})
        self.bad = f.commit(self.path, p["bob"], {"payments/p.py": "p\n"}, ai=True)
        self.out = tmp_path / "audit.intoto.json"

    def attest(self, signer: str, range_: str | None = None) -> dict[str, Any]:
        f.git(self.path, "config", "provenance.signingKey", str(self.people[signer].key_path))
        attest.create(range_, None, None, self.out, self.path)
        doc: dict[str, Any] = json.loads(self.out.read_text())
        return doc

    def verify(self, **kw: Any) -> attest.Verified:
        return attest.verify(self.out, kw.get("key"), None, kw.get("policy"), self.path)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def statement_of(envelope: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return doc


def test_the_envelope_holds_an_in_toto_statement_of_the_audit(repo: Repo) -> None:
    envelope = repo.attest("alice")
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    [sig] = envelope["signatures"]
    assert sig["keyid"] == repo.people["alice"].public.fingerprint()
    stmt = statement_of(envelope)
    assert stmt["_type"] == "https://in-toto.io/Statement/v1"
    assert stmt["subject"] == [{"name": "HEAD", "digest": {"gitCommit": repo.bad}}]
    assert stmt["predicateType"] == intoto.PREDICATE_TYPE
    pred = stmt["predicate"]
    assert pred["trust_root"] == repo.root and pred["range"] == f"{repo.bad} ^{repo.root}"
    assert pred["policy"]["blob"] == f.git(repo.path, "rev-parse", f"{repo.root}:{POLICY_FILE}")
    assert pred["summary"] == {"commits": 2, "ai_assisted": 1, "critical": 1, "violations": 1}
    verdicts = {c["commit"]: [v["code"] for v in c["violations"]] for c in pred["commits"]}
    assert verdicts == {repo.ok: [], repo.bad: ["missing-cosign"]}
    assert pred["audit_schema"] == "git-provenance/audit/v1" and "notes_ref" in pred
    spec = (PROJECT / "docs" / "spec.md").read_text()
    for key in ("_type", "subject", "predicateType", *(f"predicate.{k}" for k in pred)):
        assert key in spec, key  # every field is documented (docs/spec.md section 7)
    assert intoto.PREDICATE_TYPE in spec


def test_securesystemslib_verifies_it_with_the_signers_key(repo: Repo) -> None:
    repo.attest("alice")
    assert sslib_verifies(repo.out.read_text(), repo.people["alice"].public)
    assert not sslib_verifies(repo.out.read_text(), repo.people["bob"].public)


def test_verify_trusts_the_keys_of_the_policy_in_force_at_the_subject(repo: Repo) -> None:
    repo.attest("bob")  # any person of the policy may sign; the result says who
    v = repo.verify()
    assert v.subject.commit == repo.bad and v.signer == "bob@example.com"
    assert v.keyid == repo.people["bob"].public.fingerprint()
    assert v.summary["violations"] == 1 and "in force at" in v.trusted


def test_a_range_attests_its_tip(repo: Repo) -> None:
    stmt = statement_of(repo.attest("alice", f"{repo.ok}..HEAD"))
    assert stmt["subject"][0]["digest"]["gitCommit"] == repo.bad
    assert stmt["predicate"]["range"].startswith(f"{repo.ok}..{repo.bad}")
    assert stmt["predicate"]["summary"]["commits"] == 1
    with pytest.raises(ProvenanceError, match="one commit or BASE..TIP"):
        repo.attest("alice", f"{repo.ok}...HEAD")


@pytest.mark.parametrize("where", range(0, 400, 7))
def test_a_changed_byte_of_the_payload_fails_verification(repo: Repo, where: int) -> None:
    envelope = repo.attest("alice")
    payload = bytearray(base64.b64decode(envelope["payload"]))
    payload[where % len(payload)] ^= 0x01
    envelope["payload"] = base64.b64encode(bytes(payload)).decode()
    repo.out.write_text(json.dumps(envelope))
    key = repo.people["alice"].public
    with pytest.raises(ProvenanceError) as e:
        repo.verify(key=f"key::{key.openssh()}")
    assert e.value.exit_code in (1, 2)  # 2 only when the change broke the JSON itself
    assert not sslib_verifies(repo.out.read_text(), key)


def test_an_attestation_cannot_vouch_for_its_own_signer(repo: Repo) -> None:
    """Mallory adds herself to the policy without a senior's co-sign, then signs an attestation of
    that history: the policy in force is still the one before her edit, so it does not verify."""
    p = repo.people
    repo.spec.people.append((p["mallory"], ["senior"]))
    f.commit(repo.path, p["mallory"], {POLICY_FILE: repo.spec.text()})
    repo.attest("mallory")
    with pytest.raises(ProvenanceError, match="no signature verifies with a trusted key") as e:
        repo.verify()
    assert e.value.exit_code == 1
    # Once a senior co-signs her addition, her key is in force and the same kind of file verifies.
    f.commit(repo.path, p["bob"], {POLICY_FILE: repo.spec.text() + "\n"}, cosigners=[p["alice"]])
    repo.attest("mallory")
    assert repo.verify().signer == "mallory@example.com"


def test_a_key_removed_without_authority_is_still_trusted(repo: Repo) -> None:
    p = repo.people
    repo.spec.people = [(p["alice"], ["senior"])]
    # alice's own co-sign does not count for her change: removing bob is not authorised.
    f.commit(repo.path, p["alice"], {POLICY_FILE: repo.spec.text()}, cosigners=[p["alice"]])
    repo.attest("bob")
    assert repo.verify().signer == "bob@example.com"


@pytest.mark.parametrize("how", ["removed", "revoked"])
def test_a_key_removed_or_revoked_before_the_subject_is_not_trusted(repo: Repo, how: str) -> None:
    p = repo.people
    if how == "removed":
        repo.spec.people = [(p["alice"], ["senior"])]
    else:
        repo.spec.revoked = [p["bob"].key_line()]
    f.commit(repo.path, p["bob"], {POLICY_FILE: repo.spec.text()}, cosigners=[p["alice"]])
    repo.attest("bob")
    message = "revoked key" if how == "revoked" else "no signature verifies with a trusted key"
    with pytest.raises(ProvenanceError, match=message) as e:
        repo.verify()
    assert e.value.exit_code == 1


def test_verify_with_one_key_or_another_policy_file(repo: Repo, tmp_path: Path) -> None:
    p = repo.people
    repo.attest("carol")  # not in the repository's policy
    pub = tmp_path / "carol.pub"
    pub.write_text(p["carol"].public.openssh() + " carol\n")
    assert repo.verify(key=str(pub)).keyid == p["carol"].public.fingerprint()
    with pytest.raises(ProvenanceError, match="no signature verifies"):
        repo.verify(key=f"key::{p['bob'].public.openssh()}")
    external = tmp_path / "auditors.toml"
    external.write_text(f.PolicySpec(people=[(p["carol"], ["senior"])]).text())
    assert repo.verify(policy=str(external)).signer == "carol@example.com"
    # Made under an external policy: the predicate names the file by its sha256, no blob.
    attest.create(None, None, str(external), repo.out, repo.path)
    policy = statement_of(json.loads(repo.out.read_text()))["predicate"]["policy"]
    assert policy["blob"] is None and policy["source"] == f"{external} (--policy)"
    assert policy["sha256"] == hashlib.sha256(external.read_bytes()).hexdigest()


def test_the_subject_must_be_here_and_the_file_an_envelope(repo: Repo) -> None:
    envelope = repo.attest("alice")
    stmt = statement_of(envelope)
    stmt["subject"][0]["digest"]["gitCommit"] = "1" * 40
    envelope["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    repo.out.write_text(json.dumps(envelope))
    with pytest.raises(ProvenanceError, match="not in this repository: fetch it"):
        repo.verify()
    repo.out.write_text("not json")
    with pytest.raises(ProvenanceError, match="not a DSSE envelope") as e:
        repo.verify()
    assert e.value.exit_code == 2


def test_another_payload_type_or_predicate_is_refused(repo: Repo) -> None:
    envelope = repo.attest("alice")
    repo.out.write_text(json.dumps({**envelope, "payloadType": "application/json"}))
    with pytest.raises(ProvenanceError, match="payloadType"):
        repo.verify()
    with pytest.raises(ProvenanceError, match="predicateType"):
        intoto.parse(json.dumps({"_type": intoto.STATEMENT_TYPE, "predicateType": "x"}).encode())


def test_the_command_line_writes_and_verifies(repo: Repo) -> None:
    f.git(repo.path, "config", "provenance.signingKey", str(repo.people["alice"].key_path))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "provenance", "attest", *args],
                              cwd=repo.path, capture_output=True, text=True, check=False)

    made = cli("--output", str(repo.out))
    assert made.returncode == 0, made.stderr  # written whatever the verdicts
    assert repo.out.stat().st_mode & 0o777 == 0o666 & ~_umask()  # as any file it writes
    assert "1 violation(s)" in made.stdout
    checked = cli("--verify", str(repo.out))
    assert checked.returncode == 0 and "signed by alice@example.com" in checked.stdout
    assert cli().returncode == 2 and "--output FILE" in cli().stderr
    assert cli("--verify", str(repo.out), "HEAD").returncode == 2
    f.git(repo.path, "config", "--unset", "provenance.signingKey")
    nokey = cli("--output", str(repo.out))
    assert nokey.returncode == 2 and "no signing key" in nokey.stderr
    assert len(nokey.stderr.strip().splitlines()) == 1
