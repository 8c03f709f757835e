"""Walk history once (parents before children), keep the policy chain, judge every commit.

The only module that knows about history order: which policy is in force at each commit, which
notes and merge co-signs reach it, and which keys are revoked across the whole walk.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from provenance.audit import boundary, cache, forks, trust
from provenance.audit import covers as covers_module  # RECENT, read at run time (tests set it)
from provenance.audit import stream as stream_module  # CHUNK, read at run time (tests set it)
from provenance.audit.chain import PolicyChain, settle
from provenance.audit.judge import judge
from provenance.audit.landings import Landings
from provenance.audit.notes import Index, index, matched, read_all, read_gone
from provenance.audit.records import CommitRecord, CoverApproval, Judgement, NoteAttestation
from provenance.audit.scan import Unordered, scan_stream
from provenance.audit.spool import Encoded, Judgements, encoded, missing_cosign
from provenance.audit.stream import (
    NULL_OID,
    UNKNOWN,
    CacheMiss,
    cached_stream,
    light_row,
    light_stream,
    log_stream,
    walk_order,
)
from provenance.audit.verdicts import Verdicts, ident
from provenance.errors import ProvenanceError
from provenance.git import git, notes
from provenance.policy.coverage import UnmatchedGlob
from provenance.policy.schema import POLICY_FILE
from provenance.ssh.sshsig import PublicKey, use_libsodium


@dataclass(frozen=True)
class AuditResult:
    range: str
    trust_root: str | None
    trust_root_source: str  # how the trust root was chosen, said in every report
    policy: str  # where the starting policy came from
    judgements: Sequence[Judgement]  # a spool.Judgements: on disk past a limit
    notes_ref_exists: bool
    revoked: frozenset[PublicKey] = frozenset()  # every key revoked in the walk (it only grows)
    trust_root_recorded: bool = False  # a default trust root this audit recorded (first use)
    warnings: tuple[UnmatchedGlob, ...] = ()  # set by audit/run.py: the walk never looks at them


@dataclass(frozen=True)
class WalkContext:
    """What every walk of one audit shares; a walk that finds new revocations runs again with
    `revoked` grown (`dataclasses.replace`)."""

    root: str | None  # the trust root (None: --policy FILE without one)
    chain: PolicyChain  # rooted at the trust root's policy (or the external policy file)
    root_ident: str  # its identity in verdict keys: blob id or file hash, and source name
    external: bool  # --policy FILE: one policy for the whole walk, no policy chain
    revoked: frozenset[PublicKey]
    notes: Sequence[NoteAttestation]  # every attestation in refs/notes/provenance
    cwd: str | Path | None
    progress: Callable[[int], None] | None
    db: cache.Cache | None  # None: --no-cache, or a cache that cannot be used
    # A range's parents outside it -> their node in `chain` (audit/boundary.py); others: the root.
    outside: Mapping[str, int] = field(default_factory=dict)
    keep_rows: bool = True  # a walk in full stores its light rows (replacing another range's)
    notes_index: tuple[Index, Index] | None = None  # index(notes), made once for the boundary too


# ---- the walk ------------------------------------------------------------------------------------


def _walk_once(
    stream: Iterable[CommitRecord], ctx: WalkContext, verdicts: Verdicts | None = None, *,
    branching: dict[str, int] | None = None, rows: cache.LightRows | None = None,
    in_order: bool = True, states: dict[str, int] | None = None,
    watch: forks.Watch | None = None,
) -> tuple[Judgements, PolicyChain]:
    """Judge `stream`, or take cached verdicts; a light record (`CommitRecord.light`: from the
    cache, no message) raises CacheMiss when its verdict is not cached.

    With `branching` (`WalkOrder.branching`, emptied as the walk goes) a commit's policy state is
    forgotten once its last child is judged, so the walk's memory does not grow with history.
    `rows` receives the light rows of a walk that has every digest. A walk under an `external`
    policy has no policy chain: its stream may come in any order (not `in_order`). `states`, when
    given, receives each commit's node in the chain (the tests compare it with audit/boundary.py).
    `watch` follows the audited tip's mainline for the landings of old forks (audit/forks.py)."""
    # Locals, not attributes: the loop below runs once a commit.
    external, revoked, cwd, progress = ctx.external, ctx.revoked, ctx.cwd, ctx.progress
    by_digest, by_commit = ctx.notes_index or index(ctx.notes)
    chain = ctx.chain.copy()
    policies, blobs = chain.policies, chain.blobs  # grow as the chain adopts
    outside = ctx.outside  # the policy in force at parents outside the range (audit/boundary.py)
    # commit -> its node in `chain`: the policy in force after it
    effective: dict[str, int] = {} if states is None else states
    judgements = Judgements()
    pending: defaultdict[str, list[covers_module.Pending]] = defaultdict(list)  # digest -> waiting
    covered: dict[str, list[CoverApproval]] = defaultdict(list)
    blob_at: dict[str, str | None] = {}  # commit -> its policy blob, known from the patch stream
    idents = {0: ident(ctx.root_ident)}  # policy index -> its identity in verdict keys
    recent = covers_module.Recent(covers_module.RECENT)
    track = forks.Forks() if watch is not None and in_order and not external else None
    on_main = False
    # Commits that fail on their own may be forges' landings (audit/landings.py); a scan's order
    # has no policy chain for them.
    landed = Landings((by_digest, by_commit), revoked, verdicts, cwd) if in_order else None
    with git.object_lookup(cwd) as lookup:

        def blob_of(sha: str) -> str | None:
            if not in_order:  # only merges ask: their parents come later, if at all
                return lookup(f"{sha}:{POLICY_FILE}")
            if sha not in blob_at:
                blob_at[sha] = lookup(f"{sha}:{POLICY_FILE}")
            return blob_at[sha]

        for n, raw in enumerate(stream):
            ids = raw.policy_ids  # when the diff names the policy file: first parent's id, new id
            if ids is not None:
                old_blob, new_blob = _blob(ids[0]), _blob(ids[-1])
            elif len(raw.parents) > 1:
                old_blob = blob_of(raw.parents[0])
                if len({blob_of(p) for p in raw.parents}) == 1:
                    new_blob = old_blob  # --cc shows every change to a file all parents agree on
                else:  # a merge of differing policies: ask git
                    new_blob = lookup(f"{raw.sha}:{POLICY_FILE}")
            else:  # unchanged; out of order its parent is not known yet, and nothing needs it
                old_blob = new_blob = blob_of(raw.parents[0]) if raw.parents and in_order else None
            base = effective.get(raw.parents[0], -1) if raw.parents and in_order else 0
            if base < 0:
                base = outside.get(raw.parents[0], 0)
            if watch is not None:
                on_main = watch.on_mainline(raw)
                if track is not None:
                    track.see(raw, base, on_main)
            if in_order:
                blob_at[raw.sha] = new_blob
            policy_blob = None if new_blob == old_blob else (new_blob or NULL_OID)
            authorized: bool | None = True if external and policy_blob is not None else None
            inherited = None
            if policy_blob is not None and not external:
                inherited = chain.fast_forward(base, policy_blob, (
                    effective[q] if q in effective else outside.get(q, 0) for q in raw.parents[1:]))
                if inherited is not None:
                    authorized = True
            key = b""
            hit = None
            if verdicts is not None:
                if base not in idents:
                    idents[base] = ident(f"{blobs[base]}\0{policies[base].source}")
                key = verdicts.key(raw.sha, raw.digest, idents[base], policy_blob, str(authorized))
                hit = verdicts.db.verdict(raw.sha, key)
            record: CommitRecord | None = None
            found: list[NoteAttestation] = []
            j: Judgement | Encoded  # a cached verdict stays encoded (spool.Encoded)
            if hit is not None:
                j, covers = hit
            elif raw.light:
                raise CacheMiss
            if not raw.light:
                if by_commit:  # a history without notes skips the look-ups
                    found = matched(raw.sha, raw.digest, by_digest, by_commit)
                if hit is None:
                    covers = (covers_module.brought_in(raw, recent, cwd)
                              if len(raw.parents) > 1 and covers_module.has_cosign(raw, found) else ())
                # Copied only when history adds to it: most commits go to the judge as streamed.
                record = (raw if policy_blob is None and not covers
                          else raw._replace(policy_blob=policy_blob, covers=covers))
            if hit is None:
                assert record is not None
                j = judge(record, policies[base], found, revoked, policy_change_authorized=authorized)
                if verdicts is not None:  # encoded once: for the cache and for the spool
                    j = encoded(j)
                    verdicts.db.put_verdict(raw.sha, key, j, covers)
            after = base
            if j.policy_authorized and not external:
                after, j = settle(chain, base, new_blob, inherited, j, raw.sha, cwd)
            if in_order:
                effective[raw.sha] = after
            if not raw.light and raw.digest != UNKNOWN:
                recent.add(raw.sha, raw.digest)
            if missing_cosign(j):
                pending[raw.digest].append(covers_module.Pending(
                    len(judgements), raw.sha, not raw.light, policy_blob, covers,
                    policies[base], found, authorized, key))
            for approval in j.cover_approvals:
                for d in covers:
                    covered[d].append(approval)
            if landed is not None and (j.violations or len(raw.parents) > 1):
                landed.saw(raw, j, policies[base], key, len(judgements))
            judgements.append(j)
            if progress is not None and not raw.light:
                progress(n + 1)
            if rows is not None:
                if raw.digest == UNKNOWN:  # a scan: nothing a warm audit could use
                    rows.close(complete=False)
                    rows = None
                else:
                    # Without counts, one child: a light walk that forgets a commit too early
                    # misses its verdict keys and walks in full; it never judges by the wrong policy.
                    rows.add(light_row(raw, 1 if branching is None else branching.get(raw.sha, 1),
                                       on_main))
            if branching is not None:
                for parent in raw.parents:
                    left = branching.pop(parent, 1) - 1
                    if left > 0:
                        branching[parent] = left
                    else:  # its last child: nothing will ask for it again
                        effective.pop(parent, None)
                        blob_at.pop(parent, None)
                        if track is not None:
                            track.forget(parent)
    covers_module.lift(judgements, pending, covered, revoked, verdicts, cwd,
                       newest_first=not in_order)
    if track is not None and track.landings:  # before `rows` replace those it finds them in
        assert watch is not None
        forks.judge_landings(judgements, track.landings, watch.excluded, watch.positions, chain,
                             (by_digest, by_commit), revoked, covered, cwd)
    if rows is not None:
        rows.close(complete=True)
    if landed is not None:
        landed.finish(judgements)
    if progress is not None:
        progress(len(judgements))
    return judgements, chain


