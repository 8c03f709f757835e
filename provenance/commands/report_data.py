"""The numbers behind `git provenance report --html`, computed from an audit and two git logs.

Co-sign times are an approximation, documented in docs/ci.md: a co-sign in a note is dated by the
commit of refs/notes/provenance that first added that signer's co-sign line to the commit's note
(a note copied by a rebase is dated by the rebase); a co-sign in trailers is dated by the commit's
committer date (when it was amended in). The delay is measured from the commit's author date.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from provenance.audit.notes import read_all
from provenance.audit.records import Judgement
from provenance.audit.walk import AuditResult
from provenance.detect.signals import commit_signals
from provenance.git import git, notes
from provenance.wire import trailers
from provenance.wire.statement import KEY_ASSISTED_BY, KEY_SIGNATURE

# The page stays under ~500 KB whatever the history's length (docs/ci.md): what grows with history
# is drawn up to these bounds, and counted in full.
SHOWN_PER_GROUP = 10  # violations listed under each (code, rule) group
SHOWN_VIOLATIONS = 100  # ... and in all groups together
SHOWN_GROUPS = 60  # groups listed; the rest are one count
SHOWN_DELAYS = 40  # the latest co-signed commits drawn in "time to co-sign"
SHOWN_AGENTS = 12  # the rest are counted as "others"
SHOWN_LANDINGS = 50  # the latest forge landings listed
SHOWN_SOURCES = 10  # source commits listed under each landing
OTHER_AGENTS = "others"

# NUL separates fields and records: it never occurs in names or messages.
_LOG_FORMAT = "%H%x00%an%x00%ae%x00%cn%x00%ce%x00%at%x00%ct%x00%s%x00%B%x00%x00"
_NO_AGENT = "not named"


@dataclass(frozen=True)
class CommitFacts:
    """What one `git log` says about a judged commit."""

    sha: str
    subject: str
    author_time: int
    committer_time: int
    agents: tuple[str, ...]  # tools named by Assisted-by or fingerprints, in order
    trailer_cosigners: tuple[str, ...]  # signers of co-sign lines in the commit's own trailers


@dataclass(frozen=True)
class Bucket:
    label: str  # "2025-03-03" (week starting) or "2025-03" (month)
    commits: int
    ai_assisted: int


@dataclass(frozen=True)
class RuleStats:
    rule: str
    commits: int  # commits touching the rule's paths
    ai_assisted: int
    cosigned: int
    open: int  # commits with a missing-cosign violation under this rule


@dataclass(frozen=True)
class CosignDelay:
    commit: str
    subject: str
    signer: str
    source: str  # "note" | "trailer"
    seconds: int


@dataclass(frozen=True)
class OpenViolation:
    commit: str
    subject: str
    author: str
    code: str
    message: str
    fix: str


@dataclass(frozen=True)
class Landing:
    """A commit judged by its source's commits (audit/landings.py)."""

    commit: str
    subject: str
    request: str | None
    source: str
    verdicts: tuple[tuple[str, tuple[str, ...]], ...]  # (source commit, its verdict codes)


@dataclass(frozen=True)
class ViolationGroup:
    """Every open violation with one verdict code under one rule: a count and the first few."""

    code: str
    rule: str | None
    count: int
    first: tuple[OpenViolation, ...]  # in the audit's order, up to SHOWN_PER_GROUP


@dataclass(frozen=True)
class ReportData:
    range: str
    trust_root_source: str
    policy: str
    commits: int
    ai_assisted: int
    timeline_unit: str  # "week" | "month" | "year"
    timeline: tuple[Bucket, ...]
    agents: tuple[tuple[str, int], ...]  # most commits first
    rules: tuple[RuleStats, ...]
    needing_cosign: int  # commits that touched a critical path under a rule that applied
    cosigned: int  # ... of which co-signed well enough to pass
    delays: tuple[CosignDelay, ...]  # oldest commit first, the latest SHOWN_DELAYS
    delays_total: int  # co-signed commits with a time
    median_delay: int | None  # over all of them, not only those drawn
    open_violations: int
    violation_groups: tuple[ViolationGroup, ...]  # most violations first, up to SHOWN_GROUPS
    landings: tuple[Landing, ...] = ()  # the latest SHOWN_LANDINGS
    landings_total: int = 0


def _tool(value: str) -> str:
    """`claude-code:claude-opus-4` -> `claude-code`; an identity keeps its name part."""
    return value.split("<", 1)[0].split(":", 1)[0].strip() or _NO_AGENT


