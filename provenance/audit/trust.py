"""Where an audit starts: the trust root, the policy in force there, and the shallow-clone check."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from provenance.audit import cache, whole_history
from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.git.history import changed_path_filters
from provenance.policy import schema
from provenance.policy.schema import POLICY_FILE, Policy


def _commit(rev: str, what: str, cwd: str | Path | None) -> str:
    sha = git.rev_parse(f"{rev}^{{commit}}", cwd=cwd)
    if sha is None:
        raise ProvenanceError(f"{what} {rev!r} does not name a commit in this repository")
    return sha


# The default trust root is trusted on first use (DESIGN §4): the audit or gate that picks it records
# it as provenance.trustRoot, and marks it as recorded on first use so that later runs check that
# the history still starts there. A root the user pinned (any other value) is never second-guessed.
FIRST_USE_KEY = "provenance.firstUseTrustRoot"
RECORDED = "recorded in git config provenance.trustRoot"
_DEFAULT = (f"default, trusted on first use and {RECORDED}: the earliest commit on HEAD's "
            f"first-parent chain holding {POLICY_FILE} (pin one with --trust-root)")
_NONE = "none: --policy FILE given, every commit reachable from the tip is judged"
_VERIFIED = "first-parent-verified"  # memo: commits whose first-parent chain passes the root
_KEEP_VERIFIED = 64


class TrustRoot(NamedTuple):
    sha: str | None  # None: --policy FILE without a trust root
    how: str  # how it was chosen, said in every report
    head: str | None = None  # the HEAD a default was found for, when the cache did not know it
    first_use: bool = False  # a default that `record` should record


def trust_root_of(
    trust_root: str | None, policy_file: str | None, cwd: str | Path | None,
    db: cache.Cache | None, tips: Sequence[str] = (),
) -> TrustRoot:
    """The trust root and how it was chosen. A root recorded on first use must be on the
    first-parent chain of each of `tips` (the commits audited; HEAD when none): a history whose
    default moved is refused."""
    if trust_root:
        return TrustRoot(_commit(trust_root, "--trust-root", cwd), "pinned with --trust-root")
    keys = _config(r"^provenance\.(trustroot|firstusetrustroot)$", cwd)
    configured = keys.get("provenance.trustroot")
    if configured:
        sha = _commit(configured, "provenance.trustRoot", cwd)
        if keys.get(FIRST_USE_KEY.lower()) != sha:
            return TrustRoot(sha, "pinned by git config provenance.trustRoot")
        if policy_file:  # a default, which --policy FILE never takes
            return TrustRoot(None, _NONE)
        for tip in tips or [_commit("HEAD", "HEAD", cwd)]:
            if not _on_first_parent_chain(sha, tip, cwd, db):
                _refuse_moved(sha, tip, cwd)
        return TrustRoot(sha, _DEFAULT)
    if policy_file:
        return TrustRoot(None, _NONE)
    if git.is_shallow(cwd):
        raise ProvenanceError(
            "shallow clone: the default trust root would be an arbitrary cut-off; pass "
            "--trust-root REV or --policy FILE, or fetch everything (git fetch --unshallow)")
    head = git.rev_parse("HEAD", cwd=cwd)
    if head is None:
        raise ProvenanceError("HEAD names no commit: nothing to audit")
    root = db.recall("trust-root", head) if db is not None else None
    found = root or _default_root(head, cwd)
    return TrustRoot(found, _DEFAULT, None if root else head, first_use=True)


def record(root: TrustRoot, cwd: str | Path | None) -> TrustRoot:
    """Record a default trust root on its first use (`root.how` says so: the same words as on
    every later use); a read-only checkout trusts it for this run only, and says that instead."""
    assert root.sha is not None
    try:
        git.config_set("provenance.trustRoot", root.sha, cwd=cwd)
        git.config_set(FIRST_USE_KEY, root.sha, cwd=cwd)
    except ProvenanceError as e:
        return root._replace(how=root.how.replace(RECORDED, f"not recorded ({e})"),
                             first_use=False)
    return root


def _on_first_parent_chain(root: str, tip: str, cwd: str | Path | None,
                           db: cache.Cache | None) -> bool:
    """Whether `root` is on `tip`'s first-parent chain (`tip` itself, or an ancestor of `root`:
    nothing to judge). The chain is read down to a commit verified before (`db` keeps the last
    few), or to where it meets the root's history."""
    if tip == root:
        return True
    known = (db.recall(_VERIFIED, root) or "").split() if db is not None else []
    if tip in known:
        return True
    ok, last = False, None
    for line in git.stream([*git.BOUNDED_MEMORY_CONFIG, "rev-list", "--first-parent", "--parents",
                            tip, f"^{root}", "--"], cwd=cwd, pinned=True):
        sha, *parents = line.decode().split()
        if sha in known:
            ok = True
            break
        last = parents
    else:  # the chain leaves what the audit judges at the root itself, or judges nothing
        ok = last is None or last[:1] == [root]
    if ok and db is not None:
        remember_verified(db, root, tip, known)
    return ok


def remember_verified(db: cache.Cache, root: str, tip: str, known: list[str] | None = None) -> None:
    """Keep `tip` among the commits whose first-parent chain passes through `root` (`known`:
    those kept already, when the caller has read them): the next check of a descendant stops
    there instead of reading the chain down to the root."""
    if known is None:
        known = (db.recall(_VERIFIED, root) or "").split()
    if tip not in known:
        db.remember(" ".join([tip, *known][:_KEEP_VERIFIED]), _VERIFIED, root)


