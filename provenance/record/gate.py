"""The pre-push gate: judge the commits being pushed; stop a push to a protected branch that fails."""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from provenance.audit.records import Judgement
from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.policy import branches, schema, source
from provenance.record.hookstate import skip_requested

if TYPE_CHECKING:
    from pathlib import Path

ZERO = "0" * 40


@dataclass(frozen=True)
class PushedRef:
    local_sha: str
    remote_ref: str
    remote_sha: str
    local_ref: str = ""


def parse_push(stdin_text: str, environ: Mapping[str, str]) -> list[PushedRef]:
    """git's `<local ref> <local sha> <remote ref> <remote sha>` lines (pre-commit passes env instead)."""
    refs = []
    for line in stdin_text.splitlines():
        parts = line.split()
        if len(parts) == 4:
            refs.append(PushedRef(parts[1], parts[2], parts[3], parts[0]))
    if not refs and environ.get("PRE_COMMIT_TO_REF"):
        refs.append(PushedRef(environ["PRE_COMMIT_TO_REF"],
                              environ.get("PRE_COMMIT_REMOTE_BRANCH", ""),
                              environ.get("PRE_COMMIT_FROM_REF", ZERO)))
    return refs


class Upstream(NamedTuple):
    """A remote-tracking branch the first push will most likely start from."""

    name: str  # as the user knows it: origin/main
    sha: str


def upstream(cwd: str | Path | None = None) -> Upstream | None:
    """The current branch's upstream, else origin's default branch, when it holds a policy;
    None when there is neither (a new repository) or the repository has not adopted one."""
    for rev in ("@{upstream}", "refs/remotes/origin/HEAD"):
        done = git.run(["rev-parse", "-q", "--verify", "--symbolic-full-name", rev], cwd=cwd,
                       check=False).decode().strip()
        if done.startswith("refs/remotes/"):
            sha = git.rev_parse(f"{done}^{{commit}}", cwd=cwd)
            if sha and git.read_blob(sha, schema.POLICY_FILE, cwd=cwd) is not None:
                return Upstream(done.removeprefix("refs/remotes/"), sha)
    return None


def unpinned(tip: Upstream, cwd: str | Path | None = None) -> str | None:
    """What install says instead of settling `tip` when no trust root is set: choosing the
    trust root is the person's decision (README: the adoption commit their platform engineer
    sent), never install's; the first push then trusts the default on first use, as before."""
    if git.config_get("provenance.trustRoot", cwd=cwd):
        return None
    return (f"the first push will read the history of {tip.name} once, to find the trust root; "
            "pin it (git config provenance.trustRoot ADOPTION-COMMIT) and install again to read "
            "it now")


def prepare(tip: Upstream, cwd: str | Path | None = None) -> list[str]:
    """Settle once what the gate needs at `tip` (the policy in force there and the keys revoked
    up to there, from the trust root set in git config) by judging `tip` alone, and cache it:
    the first push after `install` then reads only what it adds (DESIGN §8), as every later push
    does. Lines for the user; what cannot be settled here (a shallow or partial clone, a trust
    root that names nothing) is left to the push, which says what to fetch."""
    from provenance.audit import incoming

    try:
        parents = git.text(["rev-parse", f"{tip.sha}^@"], cwd=cwd).split()
        incoming.judge_push(tip.sha, parents, cwd)
    except ProvenanceError as e:
        return [f"the pre-push gate will settle the policy at {tip.name} on the first push: {e}"]
    return [f"settled the policy in force at {tip.name} ({tip.sha[:12]}) for the pre-push gate"]


def protected_patterns(remote: str, configured: tuple[str, ...] | None) -> tuple[str, ...]:
    if configured is not None:
        return configured
    head = git.rev_parse(f"refs/remotes/{remote}/HEAD") and git.text(
        ["symbolic-ref", "-q", "--short", f"refs/remotes/{remote}/HEAD"]
    )
    default = (head.split("/", 1)[1],) if head and "/" in head else ()
    return default + branches.DEFAULT


def have(ref: PushedRef, remote: str) -> list[str]:
    """What the remote already holds for this push: the branch's tip there, or (a new branch, or
    a tip not fetched here) every branch of the remote that this clone knows."""
    if ref.remote_sha != ZERO and git.rev_parse(f"{ref.remote_sha}^{{commit}}"):
        return [ref.remote_sha]
    return _remote_tips(remote)


def _remote_tips(remote: str) -> list[str]:
    return git.text(["for-each-ref", "--format=%(objectname)", f"refs/remotes/{remote}/"]).split()


