"""`sync`: fetch, merge (cat_sort_uniq) and push refs/notes/provenance.

Notes are neither cloned nor pushed by default; this is the one command that moves them. Each
attestation is one line, so git's `cat_sort_uniq` strategy unions the notes of several seniors
without conflicts. The push of the notes ref passes the pre-push gate untouched (it is no branch).
"""

from __future__ import annotations

from pathlib import Path

from provenance.errors import ProvenanceError
from provenance.git import git, notes

FETCHED = "refs/notes/provenance-fetched"


def _remote_has_notes(remote: str, cwd: str | Path | None) -> bool:
    return bool(git.text(["ls-remote", remote, notes.REF], cwd=cwd).strip())


def _merge_fetched(cwd: str | Path | None) -> None:
    if notes.ref_exists(cwd):
        # cat_sort_uniq: one attestation per line, so seniors' notes union without conflicts.
        git.run(["notes", f"--ref={notes.REF}", "merge", "-q", "-s", "cat_sort_uniq", FETCHED], cwd=cwd)
    else:
        git.run(["update-ref", notes.REF, FETCHED], cwd=cwd)
    git.run(["update-ref", "-d", FETCHED], cwd=cwd)


def sync(remote: str = "origin", cwd: str | Path | None = None, attempts: int = 3) -> list[str]:
    """Bring both sides to the union of their attestations; retry when someone pushed meanwhile."""
    if not git.run_ok(["remote", "get-url", remote], cwd=cwd):
        raise ProvenanceError(f"no remote named {remote!r} (git remote -v lists them)")
    error = ""
    for _ in range(attempts):
        fetched = _remote_has_notes(remote, cwd)
        if fetched:
            git.run(["fetch", "-q", remote, f"+{notes.REF}:{FETCHED}"], cwd=cwd)
            _merge_fetched(cwd)
        if not notes.ref_exists(cwd):
            return [f"no attestations here or on {remote}: nothing to sync"]
        try:
            # Never forced: a rejected push means someone pushed meanwhile; fetch and merge again.
            git.run(["push", "-q", remote, f"{notes.REF}:{notes.REF}"], cwd=cwd)
        except ProvenanceError as e:
            error = str(e)
            continue
        merged = "merged the remote's notes, " if fetched else ""
        return [f"{merged}pushed {notes.REF} to {remote}"]
    raise ProvenanceError(f"could not push {notes.REF} to {remote} after {attempts} attempts: {error}")