def _blob(oid: str) -> str | None:
    return None if oid.strip("0") == "" else oid


def _walk(revs: Sequence[str], ctx: WalkContext) -> tuple[Judgements, PolicyChain]:
    """One walk: from cached verdicts alone when they answer every commit, else in full."""
    cwd, db = ctx.cwd, ctx.db
    if ctx.external and not ctx.notes:  # a scan: no policy chain, no digests, git's own order
        # No verdict cache: judging an unsigned commit (~6 us) is cheaper than looking up its
        # verdict, and storing them made a first scan of 100k commits 2.7 s -> 7.9 s (66 MB).
        # The cache still gives signed commits their facts and signatures their checks.
        try:
            judgements, chain = _walk_once(scan_stream(revs, cwd, db), ctx, in_order=False)
        except Unordered:  # equal or skewed dates: git's order put a parent before a child
            judgements, chain = _walk_once(scan_stream(revs, cwd, db, topo=True), ctx,
                                           in_order=False)
        judgements.reverse()  # oldest first, as `git log --reverse` lists them
        return judgements, chain
    if db is None:
        order = walk_order(revs, cwd)
        return _walk_once(log_stream(revs, cwd, order.ids), ctx, branching=order.branching,
                          watch=forks.watch_order(git.resolve_revs(revs, cwd=cwd), order.ids, cwd))
    verdicts = _verdicts(db, ctx)
    key, resolved = db.range_key(revs, cwd)
    rows = db.light_rows(key)
    if rows is not None:
        branching: dict[str, int] = {}
        try:
            return _walk_once(light_stream(rows, db, branching), ctx, verdicts, branching=branching,
                              watch=forks.watch_rows(resolved, lambda: _stored_ids(db, key)))
        except CacheMiss:
            pass
    elif ctx.keep_rows:
        grown = _grown_walk(resolved, key, ctx, verdicts)
        if grown is not None:
            return grown
    order = walk_order(revs, cwd)
    return _walk_once(cached_stream(revs, cwd, db, order.ids), ctx, verdicts,
                      branching=order.branching,
                      rows=db.light_writer(key, resolved, stream_module.CHUNK) if ctx.keep_rows
                      else None,
                      watch=forks.watch_order(resolved, order.ids, cwd))