def commit_facts(shas: Iterable[str], cwd: str | Path | None = None) -> dict[str, CommitFacts]:
    """Dates, subjects, agents and trailer co-signers of `shas`: one `git log --no-walk`."""
    wanted = list(shas)
    if not wanted:
        return {}
    out = git.run(["log", "--no-walk=unsorted", f"--format={_LOG_FORMAT}", "--stdin"], cwd=cwd,
                  input="".join(s + "\n" for s in wanted).encode())
    facts: dict[str, CommitFacts] = {}
    for record in out.decode("utf-8", "surrogateescape").split("\0\0"):
        fields = record.lstrip("\n").split("\0")
        if len(fields) != 9:
            continue
        sha, an, ae, cn, ce, at, ct, subject, body = fields
        pairs = trailers.parse(body)
        agents = [_tool(v) for k, v in pairs if k.lower() == KEY_ASSISTED_BY.lower()]
        if not agents:
            agents = [s.tool for s in commit_signals(an, ae, body, cn, ce)]
        cosigners = [v.split()[2].lower() for k, v in pairs
                     if k.lower() == KEY_SIGNATURE.lower() and v.split()[1:2] == ["cosign"]
                     and len(v.split()) > 2]
        facts[sha] = CommitFacts(sha, subject, int(at or 0), int(ct or 0),
                                 tuple(dict.fromkeys(agents)), tuple(cosigners))
    return facts


def note_cosign_times(cwd: str | Path | None = None) -> dict[tuple[str, str], int]:
    """(annotated commit, signer) -> commit date of the notes commit that first added the co-sign."""
    if not notes.ref_exists(cwd):
        return {}
    out = git.text(["log", "--reverse", "-p", "--no-renames", "--no-color", "--format=%x00%ct",
                    notes.REF, "--"], cwd=cwd)
    times: dict[tuple[str, str], int] = {}
    when, target = 0, ""
    for line in out.splitlines():
        if line.startswith("\0"):
            when = int(line[1:] or 0)
        elif line.startswith("+++ b/"):
            target = line[len("+++ b/"):].replace("/", "")
        elif line.startswith("+") and not line.startswith("+++"):
            key, _, value = line[1:].partition(":")
            parts = value.split()
            if key.strip().lower() == KEY_SIGNATURE.lower() and parts[1:2] == ["cosign"] \
                    and len(parts) > 2:
                times.setdefault((target, parts[2].lower()), when)
    return times


def _bucket_label(stamp: int, unit: str) -> str:
    day = datetime.fromtimestamp(stamp, UTC).date()
    if unit == "year":
        return f"{day.year:04d}"
    if unit == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return (day - timedelta(days=day.weekday())).isoformat()


def _timeline(js: Sequence[Judgement], facts: dict[str, CommitFacts]) -> tuple[str, list[Bucket]]:
    stamps = [facts[j.commit].author_time for j in js if j.commit in facts]
    if not stamps:
        return "week", []
    span = max(stamps) - min(stamps)
    # At most ~120 columns: a history of decades (or one commit dated 1970) is drawn per year.
    unit = "week" if span <= 26 * 7 * 86400 else "month" if span <= 10 * 366 * 86400 else "year"
    total: Counter[str] = Counter()
    ai: Counter[str] = Counter()
    for j in js:
        if j.commit in facts:
            label = _bucket_label(facts[j.commit].author_time, unit)
            total[label] += 1
            ai[label] += j.ai_assisted
    # Empty weeks or months in between are drawn too: a gap is information.
    labels: list[str] = []
    cursor = datetime.fromtimestamp(min(stamps), UTC)
    last = _bucket_label(max(stamps), unit)
    while not labels or labels[-1] != last:
        label = _bucket_label(int(cursor.timestamp()), unit)
        if not labels or labels[-1] != label:
            labels.append(label)
        cursor += timedelta(days={"week": 7, "month": 28}.get(unit, 365))
    return unit, [Bucket(label, total[label], ai[label]) for label in labels]


def _missing_rules(j: Judgement) -> set[str]:
    return {v.rule for v in j.violations if v.code == "missing-cosign" and v.rule}


def _rules(js: Sequence[Judgement]) -> list[RuleStats]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for j in js:
        for rule in j.critical_paths:
            c = counts[rule]
            c["commits"] += 1
            c["ai"] += j.ai_assisted
            c["cosigned"] += bool(j.cosigners) and rule not in _missing_rules(j)
            c["open"] += rule in _missing_rules(j)
    return [RuleStats(rule, c["commits"], c["ai"], c["cosigned"], c["open"])
            for rule, c in sorted(counts.items())]


