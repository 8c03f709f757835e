"""The judgements of a walk: a list in memory up to a limit, the same list from disk past it."""

from __future__ import annotations

import json

import pytest

from provenance.audit import spool
from provenance.audit.records import CoverApproval, Judgement, Violation
from provenance.ssh.sshsig import PublicKey


def _judgement(n: int) -> Judgement:
    key = PublicKey("ssh-ed25519", bytes([n % 256]) * 51)
    return Judgement(
        commit=f"{n:040x}", author=f"dev{n}@example.com", ai_assisted=n % 2 == 0,
        evidence=(f"declared yes (trailer, signed by dev{n}@example.com)", "fingerprint: ü"),
        critical_paths={"tier-1": [f"payments/{n}.py"]} if n % 3 == 0 else {},
        cosigners=("alice@example.com",) if n % 5 == 0 else (),
        violations=(Violation("missing-cosign", f"message {n}", "fix it", "tier-1", ("p",)),)
        if n % 4 == 0 else (),
        policy_change=n == 7, policy_authorized=n == 7,
        cover_approvals=(CoverApproval(f"{n:040x}", "alice@example.com", key),) if n % 6 == 0 else (),
    )


def _filled(count: int, limit: int) -> tuple[spool.Judgements, list[Judgement]]:
    """A spool of `count` judgements (on disk past `limit`), and the same as a list."""
    expected = [_judgement(n) for n in range(count)]
    got = spool.Judgements(in_memory=limit)
    for j in expected:
        got.append(j)
    return got, expected


def test_every_field_survives_the_round_trip() -> None:
    for n in range(13):
        line = spool.encode_line(spool.to_doc(_judgement(n)))  # what is stored and cached
        assert spool.from_doc(json.loads(line)) == _judgement(n)
        assert spool.decoded(spool.encoded(_judgement(n))) == _judgement(n)


@pytest.mark.parametrize("limit", [1000, 5, 0])
def test_a_spilled_list_reads_back_as_the_list_it_replaces(limit: int) -> None:
    got, expected = _filled(40, limit)
    got[3] = expected[3] = _judgement(103)  # a re-judged commit, replaced in place
    got[-1] = expected[-1] = _judgement(139)
    assert len(got) == 40
    assert list(got) == expected
    assert got[0] == expected[0] and got[-2] == expected[-2] and got[5:8] == expected[5:8]
    got.append(_judgement(40))  # appending after reads still appends at the end
    assert list(got)[-2:] == [_judgement(139), _judgement(40)]
    with pytest.raises(IndexError):
        got[41]


@pytest.mark.parametrize("limit", [1000, 0])
def test_the_summary_kept_on_arrival_counts_what_the_list_holds(limit: int) -> None:
    got, expected = _filled(30, limit)
    got[4] = expected[4] = _judgement(200)  # replacing takes the old entry's counts out
    assert spool.summary(got) == spool.summary(list(expected))
    assert spool.summary(list(expected)) == spool.Summary(
        30, sum(j.ai_assisted for j in expected), sum(bool(j.critical_paths) for j in expected),
        sum(len(j.violations) for j in expected))
    assert 0 < spool.summary(got).violations and 0 < spool.summary(got).critical < 30


@pytest.mark.parametrize("limit", [1000, 0])
def test_flagged_gives_the_judgements_with_violations_in_order(limit: int) -> None:
    got, expected = _filled(30, limit)
    got[8] = expected[8] = _judgement(200)  # now with a violation (200 % 4 == 0)
    flagged = [j for j in expected if j.violations]
    assert list(spool.flagged(got)) == flagged == list(spool.flagged(expected))
    assert 0 < len(flagged) < 30


def test_a_spilled_judgement_keeps_bytes_that_are_not_utf8() -> None:
    """Paths and messages are decoded with surrogateescape: a lone surrogate survives the disk."""
    odd = _judgement(0)._replace(critical_paths={"tier-1": ["payments/\udcff.py"]},
                                 evidence=("fingerprint: \udce9",))
    got = spool.Judgements(in_memory=0)
    got.append(odd)
    assert got[0] == odd
    assert list(spool.lines(got)) == [spool.encode_line(spool.to_doc(odd))]


@pytest.mark.parametrize("limit", [1000, 7, 0])
def test_encoded_verdicts_mix_with_judgements_and_read_back_as_judgements(limit: int) -> None:
    """A cached verdict arrives as its report line (`spool.Encoded`) and is never built into a
    judgement unless read back; the report copies its line."""
    expected = [_judgement(n) for n in range(20)]
    got = spool.Judgements(in_memory=limit)
    for n, j in enumerate(expected):
        got.append(spool.encoded(j) if n % 3 else j)
    got[4] = spool.encoded(expected[4])  # a lifted verdict from the cache, in place
    assert list(got) == expected and got[4] == expected[4]
    assert list(spool.lines(got)) == [spool.encode_line(spool.to_doc(j)) for j in expected]
    assert spool.summary(got) == spool.summary(expected)
    assert list(spool.flagged(got)) == [j for j in expected if j.violations]
    assert [spool.missing_cosign(spool.encoded(j)) for j in expected] == \
        [any(v.code == "missing-cosign" for v in j.violations) for j in expected]