def _stored_ids(db: cache.Cache, key: bytes) -> Iterator[str]:
    """The ids of a range's light rows, in walk order."""
    stored = db.light_rows(key)
    for lines in stored[1] if stored is not None else ():
        for line in lines:
            yield line.split(" ", 1)[0]


def _verdicts(db: cache.Cache, ctx: WalkContext) -> Verdicts:
    """The walk's verdict cache, keyed by the notes, the trust root and policy, and revocations."""
    gone = ident(json.dumps(sorted(k.openssh() for k in ctx.revoked)))
    return Verdicts(db, db.verdict_key(db.epoch(ctx.notes),
                                       "\0".join([str(ctx.root), ident(ctx.root_ident), gone])))


def _grown_walk(resolved: Sequence[str], key: bytes, ctx: WalkContext, verdicts: Verdicts
                ) -> tuple[Judgements, PolicyChain] | None:
    """The range stored last, from its light rows, then the commits added since, in full.

    For a range that grew from the one walked last (the same exclusions, the old tip an ancestor
    of the new): a re-audit after new commits, as before every push. Parents come before
    children: no old commit descends from a new one. The children a new commit gives an old one
    are added to the old one's count, so its policy state is still there when the new child comes.
    None when the stored range does not fit, or a cached verdict is missing."""
    cwd, db = ctx.cwd, verdicts.db
    previous = db.previous_range(cwd)
    if previous is None or len(resolved) < 1 or resolved[0].startswith("^"):
        return None
    (old_tip, *old_excluded), rows = previous
    tip, *excluded = resolved
    if sorted(old_excluded) != sorted(excluded):
        return None
    try:  # nothing of the old tip outside the new range: it is an ancestor (gone: not a fit)
        if git.text(["rev-list", "--count", old_tip, f"^{tip}", "--"], cwd=cwd, pinned=True) != "0":
            return None
        listing = git.text([*git.BOUNDED_MEMORY_CONFIG, "rev-list", "--topo-order", "--reverse",
                            "--parents", "--end-of-options", tip, f"^{old_tip}", *excluded, "--"],
                           cwd=cwd, pinned=True).split("\n")
    except ProvenanceError:
        return None
    added = [line.split() for line in listing if line]
    children = Counter(p for _, *parents in added for p in parents)
    branching = {sha: n for sha, n in children.items() if n != 1}  # old ones are re-counted
    ids = "".join(sha + "\n" for sha, *_ in added).encode()
    old_key = db.key_of_range([old_tip, *old_excluded], cwd)
    watch = forks.watch_rows(resolved, lambda: _stored_ids(db, old_key), added, old_tip)
    if watch is None:
        return None
    stream = itertools.chain(light_stream(rows, db, branching, children),
                             cached_stream((), cwd, db, ids))
    try:
        return _walk_once(stream, ctx, verdicts, branching=branching,
                          rows=db.light_writer(key, resolved, stream_module.CHUNK), watch=watch)
    except CacheMiss:
        return None


