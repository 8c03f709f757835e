"""The change digest: sha256 over a normalised patch of a commit against its first parent.

Normalisation (docs/spec.md): blob ids of text files and the whole text of hunk headers are dropped,
because both move under clean rebases; binary files keep their `index` line (the ids are the content);
context lines stay, binding where in the file the change sits. Merges digest their combined diff,
followed by the blocks of their own change (against git's automatic merge) for the paths the
combined diff does not name: an honest merge keeps v1's bytes, an evil one does not share them.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from provenance import hashes
from provenance.errors import ProvenanceError
from provenance.git import git

TYPE_CHECKING = False  # not typing's: a commit hook imports this module (provenance/records.py)
if TYPE_CHECKING:
    from pathlib import Path  # not at run time: the commit hooks do without pathlib

    from provenance.git.merges import OwnChange

EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # of b""
_PROBE_MESSAGE = b"git-provenance digest probe\n"


def digest_of_patch(lines: Iterable[bytes]) -> str:
    """Digest of one commit's pinned patch text, given line by line (each with its newline)."""
    h = hashes.sha256()
    pending_index: bytes | None = None
    for line in lines:
        if pending_index is not None:
            # An `index` line is kept only when the file turns out to be binary.
            if line.startswith(b"Binary files "):
                h.update(pending_index)
            pending_index = None
        first = line[:1]
        if first in (b" ", b"+", b"-", b"\\"):
            h.update(line)
        elif first == b"@":
            h.update(line[: len(line) - len(line.lstrip(b"@"))] + b"\n")
        elif line.startswith(b"index "):
            pending_index = line
        else:
            h.update(line)
    return "sha256:" + h.hexdigest()


def merge_part(combined: bytes, own: OwnChange) -> bytes:
    """What a merge's digest reads after its combined diff (docs/spec.md 4.3): the blocks of its
    own-change patch for the paths it changes that the combined diff does not name. Nothing for
    an honest merge, whose own change (a conflict resolution, if any) `--cc` shows."""
    from provenance.wire import patch as patch_mod  # deferred: hooks need it for merges only

    changed = patch_mod.raw_paths(own.raw)
    if not changed:
        return b""
    hidden = set(changed) - patch_mod.header_paths(combined)
    return patch_mod.blocks_of(own.patch, hidden) if hidden else b""


def of_commit(commit: str, *, cwd: str | Path | None = None,
              parents: Sequence[str] | None = None) -> str:
    """The digest the audit computes for an existing commit (`parents`, when the caller knows
    them, spare a merge check)."""
    return digest_of_bytes(commit_patch(commit, cwd=cwd, parents=parents))


def digest_of_bytes(patch: bytes) -> str:
    """`digest_of_patch` of a patch held in memory (the hooks' and the commands' one commit)."""
    if len(patch) > hashes.BUILTIN_LIMIT:
        hashes.use_openssl()  # a large patch: OpenSSL's sha256 is ~3x faster than the built-in
    # Split on LF only: bytes.splitlines would also split at a lone CR inside a content line,
    # letting text after it pass for a hunk header or an index line.
    return digest_of_patch(io.BytesIO(patch))


def commit_patch(commit: str, *, cwd: str | Path | None = None,
                 parents: Sequence[str] | None = None) -> bytes:
    """The bytes `of_commit` digests: the pinned patch, and a merge's `merge_part`."""
    sha = git.rev_parse(f"{commit}^{{commit}}", cwd=cwd) if not git.is_oid(commit) else commit
    if sha is None:
        raise ProvenanceError(f"{commit!r} does not name a commit")
    combined = git.patch(sha, cwd=cwd)
    # Only a merge prints `diff --cc`; an empty patch may be a clean merge or an empty commit.
    if parents is None and (not combined or combined.startswith(b"diff --cc ")):
        parents = git.text(["rev-parse", f"{sha}^@"], cwd=cwd).split()
    if parents is None or len(parents) < 2:
        return combined
    from provenance.git import merges  # deferred: hooks need it for merges only

    return combined + merge_part(combined, merges.own_changes([sha], cwd)[sha])


def of_pending(tree: str, parents: Sequence[str], *, cwd: str | Path | None = None) -> str:
    """The digest a commit of `tree` on `parents` will have, computed before it exists.

    A throwaway commit object with a fixed identity goes through exactly the code path the audit
    uses, so the two can never disagree (merges included: their combined diff needs a commit).
    """
    return digest_of_bytes(pending_patch(tree, parents, cwd=cwd))


def pending_patch(tree: str, parents: Sequence[str], *, cwd: str | Path | None = None) -> bytes:
    """The bytes `of_pending` digests (for callers that read more from it)."""
    probe = git.commit_tree(tree, parents, _PROBE_MESSAGE, cwd=cwd)
    return commit_patch(probe, cwd=cwd, parents=parents)


_MODE_LINES = (b"old mode ", b"new mode ", b"new file mode ", b"deleted file mode ")


def blob_change(patch: bytes, path: str) -> tuple[bool, str | None]:
    """What a one-parent (or root) pinned patch says about `path` (one git prints unquoted):
    (True, None) when its blob is unchanged, (True, new id) when it changed (forty zeros: deleted),
    (False, None) when the patch is not plain enough to tell (a type change shows two entries; a
    directory, a similar name).

    With --full-index a changed file shows `index OLD..NEW`; a mode change alone has none.
    """
    text = b"\n" + patch
    mentions = text.count(b"\ndiff --git a/" + path.encode())
    if mentions == 0:
        return True, None
    header = f"\ndiff --git a/{path} b/{path}\n".encode()
    start = text.find(header)
    if mentions != 1 or start < 0:
        return False, None
    for line in text[start + len(header):start + len(header) + 4096].split(b"\n")[:4]:
        if line.startswith(b"index "):
            new = line.split()[1].partition(b"..")[2].decode("ascii", "replace")
            return True, ("0" * 40 if not new.strip("0") else new)
        if not line.startswith(_MODE_LINES):
            break
    return True, None