def _refuse_moved(root: str, tip: str, cwd: str | Path | None) -> None:
    try:
        new: str | None = _default_root(tip, cwd)
        where = f"its own default would be {new[:12] if new else ''}"
    except ProvenanceError:
        new, where = None, f"it has no {POLICY_FILE} of its own"
    raise ProvenanceError(
        f"the trust root moved: git config provenance.trustRoot holds {root[:12]}, trusted on first "
        f"use, but the first-parent chain of {tip[:12]} does not pass through it ({where}); a "
        "history whose policy starts elsewhere (an orphan policy merged in as first parent?) is "
        f"not trusted. If it is meant to, pin it: git config provenance.trustRoot "
        f"{new or 'REV'} (or audit with --trust-root REV)")


def _default_root(head: str, cwd: str | Path | None) -> str:
    """A function of `head` alone, asked in the neutral git dir (no replace refs or grafts): read
    from the walk of its whole history that the boundary's policy history then uses too
    (audit/whole_history.py), or, where changed-path filters make it cheap, from its own."""
    found = (_first_parent_root(head, cwd) if changed_path_filters(cwd)
             else whole_history.default_root(head, cwd))
    if found is not None:
        return found
    raise ProvenanceError(
        f"no {POLICY_FILE} on HEAD's first-parent chain: add one (git provenance init) or scan "
        "with --policy FILE")


def _first_parent_root(head: str, cwd: str | Path | None) -> str | None:
    changed = git.text([*git.BOUNDED_MEMORY_CONFIG, "rev-list", "--first-parent", head, "--",
                        POLICY_FILE], cwd=cwd, pinned=True).split()
    for sha in reversed(changed):
        if git.run(["rev-parse", "-q", "--verify", f"{sha}:{POLICY_FILE}"], cwd=cwd, pinned=True,
                   check=False).strip():
            return sha
    return None


def root_policy(
    root: str | None, policy_file: str | None, cwd: str | Path | None
) -> tuple[Policy, str | None, str, str]:
    """(policy, its blob id or None when external, its identity for verdict keys, a description)."""
    if policy_file:
        try:
            external = Path(policy_file).read_bytes()
        except OSError as e:
            raise ProvenanceError(f"{policy_file}: cannot read policy: {e.strerror or e}") from None
        loaded = schema.load_text(external, policy_file)
        ident = f"sha256:{hashlib.sha256(external).hexdigest()}\0{loaded.source}"
        return loaded, None, ident, f"{policy_file} (--policy)"
    assert root is not None
    found = git.blob_at(root, POLICY_FILE, cwd=cwd)
    if found is None:
        raise ProvenanceError(
            f"the trust root {root[:12]} holds no {POLICY_FILE}: choose another or pass --policy")
    blob, data = found
    loaded = schema.load_text(data, f"{POLICY_FILE} at {root[:12]}")
    return loaded, blob, f"{blob}\0{loaded.source}", f"{POLICY_FILE} at {root}"


def refuse_partial_clone(cwd: str | Path | None) -> None:
    """A partial clone lacks the contents (blob:none) or trees (tree:0) that every change digest
    and policy read needs; git would fetch them one by one, or fail with "unable to read". Refuse
    up front, as for a shallow clone, and say what makes the clone whole."""
    keys = _config(r"^(remote\..*\.partialclonefilter|extensions\.partialclone)$", cwd)
    filters = [(key, spec) for key, spec in keys.items() if key.startswith("remote.")]
    legacy = keys.get("extensions.partialclone")
    if not filters and not legacy:
        return
    if filters:
        key, spec = filters[0]
        remote = key.removeprefix("remote.").rsplit(".", 1)[0]
    else:
        remote, spec = legacy or "origin", "a filter"
    raise ProvenanceError(
        f"partial clone (remote {remote!r} filters {spec}): the audit reads every change's "
        f"content, which this clone has not fetched; make it whole (git config --unset "
        f"remote.{remote}.partialclonefilter && git fetch --refetch {remote}) or audit a full clone")


def refuse_shallow_boundary(revs: Sequence[str], cwd: str | Path | None) -> None:
    """A commit whose parents a shallow clone lacks cannot be judged: its change is unknown.

    Judging it against the empty tree would call its signatures forged; refuse instead.
    """
    shallow_file = git.common_dir(cwd) / "shallow"
    if not shallow_file.exists():
        return
    boundary = set(shallow_file.read_text().split())
    in_range = boundary & set(git.text(["rev-list", *git.resolve_revs(revs, cwd=cwd)], cwd=cwd).split())
    if in_range:
        first = sorted(in_range)[0]
        raise ProvenanceError(
            f"shallow clone: the parents of {first[:12]} are missing, so its change cannot be judged; "
            f"fetch more history (git fetch --unshallow) or pass --trust-root {first[:12]} or later"
        )


def _config(pattern: str, cwd: str | Path | None) -> dict[str, str]:
    """The config keys `pattern` finds (names lower-cased, but a subsection's) and their values,
    the last one of a key as `git config --get` gives it: one process for several keys."""
    out = git.run(["config", "-z", "--get-regexp", pattern], cwd=cwd, check=False)
    entries = out.decode("utf-8", "surrogateescape").split("\0")
    return {key: value for key, _, value in (e.partition("\n") for e in entries if e)}
