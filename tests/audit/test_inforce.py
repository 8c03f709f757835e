"""The policy chain read back from an audit's judgements agrees with the walk: an authorised change
puts the new policy in force, anything else leaves the previous one."""

from __future__ import annotations

from pathlib import Path

import factory as f
import pytest

from provenance.audit import inforce, walk
from provenance.errors import ProvenanceError
from provenance.policy.schema import POLICY_FILE

TIER1 = {"name": "tier-1", "paths": ["payments/**"]}


def _blob(repo: Path, rev: str) -> str:
    return f.git(repo, "rev-parse", f"{rev}:{POLICY_FILE}")


@pytest.fixture
def people(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


def test_each_commit_is_judged_under_the_policy_the_walk_keeps(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    spec = f.PolicySpec(people=[(people["alice"], ["senior"]), (people["bob"], [])], rules=[TIER1])
    repo = f.init(tmp_path / "repo")
    root = f.commit(repo, people["alice"], {POLICY_FILE: spec.text()})
    spec.people.append((people["carol"], ["senior"]))
    authorised = f.commit(repo, people["bob"], {POLICY_FILE: spec.text()},
                          cosigners=[people["alice"]])
    after_authorised = f.commit(repo, people["bob"], {"a": "1\n"})
    spec.people.append((people["mallory"], ["senior"]))
    unauthorised = f.commit(repo, people["mallory"], {POLICY_FILE: spec.text()})
    after_unauthorised = f.commit(repo, people["bob"], {"b": "2\n"})
    deleted = f.commit(repo, people["bob"], {POLICY_FILE: None}, cosigners=[people["alice"]])
    last = f.commit(repo, people["bob"], {"c": "3\n"})

    result = walk.audit(None, None, None, repo)
    chain = inforce.replay(result, repo)
    assert chain.root_blob == _blob(repo, root)
    assert chain.judged_under(authorised) == _blob(repo, root)  # judged by the previous policy
    assert chain.judged_under(after_authorised) == _blob(repo, authorised)
    assert chain.in_force_after(unauthorised) == _blob(repo, authorised)  # not mallory's
    assert chain.judged_under(after_unauthorised) == _blob(repo, authorised)
    # An authorised deletion leaves the previous policy in force, as the walk does.
    assert chain.in_force_after(deleted) == chain.judged_under(last) == _blob(repo, authorised)
    assert set(chain.policies) == {_blob(repo, root), _blob(repo, authorised)}
    # What the walk says of the same commits: mallory is no senior after her own edit.
    [j] = [j for j in result.judgements if j.commit == unauthorised]
    assert not j.policy_authorized


def test_the_revoked_keys_are_the_walks_and_only_grow(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    spec = f.PolicySpec(people=[(people["alice"], ["senior"]), (people["carol"], ["senior"])])
    repo = f.init(tmp_path / "repo")
    f.commit(repo, people["alice"], {POLICY_FILE: spec.text()})
    spec.revoked = [people["carol"].key_line()]
    f.commit(repo, people["bob"], {POLICY_FILE: spec.text()}, cosigners=[people["alice"]])
    spec.revoked = []  # un-revoking is no use: revocation only grows
    f.commit(repo, people["bob"], {POLICY_FILE: spec.text() + "\n"}, cosigners=[people["alice"]])
    result = walk.audit(None, None, None, repo)
    assert inforce.replay(result, repo).revoked == result.revoked == {people["carol"].public}


def test_a_revocation_stays_even_when_it_unauthorises_the_change_that_made_it(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    """Carol co-signs the revocation of her own key: the second pass of the walk finds her co-sign
    revoked, so that change is not authorised; her key stays revoked all the same (fails closed)."""
    spec = f.PolicySpec(people=[(people["alice"], ["senior"]), (people["carol"], ["senior"])])
    repo = f.init(tmp_path / "repo")
    f.commit(repo, people["alice"], {POLICY_FILE: spec.text()})
    spec.revoked = [people["carol"].key_line()]
    change = f.commit(repo, people["alice"], {POLICY_FILE: spec.text()}, cosigners=[people["carol"]])
    result = walk.audit(None, None, None, repo)
    chain = inforce.replay(result, repo)
    assert chain.in_force_after(change) == chain.root_blob
    assert people["carol"].public in chain.revoked


def test_an_audit_under_an_external_policy_has_no_chain(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    repo = f.init(tmp_path / "repo")
    f.commit(repo, people["alice"], {"a": "1\n"})
    external = tmp_path / "policy.toml"
    external.write_text(f.PolicySpec(people=[(people["alice"], ["senior"])]).text())
    with pytest.raises(ProvenanceError, match="--policy"):
        inforce.replay(walk.audit(None, None, str(external), repo), repo)
