"""`review`: the AI-assisted changes to critical paths that still need your co-sign."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provenance.audit import walk
from provenance.audit.records import Violation
from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.policy import source
from provenance.record import identity

NEEDS_YOU = ("missing-cosign", "unauthorized-policy-change")


@dataclass(frozen=True)
class Pending:
    commit: str
    author: str
    evidence: tuple[str, ...]
    reasons: tuple[str, ...]  # the violation messages you can resolve
    rules: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (rule, its critical paths) you can satisfy


def pending_for_signer(range_: str | None, cwd: str | Path | None = None) -> list[Pending]:
    """Commits in RANGE (default: HEAD's history) whose violations your co-sign would resolve."""
    signer = identity.signer(identity.read_config(cwd))
    pol = source.load_current("HEAD", cwd=cwd)
    me = pol.person_by_email(signer.email)
    if me is None:
        raise ProvenanceError(f"{signer.email or 'you'} is not a person in the policy at HEAD")
    roles_for = {r.name: r.cosign_roles for r in pol.rules}
    result = walk.audit(range_, None, None, cwd)
    pending: dict[str, Pending] = {}
    for j in result.judgements:
        mine = [
            v for v in j.violations if v.code in NEEDS_YOU and (
                (v.code == "missing-cosign" and me.roles & roles_for.get(v.rule or "", frozenset()))
                or (v.code == "unauthorized-policy-change" and me.roles & pol.policy_change_roles)
            )
        ]
        # A landing's co-sign goes to its source commit, which its fix names (audit/landings.py).
        targets: dict[str, list[Violation]] = {}
        for v in mine:
            fix = v.fix.split()
            target = fix[3] if fix[:3] == ["git", "provenance", "cosign"] else j.commit
            targets.setdefault(target, []).append(v)
        for target, found in targets.items():
            author = j.author if target == j.commit else git.text(
                ["log", "-1", "--format=%ae", target], cwd=cwd)
            if author.lower() in me.emails or target in pending:
                continue  # nobody co-signs their own change; a source lands once in a listing
            rules = tuple((v.rule or "policy-changes", v.paths) for v in found)
            pending[target] = Pending(target, author, j.evidence if target == j.commit else (),
                                      tuple(v.message for v in found), rules)
    return list(pending.values())


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
