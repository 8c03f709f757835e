"""What a co-sign would sign, and what it leaves out and why.

A senior signs what she reviewed, and a co-sign that changes nothing is noise. So `cosign` and
`review` leave out: commits of a range already on a protected branch (a "sync with main" merge
brings them in; she never saw them), the signer's own commits (the audit never counts an author's
co-sign), and commits whose co-sign the audit does not need (not AI-assisted, no critical path,
enough co-signs already, or roles that do not count) unless forced. A merge's co-sign approves the
commits it brings in only when none of them is on a protected branch.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from provenance.audit import walk
from provenance.audit.records import Judgement, Violation
from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.policy import branches, source
from provenance.policy.branches import Protected
from provenance.policy.schema import Person, Policy
from provenance.record import identity

NEEDS_YOU = ("missing-cosign", "unauthorized-policy-change")
OWN = "your own commit"


class Me(NamedTuple):
    email: str
    person: Person | None  # in the policy at HEAD
    policy: Policy | None  # at HEAD

    def is_author(self, author: str) -> bool:
        emails = self.person.emails if self.person is not None else ()
        return author.lower() == self.email or author.lower() in (e.lower() for e in emails)

    def needs(self, j: Judgement) -> list[Violation]:
        """`j`'s violations a co-sign by someone with this signer's roles would resolve."""
        if self.person is None or self.policy is None:
            return []
        roles = {r.name: r.cosign_roles for r in self.policy.rules}
        mine = self.person.roles
        return [v for v in j.violations if (
            v.code == "missing-cosign" and mine & roles.get(v.rule or "", frozenset())
        ) or (v.code == "unauthorized-policy-change" and mine & self.policy.policy_change_roles)]

    def resolves(self, j: Judgement) -> list[str]:
        """The messages of `j`'s violations this signer's co-sign would resolve."""
        return [] if self.is_author(j.author) else [v.message for v in self.needs(j)]


def me(cwd: str | Path | None = None) -> Me:
    email = identity.signer(identity.read_config(cwd)).email
    try:  # a policy that does not parse is for `cosign` itself to refuse, in its own words
        pol = source.load_at("HEAD", cwd=cwd) if git.rev_parse("HEAD", cwd=cwd) else None
    except ProvenanceError:
        pol = None
    return Me(email, pol.person_by_email(email) if pol is not None else None, pol)


def protected_refs(who: Me, cwd: str | Path | None = None) -> Protected:
    return branches.protected(who.policy, cwd)


def outside(revs: Sequence[str], prot: Protected, cwd: str | Path | None = None
            ) -> tuple[list[str], list[str]]:
    """The commits of `revs` (oldest first) not on a protected branch, and those that are."""
    every = git.text(["rev-list", "--reverse", "--end-of-options", *revs, "--"], cwd=cwd).split()
    if not prot.landed:
        return every, []
    kept = set(git.text(["rev-list", "--end-of-options", *revs, *(f"^{r}" for r in prot.landed),
                         "--"], cwd=cwd).split())
    return [c for c in every if c in kept], [c for c in every if c not in kept]


def has_landed(commit: str, prot: Protected, cwd: str | Path | None = None) -> bool:
    """Whether a protected branch holds `commit`."""
    return any(git.run_ok(["merge-base", "--is-ancestor", commit, r], cwd=cwd)
               for r in prot.landed)


class Target(NamedTuple):
    commit: str
    covers: bool  # a merge: its co-sign also approves the commits it brings in
    note: str = ""  # said before signing (why a merge is signed without covers)


class Left(NamedTuple):
    commit: str
    reason: str


class Plan(NamedTuple):
    sign: list[Target]
    left: list[Left]  # left out, and why
    refused: list[Left]  # your own commits, named one by one: an error


def judged(tips: Sequence[str], cwd: str | Path | None = None) -> dict[str, Judgement]:
    """The audit's judgements of what `tips` reach: one audit a tip that no other tip holds (the
    walk follows one tip's mainline); a commit judged under several keeps its worst verdict."""
    heads = (git.text(["merge-base", "--independent", *tips], cwd=cwd).split()
             if len(tips) > 1 else list(tips))
    out: dict[str, Judgement] = {}
    for head in heads:
        for j in walk.audit(head, None, None, cwd).judgements:
            if j.commit not in out or len(j.violations) > len(out[j.commit].violations):
                out[j.commit] = j
    return out


def _judgements(tips: Sequence[str], wanted: Iterable[str], cwd: str | Path | None
                ) -> dict[str, Judgement] | None:
    """The audit's judgements of `wanted`, or None when the audit cannot run (said on stderr)."""
    keep = set(wanted)
    try:
        found = judged(list(dict.fromkeys(tips)), cwd)
    except ProvenanceError as e:
        print(f"git-provenance: cannot tell which co-signs are needed ({e})", file=sys.stderr)
        return None
    return {c: j for c, j in found.items() if c in keep}


