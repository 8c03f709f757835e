"""A server's pre-receive hook: the pre-push gate's judgement where `--no-verify` cannot skip it.

git runs pre-receive once per push, before any ref moves, with the pushed objects in quarantine
(git/receive.py). For each update of a protected branch the commits new to it are judged with the
notes as they will be after the push; deletions and non-fast-forwards of a protected branch are
refused; an update of refs/notes/provenance must keep every attestation (record/notes_guard.py);
every other ref passes. A non-zero exit refuses the whole push (git's rule, not ours), so each
refused ref gets its own block and the pusher learns that nothing went in. Nothing bypasses it:
PROVENANCE_SKIP is the pusher's variable, and it never reaches the server.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from provenance.audit.records import Judgement
from provenance.errors import ProvenanceError
from provenance.git import git, notes, receive
from provenance.policy import branches, source
from provenance.record import notes_guard

TRUST_ROOT_KEY = "provenance.trustRoot"
BRANCHES = "refs/heads/"


class Refusal(NamedTuple):
    """One refused ref: why, in the audit's words, and what makes the push pass."""

    ref: str
    lines: tuple[str, ...]


class Server(NamedTuple):
    """What the repository held before the push: every question of the hook is asked of it."""

    tips: dict[str, str]  # refs/heads/NAME -> commit
    head: str | None  # the branch HEAD names
    trust_root: str | None
    notes_tip: str | None  # the notes commit as it will be after this push


def run(args: Sequence[str], environ: Mapping[str, str], stdin_text: str) -> int:
    updates = receive.parse_updates(stdin_text)
    if not updates:
        return 0
    with receive.read_only_objects():
        refused = refusals(updates)
    for r in refused:
        print(f"git-provenance: {r.ref} refused", file=sys.stderr)
        for line in r.lines:
            print(f"  {line}", file=sys.stderr)
    if refused:
        print("git-provenance: this push was refused whole: no ref of it moved "
              "(git accepts or refuses a push as one)", file=sys.stderr)
    return 1 if refused else 0


def refusals(updates: Sequence[receive.RefUpdate], cwd: str | Path | None = None) -> list[Refusal]:
    out: list[Refusal] = []
    notes_tip = notes.tip(cwd)
    for u in updates:
        if u.ref == notes.REF:
            verdict = notes_guard.judge_update(u, cwd)
            if verdict.problem is not None:
                out.append(Refusal(u.ref, tuple(notes_guard.describe(verdict))))
            elif not u.deleted:
                notes_tip = u.new
    server = Server(receive.branch_tips(cwd), receive.head_branch(cwd),
                    git.config_get(TRUST_ROOT_KEY, cwd=cwd), notes_tip)
    for u in updates:
        if u.ref.startswith(BRANCHES) and is_protected(u.ref, server, cwd):
            lines = branch_refusal(u, server, cwd)
            if lines:
                out.append(Refusal(u.ref, tuple(lines)))
    return out


def is_protected(ref: str, server: Server, cwd: str | Path | None = None) -> bool:
    """Whether the policy in force at the branch's current tip protects it: for a branch the push
    creates, the policy at the tip of the repository's HEAD branch. Without `protected-branches`
    (or without a policy there): the HEAD branch, main and master."""
    tip = server.tips.get(ref) or (server.tips.get(BRANCHES + server.head) if server.head else None)
    patterns: tuple[str, ...] | None = None
    if tip is not None:
        try:
            policy = source.load_at(tip, cwd=cwd)
        except ProvenanceError:
            policy = None  # a branch holding a broken policy is judged as unadopted: defaults
        patterns = policy.protected_branches if policy is not None else None
    if patterns is None:
        patterns = ((server.head,) if server.head else ()) + branches.DEFAULT
    branch = ref.removeprefix(BRANCHES)
    return any(fnmatch.fnmatchcase(branch, p) for p in patterns)


def branch_refusal(u: receive.RefUpdate, server: Server, cwd: str | Path | None = None
                   ) -> list[str]:
    """Why this update of a protected branch may not go in (empty: it may)."""
    branch = u.ref.removeprefix(BRANCHES)
    if u.deleted:
        return [f"{branch} is a protected branch: it cannot be deleted here"]
    if not server.trust_root:
        return [f"this repository has no {TRUST_ROOT_KEY}, so nothing pushed to {branch} can be "
                "judged; its administrator sets it to the commit that adopted the policy:",
                f"  git config {TRUST_ROOT_KEY} COMMIT"]
    if not receive.is_commit(u.new, cwd):
        return [f"{u.new[:12]} is not a commit: a branch holds commits"]
    if not u.created and not receive.is_ancestor(u.old, u.new, cwd):
        return [f"{branch} is a protected branch: this update is not a fast-forward "
                f"({u.old[:12]} is not in the history of {u.new[:12]}): history that was judged "
                "cannot be rewritten here", f"fetch, rebase on {branch} or merge it, then push again"]
    have = judged_before(u, server)
    try:
        failing = [j for j in judge(u.new, have, server, cwd) if j.violations]
    except ProvenanceError as e:
        return [f"cannot audit the push to {branch}: {e}",
                "nothing that cannot be judged goes into a protected branch"]
    return describe(failing, u, branch) if failing else []


def judged_before(u: receive.RefUpdate, server: Server) -> list[str]:
    """The commits that count as judged: the branch's tip before the push; for a protected branch
    the push creates, the tips of the protected branches the server holds (an unprotected
    branch's commits were never judged here). None held: everything from the trust root."""
    if not u.created:
        return [u.old]
    protected = [tip for ref, tip in server.tips.items() if is_protected(ref, server)]
    return sorted(set(protected))


def judge(new: str, have: Sequence[str], server: Server, cwd: str | Path | None = None
          ) -> list[Judgement]:
    """The judgements of the commits `new` adds to what `have` reaches, exactly as the full audit
    of `new` judges them (audit/incoming.py), with the notes as the push leaves them."""
    from provenance.audit import incoming  # deferred: a push that touches no protected branch skips it

    if not incoming.adds(new, have, cwd):
        return []
    result = incoming.judge_push(new, have, cwd, notes_tip=server.notes_tip,
                                 trust_root=server.trust_root)
    return list(result.judgements)


def describe(failing: Sequence[Judgement], u: receive.RefUpdate, branch: str) -> list[str]:
    """The verdicts as the audit words them, and the commands that make the push pass."""
    lines = [f"{len(failing)} commit(s) new to {branch} fail the audit:"]
    for j in failing:
        lines += [f"  {j.commit} {v.code}: {v.message}" for v in j.violations]
    fixes = dict.fromkeys(v.fix for j in failing for v in j.violations)
    lines.append("to fix it:")
    lines.append(f"  git push origin {u.new}:refs/heads/review/{branch}"
                 "   # alone: any branch but a protected one takes it, for review")
    lines += [f"  {fix}" for fix in fixes]
    lines.append("  git provenance sync origin   # by each co-signer: publish the notes")
    lines.append(f"  git provenance sync origin   # then here, and push to {branch} again (or "
                 f"push {notes.REF} with it)")
    return lines
