"""Where a policy comes from: a revision's tree, or the work tree."""

from __future__ import annotations

from pathlib import Path

from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.policy import schema


def load_at(rev: str, *, cwd: str | Path | None = None) -> schema.Policy | None:
    """The policy in `rev`'s tree, or None when that tree has none."""
    blob = git.read_blob(rev, schema.POLICY_FILE, cwd=cwd)
    if blob is None:
        return None
    return schema.load_text(blob, f"{rev}:{schema.POLICY_FILE}")


def load_current(rev: str | None = None, *, cwd: str | Path | None = None) -> schema.Policy:
    """The work tree's policy (or `rev`'s); a clear error when there is none."""
    if rev is not None:
        found = load_at(rev, cwd=cwd)
        if found is None:
            raise ProvenanceError(f"{rev} has no {schema.POLICY_FILE}")
        return found
    path = git.toplevel(cwd) / schema.POLICY_FILE
    if not path.exists():
        raise ProvenanceError(f"no {schema.POLICY_FILE} here: run `git provenance init`")
    return schema.load_file(path)
