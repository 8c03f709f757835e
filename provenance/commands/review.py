"""`review`: the AI-assisted changes to critical paths that still need your co-sign."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from provenance.audit.records import Violation
from provenance.commands import targets
from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.policy.branches import Protected


@dataclass(frozen=True)
class Pending:
    commit: str
    author: str
    evidence: tuple[str, ...]
    reasons: tuple[str, ...]  # the violation messages you can resolve
    rules: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (rule, its critical paths) you can satisfy
    covers: tuple[str, ...] = ()  # a merge: the commits its co-sign also approves
    note: str = ""  # a merge signed without covers: why


@dataclass(frozen=True)
class Review:
    scope: str  # what was looked at, in words
    pending: list[Pending]
    on_protected: list[str]  # commits of the range left out: already on a protected branch
    protected: tuple[str, ...]  # the patterns that made them so


def waiting(prot: Protected, cwd: str | Path | None = None) -> list[str]:
    """The tips of what waits for review: every remote-tracking branch that is not protected,
    and HEAD."""
    refs = git.text(["for-each-ref", "--format=%(refname)%00%(symref)", "refs/remotes"],
                    cwd=cwd).splitlines()
    tips = [ref for ref, _, symref in (r.partition("\0") for r in refs)
            if not symref and ref not in prot.refs]
    return [*tips, "HEAD"] if git.rev_parse("HEAD", cwd=cwd) else tips


def pending_for_signer(range_: str | None, cwd: str | Path | None = None) -> Review:
    """Commits in RANGE, or by default those waiting on remote branches (and HEAD) that no
    protected branch holds yet, whose violations your co-sign would resolve; commits already on
    a protected branch are left out."""
    who = targets.me(cwd)
    if who.person is None:
        raise ProvenanceError(f"{who.email or 'you'} is not a person in the policy at HEAD")
    prot = targets.protected_refs(who, cwd)
    names = ", ".join(prot.patterns) or "none"
    if range_ is None:
        revs = waiting(prot, cwd)
        scope = f"remote branches and HEAD, without what protected branches ({names}) hold"
    else:
        revs, scope = [range_], range_
    kept, on_protected = targets.outside(revs, prot, cwd) if revs else ([], [])
    found = targets.judged([range_] if range_ is not None else revs, cwd) if revs else {}
    ours = set(kept) | set(on_protected)
    pending: dict[str, Pending] = {}
    for j in (j for c, j in found.items() if c in ours):
        # A landing's co-sign goes to its source commit, which its fix names (audit/landings.py).
        by_target: dict[str, list[Violation]] = {}
        for v in who.needs(j):
            fix = v.fix.split()
            target = fix[3] if fix[:3] == ["git", "provenance", "cosign"] else j.commit
            by_target.setdefault(target, []).append(v)
        for target, mine in by_target.items():
            author = j.author if target == j.commit else git.text(
                ["log", "-1", "--format=%ae", target], cwd=cwd)
            if who.is_author(author) or target in pending:
                continue  # nobody co-signs their own change; a source lands once in a listing
            # What a protected branch holds is not yours to approve here (a "sync with main"
            # merge brings it in); a landing's source, still on its branch, is.
            if target in on_protected or (target != j.commit
                                          and targets.has_landed(target, prot, cwd)):
                continue
            rules = tuple((v.rule or "policy-changes", v.paths) for v in mine)
            brings, note = targets.covers_of(target, prot, cwd)
            pending[target] = Pending(target, author, j.evidence if target == j.commit else (),
                                      tuple(v.message for v in mine), rules, tuple(brings), note)
    return Review(scope, list(pending.values()), on_protected, prot.patterns)


def subject(commit: str, cwd: str | Path | None = None) -> str:
    return git.text(["log", "-1", "--format=%s", commit], cwd=cwd)


def describe(item: Pending, cwd: str | Path | None = None) -> str:
    """Who wrote the change, with which agent, which rules and paths need you, then its diff."""
    fmt = "%an <%ae>%x00%(trailers:key=Assisted-by,valueonly,separator=%x2C )%x00%s"
    who, agents, subject = git.text(["log", "-1", f"--format={fmt}", item.commit], cwd=cwd).split("\0")
    lines = [
        f"commit {item.commit}  {subject}",
        f"  written by: {who}",
        f"  agent:      {agents or 'not named'}",
        f"  evidence:   {'; '.join(item.evidence) or 'none'}",
    ]
    lines += [f"  rule {rule}: {', '.join(paths) or '(the policy file)'}" for rule, paths in item.rules]
    lines += [f"  needs you:  {reason}" for reason in item.reasons]
    if item.covers:
        lines.append(f"  signs:      this merge and the {len(item.covers)} commit(s) it brings in: "
                     + " ".join(c[:12] for c in item.covers))
    elif item.note:
        lines.append(f"  signs:      this commit only ({item.note})")
    diff = git.text(["show", "--stat", "-p", "--no-color", "--format=", item.commit], cwd=cwd)
    return "\n".join(lines) + "\n\n" + diff.strip("\n") + "\n"


def fetch_request(request: str, remote: str, cwd: str | Path | None = None) -> tuple[str, str]:
    """Fetch request `request` (`7`, `#7`, or `!7` for GitLab) from `remote` into the ref the
    audit reads (refs/pull/7/head or refs/merge-requests/7/head); return (that ref, the range of
    its commits not on the remote's default branch). Co-signs given on those commits count for
    the squash or rebase-merge that lands them: the audit judges a landing by its source."""
    number = request.lstrip("#!")
    if not number.isdigit():
        raise ProvenanceError(f"--request {request!r}: give the request's number (7, #7 or !7)")
    refs = [f"refs/pull/{number}/head", f"refs/merge-requests/{number}/head"]
    for ref in refs[::-1] if request.startswith("!") else refs:
        if git.run_ok(["fetch", "-q", remote, f"+{ref}:{ref}"], cwd=cwd) and git.rev_parse(ref, cwd=cwd):
            break
    else:
        raise ProvenanceError(f"{remote} has no request {number} ({' nor '.join(refs)})")
    return ref, f"{_default_branch(remote, cwd)}..{ref}"


def _default_branch(remote: str, cwd: str | Path | None) -> str:
    """The remote's default branch (what a request lands on): its HEAD, else main or master."""
    for candidate in (f"refs/remotes/{remote}/HEAD", f"refs/remotes/{remote}/main",
                      f"refs/remotes/{remote}/master", "main", "master"):
        if git.rev_parse(candidate, cwd=cwd):
            return candidate
    raise ProvenanceError(f"no default branch of {remote} here: fetch it (git fetch {remote})")


def run(range_: str | None, *, assume_yes: bool, say: Callable[..., object],
        ask: Callable[[str], bool], cwd: str | Path | None = None) -> None:
    """`review`: say what it looks at and leaves out, list what waits, then ask about each (a
    missing signing key is said before the first question)."""
    from provenance.commands import cosign as cosign_mod
    from provenance.record import identity

    found = pending_for_signer(range_, cwd)
    say(f"reviewing {found.scope}", err=True)
    if found.on_protected:
        say(f"left out {len(found.on_protected)} commit(s) already on a protected branch "
            f"({', '.join(found.protected)}): " + " ".join(c[:12] for c in found.on_protected),
            err=True)
    if not found.pending:
        say("nothing needs your co-sign")
        return
    identity.require_key(identity.signer(identity.read_config(cwd)))
    say(f"{len(found.pending)} change(s) wait for your co-sign; each answer of y signs it:")
    for item in found.pending:
        extra = f" and the {len(item.covers)} commit(s) it brings in" if item.covers else ""
        say(f"  {item.commit[:12]} {subject(item.commit, cwd)} ({item.author}){extra}")
    say("")
    for item in found.pending:
        say(describe(item, cwd))
        if assume_yes or ask(f"Co-sign {item.commit[:12]}?"):
            cosign_mod.store_as_note(cosign_mod.build_cosign(
                item.commit, covers=bool(item.covers), cwd=cwd), cwd)
            say(f"co-signed {item.commit[:12]}")
    say("publish your co-signs with: git provenance sync")
