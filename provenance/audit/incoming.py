"""What a push adds, judged exactly as a full audit of its tip judges it: the one call of the
pre-push gate, and of a server's pre-receive hook (DESIGN §8: a push costs what is pushed).

Only the commits new to the receiver are walked. Their parents outside the push take the policy
in force there and the keys revoked up to there from the trust root (audit/boundary.py, cached
per commit), and the commits a merge in the push lands are judged where it lands them
(audit/forks.py), so each pushed commit gets the verdict the full audit gives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from provenance.audit import walk
from provenance.git import git


def adds(new: str, have: Sequence[str], cwd: str | Path | None = None) -> bool:
    """Whether `new` reaches a commit that none of `have` reaches (one cheap `rev-list -n1`)."""
    return bool(git.text(["rev-list", "-n1", "--end-of-options", new, *(f"^{h}" for h in have),
                          "--"], cwd=cwd, pinned=True))


def judge_push(
    new: str, have: Sequence[str], cwd: str | Path | None = None, *,
    notes_tip: str | None = None, trust_root: str | None = None,
) -> walk.AuditResult:
    """The judgements of the commits `new` adds to what `have` reaches.

    `have`: the commits the receiver holds that count as already judged: the branch's tip before
    the push on a server (or its other branches for a new one), the remote's branches on a
    client. `notes_tip`: the notes commit as it will be after the push (a server's pre-receive
    sees a notes update in quarantine); by default the notes ref. `trust_root`: a pinned one
    (a server's `provenance.trustRoot`); by default as the audit chooses it. The light rows a
    full audit keeps are left alone."""
    return walk.audit(new, trust_root, None, cwd, exclude=have, notes_tip=notes_tip,
                      keep_rows=False)