def run(args: Sequence[str], environ: Mapping[str, str], stdin_text: str) -> int:
    if skip_requested(environ):
        return 0
    remote = args[0] if args else environ.get("PRE_COMMIT_REMOTE_NAME", "origin")
    branches = [r for r in parse_push(stdin_text, environ)
                if r.local_sha != ZERO and r.remote_ref.startswith("refs/heads/")]
    if not branches:
        return 0  # deletions, tags and notes (sync's own push) pass untouched
    current = source.load_at("HEAD")
    if current is None:
        return 0  # this repository has not adopted a policy
    patterns = protected_patterns(remote, current.protected_branches)
    status = 0
    for ref in branches:
        branch = ref.remote_ref.removeprefix("refs/heads/")
        protected = any(fnmatch.fnmatchcase(branch, p) for p in patterns)
        status |= _gate(ref, remote, branch, protected)
    return status


def _gate(ref: PushedRef, remote: str, branch: str, protected: bool) -> int:
    from provenance.audit import incoming, trust

    held = have(ref, remote)
    try:
        if not incoming.adds(ref.local_sha, held):
            return 0
        result = incoming.judge_push(ref.local_sha, held)
    except ProvenanceError as e:
        print(f"git-provenance: cannot audit the push to {branch}: {e}", file=sys.stderr)
        return 1 if protected else 0
    if result.trust_root_recorded and result.trust_root:
        print(f"git-provenance: trust root {result.trust_root[:12]}, the first commit holding "
              f"the policy, trusted on first use and {trust.RECORDED}", file=sys.stderr)
    failing = [j for j in result.judgements if j.violations]
    if not failing:
        return 0
    from provenance.audit import report  # a landing's explanation: only when something fails

    word = "stopped" if protected else "warning"
    print(f"git-provenance: push to {branch} {word}: {len(failing)} commit(s) fail the audit",
          file=sys.stderr)
    for j in failing:
        for v in j.violations:
            print(f"  {j.commit[:12]} {v.code}: {v.message}", file=sys.stderr)
        for line in report.landing_lines(j):  # a landing's source commits, or the fetch to try
            print(f"  {j.commit[:12]} {line}", file=sys.stderr)
    if not protected:
        print(f"  ({branch} is not a protected branch: pushed anyway; the audit will flag these)",
              file=sys.stderr)
        return 0
    print("to fix it, run:", file=sys.stderr)
    review = _review_push(ref, remote, failing)
    for line in fix_commands(failing, remote, branch, review):
        print(f"  {line}", file=sys.stderr)
    print("PROVENANCE_SKIP=1 bypasses this gate; the audit in CI will not.", file=sys.stderr)
    return 1


def _review_push(ref: PushedRef, remote: str, failing: Sequence[Judgement]) -> str | None:
    """The push that shares the failing commits the remote does not have yet, so that seniors
    can review and co-sign them (issue 16 item 8); None when every one is there already."""
    needing = [j.commit for j in failing
               if any(v.fix.startswith("git provenance cosign ") for v in j.violations)]
    tips = _remote_tips(remote)
    if not needing or not git.text(["rev-list", "-n1", "--end-of-options", *needing,
                                    *(f"^{t}" for t in tips), "--"], pinned=True):
        return None
    name = ref.local_ref.removeprefix("refs/heads/")
    if not ref.local_ref.startswith("refs/heads/") or not name:
        name = ref.local_sha[:12]  # a detached HEAD or a commit id pushed: name it by its id
    return f"git push {remote} {name}:refs/heads/review/{name}"


def fix_commands(failing: Sequence[Judgement], remote: str, branch: str,
                 review: str | None = None) -> list[str]:
    """The exact commands, in order, that make the push pass: sharing the commits for review when
    only this clone has them (`review`), each violation's fix (de-duplicated), publishing the
    notes they create, then fetching them here and pushing again."""
    fixes = dict.fromkeys(v.fix for j in failing for v in j.violations)
    rows = [(review, "", " first: share the commits for review (only this clone has them)")
            ] if review else []
    rows += [f.partition("   #") for f in fixes]
    rows.append((f"git provenance sync {remote}", "", " by each of them: publish the notes"))
    rows.append((f"git provenance sync {remote}", "", f" here, then push to {branch} again"))
    width = max(len(cmd) for cmd, _, _ in rows)
    return [f"{cmd:<{width}}   #{why}" if why else cmd for cmd, _, why in rows]