def why_not(j: Judgement, who: Me) -> str:
    """Why `who`'s co-sign of `j` changes nothing."""
    if who.person is None:
        return f"you ({who.email or 'no user.email'}) are not a person in the policy at HEAD"
    if j.violations and any(v.code in NEEDS_YOU for v in j.violations):
        return "your roles do not count for the co-signs it lacks"
    if j.policy_change:
        return f"its policy change is already authorised ({', '.join(j.cosigners) or 'inherited'})"
    if j.critical_paths:
        return f"it already has enough co-signs ({', '.join(j.cosigners)})"
    if not j.ai_assisted:
        return "it is not AI-assisted, and no rule for every commit covers its paths"
    return "it touches no critical path"


def plan(revs: Sequence[str], *, force: bool = False, covers: bool = True,
         cwd: str | Path | None = None) -> Plan:
    """What `cosign REVS` signs. `A..B` stands for the commits of the range not on a protected
    branch; a REV named on its own is signed wherever it is."""
    who = me(cwd)
    prot = protected_refs(who, cwd)
    named: list[str] = []
    ranged: list[str] = []
    left: list[Left] = []
    for rev in revs:
        if ".." in rev:
            kept, on_protected = outside([rev], prot, cwd)
            ranged += kept
            left += [Left(c, "already on a protected branch: name it on its own to co-sign it")
                     for c in on_protected]
            continue
        sha = git.rev_parse(f"{rev}^{{commit}}", cwd=cwd)
        if sha is None:
            raise ProvenanceError(f"{rev!r} does not name a commit")
        named.append(sha)
    candidates = list(dict.fromkeys(named + ranged))
    covered: dict[str, list[str]] = {}
    notes: dict[str, str] = {}
    for commit in candidates if covers else ():
        brings, note = covers_of(commit, prot, cwd)
        if note:
            notes[commit] = note
        elif brings:
            covered[commit] = brings
    looked = _judgements(candidates, [*candidates, *(b for bs in covered.values() for b in bs)],
                         cwd) if candidates else {}
    out = Plan([], left, [])
    for commit in candidates:
        reason = _leave_out(commit, who, looked, covered.get(commit, []), force, cwd)
        if reason:
            own = reason.startswith(OWN)
            (out.refused if own and commit in named else out.left).append(Left(commit, reason))
        else:
            out.sign.append(Target(commit, covers and commit not in notes, notes.get(commit, "")))
    return out


def covers_of(commit: str, prot: Protected, cwd: str | Path | None = None
              ) -> tuple[list[str], str]:
    """The commits a co-sign of `commit` covers (a merge: those it brings in), or, when one of
    them is already on a protected branch, none and why: a co-sign covers only what the senior
    reviews."""
    if len(git.text(["rev-list", "--parents", "-n", "1", commit], cwd=cwd).split()) < 3:
        return [], ""
    kept, on_protected = outside([commit, f"^{commit}^1"], prot, cwd)
    if on_protected:
        return [], (f"{commit[:12]} brings in {len(on_protected)} commit(s) already on a protected "
                    "branch: co-signed without covering what it brings in")
    return [c for c in kept if c != commit], ""


def _leave_out(commit: str, who: Me, looked: dict[str, Judgement] | None,
               brought: list[str], force: bool, cwd: str | Path | None) -> str:
    """Why `commit` is not co-signed ("" to co-sign it)."""
    own = who.is_author(git.text(["log", "-1", "--format=%ae", commit], cwd=cwd))
    # The author's co-sign never counts for their own change; a merge's still covers what others
    # wrote that it brings in.
    if own and not brought:
        return f"{OWN}: the audit never counts its author's co-sign"
    if force or looked is None or commit not in looked or who.policy is None:
        return ""
    j = looked[commit]
    if who.resolves(j) or any(who.resolves(looked[b]) for b in brought if b in looked):
        return ""
    if own:
        return "your own merge, and nothing it brings in needs your co-sign"
    return f"needs no co-sign from you: {why_not(j, who)} (--force co-signs it anyway)"


def run(revs: Sequence[str], *, as_note: bool, covers: bool, force: bool,
        cwd: str | Path | None = None) -> Iterator[str]:
    """`cosign REVS`: sign what the plan signs, saying what it leaves out; the lines to print."""
    from provenance.commands import cosign as cosign_mod

    todo = plan(revs, force=force, covers=covers, cwd=cwd)
    for left in todo.left:
        yield f"skipped {left.commit[:12]}: {left.reason}"
    if todo.refused:
        raise ProvenanceError("not co-signed: " + "; ".join(
            f"{r.commit[:12]}: {r.reason}" for r in todo.refused))
    if not todo.sign:
        yield "nothing to co-sign"
    for target in todo.sign:
        if target.note:
            yield target.note
        att = cosign_mod.build_cosign(target.commit, covers=target.covers, cwd=cwd)
        if as_note:
            cosign_mod.store_as_note(att, cwd)
            yield f"co-signed {att.commit[:12]} in refs/notes/provenance (publish: git provenance sync)"
        else:
            new = cosign_mod.store_by_amending(att, cwd)
            yield f"co-signed HEAD in its trailers (now {new[:12]})"
