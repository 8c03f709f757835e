"""Stream history once (parents before children), keep the policy chain, judge every commit.

The only module that knows about history order: which policy is in force at each commit, which
notes and merge co-signs reach it, and which keys are revoked across the whole walk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from provenance import cache, digest, git, notes, policy, trailers
from provenance.audit.judge import judge
from provenance.audit.records import (
    CommitRecord,
    CoverApproval,
    Judgement,
    NoteAttestation,
    Violation,
)
from provenance.errors import ProvenanceError
from provenance.policy import POLICY_FILE, Policy
from provenance.sshsig import PublicKey
from provenance.statement import KEY_SIGNATURE

_START = b"\x00\x00C "
_END = b"\x00END\x00\n"
# NUL never occurs in names or messages; the end marker sits on a line of its own (the `%n`).
LOG_FORMAT = "%x00%x00C %H%x00%P%x00%an%x00%ae%x00%cn%x00%ce%x00%at%x00%B%n%x00END%x00"
NULL_OID = "0" * 40


@dataclass(frozen=True)
class RawCommit:
    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    committer_name: str
    committer_email: str
    author_time: int
    message: str
    digest: str
    paths: tuple[str, ...]
    policy_ids: tuple[str, ...] | None = None  # the policy file's `index` ids when the patch shows it
    trailers: tuple[tuple[str, str], ...] | None = None  # parsed, when they came from the cache


@dataclass(frozen=True)
class AuditResult:
    range: str
    trust_root: str | None
    trust_root_source: str  # how the trust root was chosen, said in every report
    policy: str  # where the starting policy came from
    judgements: tuple[Judgement, ...]
    notes_ref_exists: bool


def _unquote(data: bytes) -> tuple[bytes, bytes]:
    """Decode one C-quoted string at the start of `data` (git's quote_c_style); return the rest."""
    simple = {b"a": 7, b"b": 8, b"t": 9, b"n": 10, b"v": 11, b"f": 12, b"r": 13, b'"': 34,
              b"\\": 92}
    out = bytearray()
    i = 1
    while i < len(data):
        c = data[i:i + 1]
        if c == b'"':
            return bytes(out), data[i + 1:]
        if c == b"\\":
            nxt = data[i + 1:i + 2]
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            out.append(int(data[i + 1:i + 4], 8) & 0xFF)
            i += 4
            continue
        out += c
        i += 1
    return bytes(out), b""


def path_of_header(line: bytes) -> str | None:
    """The path a `diff --git` / `diff --cc` / `diff --combined` header names."""
    text = line.rstrip(b"\n")
    if text.startswith(b"diff --git "):
        rest = text[len(b"diff --git "):]
        if rest.startswith(b'"'):
            raw = _unquote(rest)[0][2:]
        else:
            # No renames: "a/P b/P", both halves the same path.
            raw = rest[2:2 + (len(rest) - 5) // 2]
    elif text.startswith((b"diff --cc ", b"diff --combined ")):
        rest = text.split(b" ", 2)[2]
        raw = _unquote(rest)[0] if rest.startswith(b'"') else rest
    else:
        return None
    return raw.decode("utf-8", "surrogateescape")


def _patch_lines(it: Iterator[bytes], holder: list[bytes | None], paths: list[str],
                 policy_ids: list[tuple[str, ...]]) -> Iterator[bytes]:
    """Lines of one commit's patch, from holder[0] up to the next commit; leave that in holder."""
    cur = holder[0]
    in_policy = False
    while cur is not None and not cur.startswith(_START):
        if cur.startswith(b"diff --"):
            path = path_of_header(cur)
            in_policy = path == POLICY_FILE
            if path is not None:
                paths.append(path)
        elif in_policy and cur.startswith(b"index "):
            # "index OLD..NEW [mode]", or "index P1,P2..NEW" for a combined diff
            old, _, new = cur.split()[1].decode().partition("..")
            policy_ids.append((*old.split(","), new))
            in_policy = False
        yield cur
        cur = next(it, None)
    holder[0] = cur


def parse_log(lines: Iterable[bytes]) -> Iterator[RawCommit]:
    """Split the `LOG_FORMAT` + patch stream into commits, digesting each patch as it streams by."""
    it = iter(lines)
    line = next(it, None)
    while line is not None:
        if not line.startswith(_START):
            line = next(it, None)
            continue
        head = [line[len(_START):]]
        while (line := next(it, None)) is not None and line != _END:
            head.append(line)
        fields = b"".join(head).split(b"\x00", 7)
        if len(fields) != 8:
            raise ProvenanceError("unexpected output from git log (commit header)")
        line = next(it, None)
        if line == b"\n":
            line = next(it, None)
        paths: list[str] = []
        policy_ids: list[tuple[str, ...]] = []
        holder = [line]
        change = digest.digest_of_patch(_patch_lines(it, holder, paths, policy_ids))
        line = holder[0]
        dec = [f.decode("utf-8", "surrogateescape") for f in fields]
        yield RawCommit(
            sha=dec[0], parents=tuple(dec[1].split()), author_name=dec[2], author_email=dec[3],
            committer_name=dec[4], committer_email=dec[5],
            author_time=int(dec[6]) if dec[6].isdigit() else 0,
            message=dec[7].removesuffix("\n"), digest=change, paths=tuple(paths),
            policy_ids=policy_ids[0] if policy_ids else None,
        )


def _log_config() -> list[str]:
    # `git log` (unlike diff-tree) reads diff.orderFile and rejects the empty value that pins it
    # for plumbing; an empty order file given on the command line means "no reordering".
    config = [c for c in git.PINNED_DIFF_CONFIG if not c.startswith("diff.orderFile")]
    return [c for i, c in enumerate(config) if not (c == "-c" and config[i + 1:i + 2] == ["-c"])]


def log_stream(revs: Sequence[str], cwd: str | Path | None) -> Iterator[RawCommit]:
    """One pinned `git log -p --cc` over `revs`, parents before children."""
    args = [
        *_log_config(), "log", f"--format={LOG_FORMAT}", "-p", "--cc", "--root", "-O/dev/null",
        *git.PINNED_DIFF_OPTIONS, "--topo-order", "--reverse", "--no-notes", "--end-of-options",
        *git.resolve_revs(revs, cwd=cwd), "--",
    ]
    # Pinned: runs in a neutral git dir (no attributes), so revisions are resolved here first.
    return parse_log(git.stream(args, cwd=cwd, pinned=True))


def _with_facts(raw: RawCommit, facts: cache.Facts) -> RawCommit:
    return replace(raw, digest=facts.digest, paths=facts.paths, policy_ids=facts.policy,
                   trailers=facts.trailers)


def _facts(raw: RawCommit) -> cache.Facts:
    parsed = tuple(trailers.parse(raw.message))
    return cache.Facts(raw.digest, raw.paths, raw.policy_ids, parsed)


def cached_stream(revs: Sequence[str], cwd: str | Path | None, db: cache.Cache | None
                  ) -> Iterator[RawCommit]:
    """`log_stream`, but only the commits the cache does not know go through the patch stream.

    The others come from one `git log` without `-p` (messages and identities only) and the cache.
    """
    if db is None:
        yield from log_stream(revs, cwd)
        return
    order = git.text(["rev-list", "--topo-order", "--reverse", "--end-of-options", *revs, "--"],
                     cwd=cwd).split()
    missing = db.missing(order)
    if len(missing) == len(order):
        for raw in log_stream(revs, cwd):
            facts = _facts(raw)
            db.put_facts(raw.sha, facts)
            yield replace(raw, trailers=facts.trailers)
        return
    todo = [s for s in order if s in missing]
    del order
    fresh = parse_log(git.stream(
        [*_log_config(), "log", f"--format={LOG_FORMAT}", "-p", "--cc", "--root",
         *git.PINNED_DIFF_OPTIONS, "--no-notes", "--no-walk=unsorted", "--stdin"],
        cwd=cwd, stdin_lines=(s.encode() + b"\n" for s in todo), pinned=True))
    headers = parse_log(git.stream(
        ["log", f"--format={LOG_FORMAT}", "--topo-order", "--reverse", "--no-notes",
         "--end-of-options", *revs, "--"], cwd=cwd))
    for head in headers:
        known = db.facts(head.sha) if head.sha not in missing else None
        if known is not None:
            yield _with_facts(head, known)
            continue
        got = next(fresh, None)
        if got is None or got.sha != head.sha:
            raise ProvenanceError("git log and git rev-list disagree on the order of commits")
        facts = _facts(got)
        db.put_facts(got.sha, facts)
        yield replace(got, trailers=facts.trailers)


# ---- trust root and starting policy ------------------------------------------------------------


def _commit(rev: str, what: str, cwd: str | Path | None) -> str:
    sha = git.rev_parse(f"{rev}^{{commit}}", cwd=cwd)
    if sha is None:
        raise ProvenanceError(f"{what} {rev!r} does not name a commit in this repository")
    return sha


def resolve_trust_root(
    trust_root: str | None, policy_file: str | None, cwd: str | Path | None
) -> tuple[str | None, str]:
    """(trust root sha or None, how it was chosen)."""
    if trust_root:
        return _commit(trust_root, "--trust-root", cwd), "pinned with --trust-root"
    configured = git.config_get("provenance.trustRoot", cwd=cwd)
    if configured:
        sha = _commit(configured, "provenance.trustRoot", cwd)
        return sha, "pinned by git config provenance.trustRoot"
    if policy_file:
        return None, "none: --policy FILE given, every commit reachable from the tip is judged"
    if git.is_shallow(cwd):
        raise ProvenanceError(
            "shallow clone: the default trust root would be an arbitrary cut-off; pass "
            "--trust-root REV or --policy FILE, or fetch everything (git fetch --unshallow)")
    if git.rev_parse("HEAD", cwd=cwd) is None:
        raise ProvenanceError("HEAD names no commit: nothing to audit")
    changed = git.text(["rev-list", "--first-parent", "HEAD", "--", POLICY_FILE], cwd=cwd).split()
    for sha in reversed(changed):
        if git.object_id(f"{sha}:{POLICY_FILE}", cwd=cwd) is not None:
            return sha, (f"default: the earliest commit on HEAD's first-parent chain holding "
                         f"{POLICY_FILE} (pin one with --trust-root)")
    raise ProvenanceError(
        f"no {POLICY_FILE} on HEAD's first-parent chain: add one (git provenance init) or scan "
        "with --policy FILE")


def _root_policy(
    root: str | None, policy_file: str | None, cwd: str | Path | None
) -> tuple[Policy, str | None, str]:
    """(policy, its blob id or None when external, a description)."""
    if policy_file:
        return policy.load_file(policy_file), None, f"{policy_file} (--policy)"
    assert root is not None
    blob = git.object_id(f"{root}:{POLICY_FILE}", cwd=cwd)
    data = git.read_blob(root, POLICY_FILE, cwd=cwd)
    if blob is None or data is None:
        raise ProvenanceError(
            f"the trust root {root[:12]} holds no {POLICY_FILE}: choose another or pass --policy")
    return policy.load_text(data, f"{POLICY_FILE} at {root[:12]}"), blob, f"{POLICY_FILE} at {root}"


# ---- the walk ------------------------------------------------------------------------------------


def _index_notes(
    atts: Sequence[NoteAttestation],
) -> tuple[dict[str, list[NoteAttestation]], dict[str, list[NoteAttestation]]]:
    by_digest: dict[str, list[NoteAttestation]] = defaultdict(list)
    by_commit: dict[str, list[NoteAttestation]] = defaultdict(list)
    for att in atts:
        parts = att.value.split()
        if len(parts) > 3:
            by_digest[parts[3]].append(att)
        by_commit[att.note_commit].append(att)
    return by_digest, by_commit


def _has_cosign(raw: RawCommit, found: Sequence[NoteAttestation]) -> bool:
    values = trailers.values(raw.message, KEY_SIGNATURE) + [n.value for n in found]
    return any(v.split()[1:2] == ["cosign"] for v in values)


def _covers(merge: RawCommit, cwd: str | Path | None) -> tuple[str, ...]:
    """Digests of the commits a merge brings in (M^1..M, M itself excluded)."""
    brought = log_stream([merge.sha, f"^{merge.parents[0]}"], cwd)
    return tuple(sorted({c.digest for c in brought if c.sha != merge.sha}))


@dataclass
class _Pending:
    index: int
    record: CommitRecord
    policy: Policy
    notes: list[NoteAttestation]
    authorized: bool | None


def _walk_once(
    revs: Sequence[str], root_policy: Policy, root_blob: str | None, external: bool,
    revoked: frozenset[PublicKey], all_notes: Sequence[NoteAttestation], cwd: str | Path | None,
    progress: Callable[[int], None] | None, db: cache.Cache | None = None,
) -> tuple[list[Judgement], list[Policy]]:
    by_digest, by_commit = _index_notes(all_notes)
    policies: list[Policy] = [root_policy]
    blobs: list[str | None] = [root_blob]
    effective: dict[str, int] = {}  # commit -> index of the policy in force after it
    judgements: list[Judgement] = []
    pending: dict[str, list[_Pending]] = defaultdict(list)  # digest -> missing-cosign commits
    covered: dict[str, list[CoverApproval]] = defaultdict(list)
    blob_at: dict[str, str | None] = {}  # commit -> its policy blob, known from the patch stream
    with git.object_lookup(cwd) as lookup:

        def blob_of(sha: str) -> str | None:
            if sha not in blob_at:
                blob_at[sha] = lookup(f"{sha}:{POLICY_FILE}")
            return blob_at[sha]

        for n, raw in enumerate(cached_stream(revs, cwd, db)):
            base = effective.get(raw.parents[0], 0) if raw.parents else 0
            old_blob = blob_of(raw.parents[0]) if raw.parents else None
            if raw.policy_ids is not None:  # the patch shows the policy file: its new id
                new_blob = None if raw.policy_ids[-1].strip("0") == "" else raw.policy_ids[-1]
            elif len(raw.parents) <= 1 or len({blob_of(p) for p in raw.parents}) == 1:
                new_blob = old_blob  # a patch shows every changed file; --cc every change to
            else:  # a file all parents agree on; a merge of differing policies: ask git
                new_blob = lookup(f"{raw.sha}:{POLICY_FILE}")
            blob_at[raw.sha] = new_blob
            policy_blob = None if new_blob == old_blob else (new_blob or NULL_OID)
            found = list({id(a): a for a in by_digest.get(raw.digest, []) +
                          by_commit.get(raw.sha, [])}.values())
            covers = _covers(raw, cwd) if len(raw.parents) > 1 and _has_cosign(raw, found) else ()
            record = CommitRecord(
                sha=raw.sha, parents=raw.parents, author_name=raw.author_name,
                author_email=raw.author_email, committer_name=raw.committer_name,
                committer_email=raw.committer_email, author_time=raw.author_time,
                message=raw.message,
                trailers=raw.trailers if raw.trailers is not None else tuple(trailers.parse(raw.message)),
                paths=raw.paths, digest=raw.digest, policy_blob=policy_blob, covers=covers,
            )
            authorized: bool | None = True if external and policy_blob is not None else None
            inherited = None
            if policy_blob is not None and not external:
                inherited = next((effective.get(q, 0) for q in raw.parents[1:]
                                  if blobs[effective.get(q, 0)] == policy_blob), None)
                if inherited is not None:
                    authorized = True
            j = judge(record, policies[base], found, revoked, policy_change_authorized=authorized)
            after = base
            if j.policy_authorized and not external:
                if inherited is not None:
                    after = inherited
                elif new_blob is not None:
                    after, j = _adopt(new_blob, raw.sha, base, policies, blobs, j, cwd)
            effective[raw.sha] = after
            if any(v.code == "missing-cosign" for v in j.violations):
                pending[raw.digest].append(
                    _Pending(len(judgements), record, policies[base], found, authorized))
            for approval in j.cover_approvals:
                for d in covers:
                    covered[d].append(approval)
            judgements.append(j)
            if progress is not None:
                progress(n + 1)
    for d, waiting in pending.items():
        for p in waiting if d in covered else ():
            judgements[p.index] = judge(p.record, p.policy, p.notes, revoked,
                                        cover_approvals=covered[d],
                                        policy_change_authorized=p.authorized)
    return judgements, policies


def _adopt(
    blob: str, sha: str, base: int, policies: list[Policy], blobs: list[str | None],
    j: Judgement, cwd: str | Path | None,
) -> tuple[int, Judgement]:
    """Put an authorised new policy in force; an unreadable one leaves the previous in force."""
    if blob in blobs:
        return blobs.index(blob), j
    data = git.read_blobs([blob], cwd=cwd).get(blob, b"")
    try:
        new = policy.load_text(data, f"{POLICY_FILE} at {sha[:12]}")
    except ProvenanceError as e:
        bad = Violation("unauthorized-policy-change",
                        f"the co-signed policy is unusable, the previous one stays in force: {e}",
                        f"fix {POLICY_FILE} in a new commit and have it co-signed")
        return base, replace(j, violations=(*j.violations, bad), policy_authorized=False)
    policies.append(new)
    blobs.append(blob)
    return len(policies) - 1, j


def _refuse_shallow_boundary(revs: Sequence[str], cwd: str | Path | None) -> None:
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


def audit(
    range_: str | None, trust_root: str | None, policy_file: str | None,
    cwd: str | Path | None = None, progress: Callable[[int], None] | None = None,
    *, use_cache: bool = True,
) -> AuditResult:
    """Walk and judge `RANGE ^TRUST_ROOT`; revocations found on the way re-run the walk.

    With `use_cache`, what never changes for a commit comes from the cache in the git common dir
    (provenance/cache.py): a second audit reads no patches and checks no signature twice."""
    git.git_dir(cwd)  # "not a git repository" before anything else
    if range_ is None and git.rev_parse("HEAD", cwd=cwd) is None:
        raise ProvenanceError("HEAD names no commit: nothing to audit")
    root, how = resolve_trust_root(trust_root, policy_file, cwd)
    root_policy, root_blob, described = _root_policy(root, policy_file, cwd)
    tip = range_ or "HEAD"
    revs = [tip] + ([f"^{root}"] if root else [])
    _refuse_shallow_boundary(revs, cwd)
    all_notes = notes.read_all(cwd)
    revoked = frozenset(r.key for r in root_policy.revoked)
    db = cache.open_cache(git.common_dir(cwd)) if use_cache else None
    try:
        with cache.memoised(db):
            while True:
                judgements, policies = _walk_once(
                    revs, root_policy, root_blob, policy_file is not None, revoked, all_notes, cwd,
                    progress, db)
                grown = revoked | {r.key for p in policies for r in p.revoked}
                if grown == revoked:
                    break
                revoked = frozenset(grown)
    finally:
        if db is not None:
            db.close()
    return AuditResult(
        range=" ".join(revs), trust_root=root, trust_root_source=how, policy=described,
        judgements=tuple(judgements), notes_ref_exists=notes.ref_exists(cwd),
    )