def _delays(js: Sequence[Judgement], facts: dict[str, CommitFacts],
            note_times: dict[tuple[str, str], int]) -> list[CosignDelay]:
    out = []
    for j in js:
        f = facts.get(j.commit)
        if f is None or not j.cosigners:
            continue
        found = [(note_times[(j.commit, s)], s, "note") for s in j.cosigners
                 if (j.commit, s) in note_times]
        found += [(f.committer_time, s, "trailer") for s in j.cosigners if s in f.trailer_cosigners]
        if found:
            when, signer, source = min(found)
            out.append(CosignDelay(j.commit, f.subject, signer, source, max(0, when - f.author_time)))
    return out


def delay_summary(delays: Sequence[CosignDelay]) -> tuple[tuple[CosignDelay, ...], int, int | None]:
    """The latest SHOWN_DELAYS delays (to draw), how many there are, and the median of all of them."""
    median = int(statistics.median(d.seconds for d in delays)) if delays else None
    return tuple(delays[-SHOWN_DELAYS:]), len(delays), median


def _top_agents(agents: Counter[str]) -> tuple[tuple[str, int], ...]:
    ranked = sorted(agents.items(), key=lambda a: (-a[1], a[0]))
    rest = sum(n for _, n in ranked[SHOWN_AGENTS:])
    return tuple(ranked[:SHOWN_AGENTS]) + (((OTHER_AGENTS, rest),) if rest else ())


def _groups(js: Iterable[Judgement], facts: dict[str, CommitFacts]) -> tuple[int, list[ViolationGroup]]:
    """Open violations grouped by (code, rule), largest group first; only the first few are kept."""
    counts: Counter[tuple[str, str | None]] = Counter()
    first: dict[tuple[str, str | None], list[OpenViolation]] = defaultdict(list)
    for j in js:
        for v in j.violations:
            key = (v.code, v.rule)
            counts[key] += 1
            if counts[key] <= SHOWN_PER_GROUP:
                subject = facts[j.commit].subject if j.commit in facts else ""
                first[key].append(OpenViolation(j.commit, subject, j.author, v.code, v.message, v.fix))
    ranked = sorted(counts, key=lambda k: (-counts[k], k[0], k[1] or ""))[:SHOWN_GROUPS]
    groups, room = [], SHOWN_VIOLATIONS
    for key in ranked:
        shown = first[key][:max(0, min(SHOWN_PER_GROUP, room))]
        room -= len(shown)
        groups.append(ViolationGroup(key[0], key[1], counts[key], tuple(shown)))
    return sum(counts.values()), groups


def build(result: AuditResult, cwd: str | Path | None = None) -> ReportData:
    """Everything the HTML report draws, from an audit result of the repository at `cwd`."""
    js = result.judgements
    facts = commit_facts([j.commit for j in js], cwd)
    by_note: dict[str, list[str]] = defaultdict(list)
    for att in read_all(cwd):
        by_note[att.note_commit] += [_tool(v) for v in att.assisted_by]
    agents: Counter[str] = Counter()
    for j in js:
        if j.ai_assisted:
            named = facts[j.commit].agents if j.commit in facts else ()
            for agent in dict.fromkeys([*named, *by_note.get(j.commit, [])]) or [_NO_AGENT]:
                agents[agent] += 1
    unit, timeline = _timeline(js, facts)
    needing = [j for j in js if j.critical_paths]
    open_violations, groups = _groups(js, facts)
    delays, delays_total, median_delay = delay_summary(_delays(js, facts, note_cosign_times(cwd)))
    landings = [Landing(j.commit, facts[j.commit].subject if j.commit in facts else "",
                        j.landed_from.request, j.landed_from.source, j.landed_from.verdicts)
                for j in js if j.landed_from is not None]
    return ReportData(
        range=result.range, trust_root_source=result.trust_root_source, policy=result.policy,
        commits=len(js), ai_assisted=sum(j.ai_assisted for j in js), timeline_unit=unit,
        timeline=tuple(timeline), agents=_top_agents(agents),
        rules=tuple(_rules(js)), needing_cosign=len(needing),
        cosigned=sum(bool(j.cosigners) and not _missing_rules(j) for j in needing),
        delays=delays, delays_total=delays_total, median_delay=median_delay,
        open_violations=open_violations, violation_groups=tuple(groups),
        landings=tuple(landings[-SHOWN_LANDINGS:]), landings_total=len(landings),
    )
