"""Evil merges (Trust II item 2): a merge is judged on its own change, its tree against git's
automatic merge of its parents, not on what its combined diff (`--cc`) shows.

Each history: a security fix to a critical file is co-signed on one side; a developer's merge
then undoes it in a way `--cc` does not show (the result is one parent's version of the file),
or a clean merge needs nothing at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import factory as f
import pytest

from provenance.audit import walk
from provenance.policy.schema import POLICY_FILE

OLD, FIXED = "secure = False\n", "secure = True\n"


@pytest.fixture
def people(tmp_path: Path) -> dict[str, f.Actor]:
    return f.cast(tmp_path)


def _repo(tmp_path: Path, p: dict[str, f.Actor], applies_to: str,
          files: dict[str, str | bytes | None]) -> Path:
    spec = f.PolicySpec(people=[(p["alice"], ["senior"]), (p["bob"], []), (p["carol"], ["senior"])],
                        rules=[{"name": "tier-1", "paths": ["payments/**"],
                                "applies_to": applies_to}])
    repo = f.init(tmp_path / "repo")
    f.commit(repo, p["alice"], {POLICY_FILE: spec.text(), "README": "hi\n", **files})
    return repo


def _fix(repo: Path, p: dict[str, f.Actor], files: dict[str, str | bytes | None]) -> str:
    """The co-signed security fix (AI-assisted, so it needs the co-sign under either rule)."""
    return f.commit(repo, p["bob"], files, ai=True, cosigners=[p["alice"]])


def _evil_merge(repo: Path, who: f.Actor, branches: tuple[str, ...],
                undo: Callable[[Path], None], *, ai: bool | None) -> str:
    """`git merge` of `branches` whose result is edited by `undo` before the commit; declared as
    `ai` (None: no declaration at all, as a merge made without the hooks)."""
    f.git(repo, "merge", "-q", "--no-ff", "--no-commit", *branches, who=who, check=False)
    undo(repo)
    f.git(repo, "add", "-A")
    f.git(repo, "commit", "-q", "--no-verify", "-m", "Merge", who=who)
    if ai is None:
        return f.git(repo, "rev-parse", "HEAD")
    return f.amend_trailers(repo, who, subject="Merge", ai=ai)


def _verdicts(repo: Path) -> dict[str, list[str]]:
    result = walk.audit(None, None, None, repo, use_cache=False)
    return {j.commit: sorted(v.code for v in j.violations) for j in result.judgements
            if j.violations}


def _write(files: dict[str, str | bytes | None]) -> Callable[[Path], None]:
    return lambda repo: f.write(repo, files)


def _chmod(path: str, mode: int) -> Callable[[Path], None]:
    return lambda repo: os.chmod(repo / path, mode)


# Each way of undoing the fix, and where the fix and the stale version live:
#   fix on main, an old branch brought in, the result takes the old branch's file;
#   fix on a branch brought in, the result keeps main's old file;
#   a new critical file added (co-signed) on main, dropped by the merge as the old branch has none;
#   a mode fix on main (the script no longer executable), the merge takes the old mode back.
UNDO: dict[str, tuple[dict[str, str | bytes | None], str, dict[str, str | bytes | None],
                      Callable[[Path], None]]] = {
    "revert to the branch's version": (
        {"payments/pay.py": OLD}, "main", {"payments/pay.py": FIXED},
        _write({"payments/pay.py": OLD})),
    "revert to the first parent's version": (
        {"payments/pay.py": OLD}, "fix", {"payments/pay.py": FIXED},
        _write({"payments/pay.py": OLD})),
    "deletion of the file": (
        {}, "main", {"payments/guard.py": FIXED}, _write({"payments/guard.py": None})),
    "mode change": (
        {"payments/run.sh": "#!/bin/sh\n"}, "main", {"payments/run.sh": "#!/bin/sh\n"},
        _chmod("payments/run.sh", 0o755)),
}


def _history(tmp_path: Path, p: dict[str, f.Actor], applies_to: str, how: str, *,
             octopus: bool = False) -> tuple[Path, tuple[str, ...]]:
    """The history before the evil merge: HEAD on main; returns the branches the merge takes."""
    base, fix_on, fix, _ = UNDO[how]
    repo = _repo(tmp_path, p, applies_to, base)
    if how == "mode change":
        os.chmod(repo / "payments/run.sh", 0o755)
        f.git(repo, "add", "-A")
        f.git(repo, "commit", "-q", "--amend", "--no-verify", "--no-edit")
        f.amend_trailers(repo, p["alice"], ai=False)
    root = f.git(repo, "rev-parse", "HEAD")
    f.git(repo, "checkout", "-qb", "old", root)
    f.commit(repo, p["bob"], {"docs/old.md": "old\n"})
    if fix_on == "fix":
        f.git(repo, "checkout", "-qb", "fix", root)
    else:
        f.git(repo, "checkout", "-q", "main")
    _fix(repo, p, fix)
    if how == "mode change":
        os.chmod(repo / "payments/run.sh", 0o644)
        f.git(repo, "add", "-A")
        f.git(repo, "commit", "-q", "--amend", "--no-verify", "--no-edit")
        f.amend_trailers(repo, p["bob"], ai=True, cosigners=[p["alice"]])
    branches = ["old"] if fix_on == "main" else ["fix"]
    if octopus:
        f.git(repo, "checkout", "-qb", "third", root)
        f.commit(repo, p["bob"], {"docs/third.md": "third\n"})
        branches.append("third")
    f.git(repo, "checkout", "-q", "main")
    return repo, tuple(branches)


@pytest.mark.parametrize("octopus", [False, True], ids=["two parents", "octopus"])
@pytest.mark.parametrize("how", sorted(UNDO))
@pytest.mark.parametrize("applies_to,ai", [("all", False), ("ai-assisted", True)],
                         ids=["applies to all", "AI-assisted"])
def test_an_evil_merge_undoing_a_cosigned_fix_is_reported(
    tmp_path: Path, people: dict[str, f.Actor], applies_to: str, ai: bool, how: str,
    octopus: bool,
) -> None:
    repo, branches = _history(tmp_path, people, applies_to, how, octopus=octopus)
    evil = _evil_merge(repo, people["bob"], branches, UNDO[how][3], ai=ai)
    assert _verdicts(repo) == {evil: ["missing-cosign"]}
    judged = next(j for j in walk.audit(None, None, None, repo, use_cache=False).judgements
                  if j.commit == evil)
    assert judged.critical_paths == {"tier-1": [next(iter(UNDO[how][2]))]}


@pytest.mark.parametrize("how", sorted(UNDO))
def test_an_undeclared_evil_merge_needs_a_declaration(
    tmp_path: Path, people: dict[str, f.Actor], how: str
) -> None:
    repo, branches = _history(tmp_path, people, "ai-assisted", how)
    evil = _evil_merge(repo, people["bob"], branches, UNDO[how][3], ai=None)
    assert _verdicts(repo) == {evil: ["missing-declaration"]}


def test_a_cosign_copied_from_a_clean_merge_does_not_cover_an_evil_one(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    """Every merge whose `--cc` is empty once had one digest: a co-sign of an honest merge by the
    same author verified on an evil one."""
    p = people
    repo, branches = _history(tmp_path, p, "all", "revert to the branch's version")
    f.git(repo, "checkout", "-qb", "doc", "main~1")
    f.commit(repo, p["bob"], {"docs/more.md": "more\n"})
    f.git(repo, "checkout", "-q", "main")
    honest = f.merge(repo, p["bob"], "doc", ai=False, cosigners=[p["alice"]])
    assert len(f.git(repo, "rev-parse", f"{honest}^@").split()) == 2
    copied = [v for k, v in _trailers(repo, honest) if k == "Provenance-Signature"
              and " cosign " in v]
    evil = _evil_merge(repo, p["bob"], branches, UNDO["revert to the branch's version"][3],
                       ai=False)
    assert len(f.git(repo, "rev-parse", f"{evil}^@").split()) == 2 and copied
    f.add_note(repo, evil, [f"Provenance-Signature: {v}" for v in copied])
    assert _verdicts(repo) == {evil: ["missing-cosign", "stale-signature"]}


def _trailers(repo: Path, sha: str) -> list[tuple[str, str]]:
    out = f.git(repo, "log", "-1", "--format=%(trailers:unfold,separator=%x00)", sha)
    return [tuple(t.split(": ", 1)) for t in out.split("\0") if ": " in t]  # type: ignore[misc]


def test_a_clean_merge_with_nearby_changes_on_both_sides_needs_nothing(
    tmp_path: Path, people: dict[str, f.Actor]
) -> None:
    lines = "".join(f"line {i}\n" for i in range(1, 9))
    repo = _repo(tmp_path, people, "all", {"src/app.py": lines})
    f.git(repo, "checkout", "-qb", "topic")
    f.commit(repo, people["bob"], {"src/app.py": lines.replace("line 4", "topic 4")})
    f.git(repo, "checkout", "-q", "main")
    f.commit(repo, people["carol"], {"src/app.py": lines.replace("line 2", "main 2")})
    f.git(repo, "merge", "-q", "--no-ff", "--no-edit", "topic", who=people["bob"])
    merge = f.git(repo, "rev-parse", "HEAD")
    assert "topic 4" in f.git(repo, "diff-tree", "--cc", "-p", merge)  # --cc is not empty
    assert _verdicts(repo) == {}