def audit(
    range_: str | None, trust_root: str | None, policy_file: str | None,
    cwd: str | Path | None = None, progress: Callable[[int], None] | None = None,
    *, use_cache: bool = True, exclude: Sequence[str] = (), notes_tip: str | None = None,
    keep_rows: bool = True,
) -> AuditResult:
    """Walk and judge `RANGE ^EXCLUDE... ^TRUST_ROOT`; revocations found on the way re-run the walk.

    With `use_cache`, what never changes for a commit comes from the cache in the git common dir
    (audit/cache.py): a second audit reads no patches and checks no signature twice. `notes_tip`
    reads the notes of that notes commit instead of the ref's; without `keep_rows` the walk does
    not replace the light rows a full audit keeps (audit/incoming.py, for a push)."""
    git.git_dir(cwd)  # "not a git repository" before anything else
    trust.refuse_partial_clone(cwd)
    if range_ is None and git.rev_parse("HEAD", cwd=cwd) is None:
        raise ProvenanceError("HEAD names no commit: nothing to audit")
    common = git.common_dir(cwd)
    # An audit that stops before its walk writes nothing: the cache is created only for the walk.
    db = cache.open_cache(common) if use_cache and (common / cache.FILE_NAME).exists() else None
    try:
        tip = range_ or "HEAD"
        tips = [r for r in git.resolve_revs([tip], cwd=cwd) if not r.startswith("^")]
        found = trust.trust_root_of(trust_root, policy_file, cwd, db, tips)
        root, head = found.sha, found.head
        root_policy, root_blob, root_ident, described = trust.root_policy(root, policy_file, cwd)
        if found.first_use:
            found = trust.record(found, cwd)
        revs = [tip, *(f"^{x}" for x in exclude)] + ([f"^{root}"] if root else [])
        # A range's parents outside it take the policy in force there (audit/boundary.py).
        edge = boundary.boundary_of(revs, root, cwd) if root and not policy_file else []
        trust.refuse_shallow_boundary([*revs, *edge], cwd)
        notes_tip = notes_tip or notes.tip(cwd)  # resolved once: read_all, read_gone, the report
        if use_cache and db is None:  # before the notes: their parse is kept for the next audit
            db = cache.open_cache(common)
        all_notes = read_all(cwd, notes_tip, db)
        all_notes += read_gone(all_notes, cwd, db, notes_tip)  # a yes once attested stays yes
        if db is not None and root is not None and head is not None:
            db.remember(root, "trust-root", head)
            trust.remember_verified(db, root, head)  # the default was found on head's chain
        use_libsodium()  # ~0.55x the time of OpenSSL's Ed25519 check (ssh/sodium.py)
        ctx = WalkContext(root, PolicyChain.rooted(root_policy, root_blob), root_ident,
                          policy_file is not None, frozenset(r.key for r in root_policy.revoked),
                          all_notes, cwd, progress, db, keep_rows=keep_rows,
                          notes_index=(indexed := index(all_notes)))
        rooted, found_notes = ctx.chain, boundary.Notes(*indexed)
        with cache.memoised(db):
            while True:
                gone = frozenset[PublicKey]()
                if (edge or exclude) and root:  # with `tips`: the next push's boundary
                    out = boundary.outside(rooted, root, edge, ctx.revoked, found_notes, cwd, db, tips)
                    ctx, gone = replace(ctx, chain=out.chain, outside=out.states), out.revoked
                judgements, chain = _walk(revs, ctx)
                grown = ctx.revoked | chain.revoked() | gone
                if grown == ctx.revoked:
                    break
                ctx = replace(ctx, revoked=frozenset(grown))
    finally:
        if db is not None:
            db.close()
    return AuditResult(
        range=" ".join(revs), trust_root=root, trust_root_source=found.how, policy=described,
        judgements=judgements, notes_ref_exists=notes_tip is not None,
        revoked=ctx.revoked,
        trust_root_recorded=found.first_use,
    )
