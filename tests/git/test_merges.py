"""git/merges.py: a merge's own change is its tree against git's automatic merge of its parents,
computed without writing a single object into the audited repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import factory as f
import pytest

from provenance.git import merges
from provenance.wire.patch import raw_paths


def _commit(repo: Path, files: dict[str, str | bytes | None], message: str) -> str:
    f.write(repo, files)
    f.git(repo, "add", "-A")
    f.git(repo, "commit", "-q", "--no-verify", "--allow-empty", "-m", message)
    return f.git(repo, "rev-parse", "HEAD")


def _merge(repo: Path, *branches: str, then: dict[str, str | bytes | None] | None = None) -> str:
    """Merge `branches` into the current branch; `then` edits the result before it is committed."""
    f.git(repo, "merge", "-q", "--no-ff", "--no-commit", *branches, check=False)
    if then:
        f.write(repo, then)
    f.git(repo, "add", "-A")
    f.git(repo, "commit", "-q", "--no-verify", "-m", "merge " + " ".join(branches))
    return f.git(repo, "rev-parse", "HEAD")


def _objects(repo: Path) -> set[Path]:
    return {p for p in (repo / ".git" / "objects").rglob("*") if p.is_file()}


LINES = "".join(f"line {i}\n" for i in range(1, 9))


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """main, side and third fork from a root; a clean merge, a merge with nearby changes on both
    sides, an evil merge, a clean octopus and an evil octopus."""
    repo = f.init(tmp_path / "r")
    ids = {"root": _commit(repo, {"a.txt": LINES, "crit.txt": "secure = 0\n", "b.txt": "b\n"},
                           "root")}
    f.git(repo, "branch", "side")
    f.git(repo, "branch", "third")
    ids["fix"] = _commit(repo, {"crit.txt": "secure = 1\n", "a.txt": LINES.replace("line 2",
                                                                                   "main 2")}, "fix")
    f.git(repo, "checkout", "-q", "side")
    _commit(repo, {"a.txt": LINES.replace("line 4", "side 4")}, "side: nearby")
    f.git(repo, "checkout", "-q", "third")
    _commit(repo, {"c.txt": "c\n"}, "third")
    f.git(repo, "checkout", "-q", "main")
    ids["nearby"] = _merge(repo, "side")
    f.git(repo, "checkout", "-qb", "evil", ids["fix"])
    ids["evil"] = _merge(repo, "side", then={"crit.txt": "secure = 0\n"})  # the fix, undone
    f.git(repo, "checkout", "-qb", "octo", ids["fix"])
    ids["octopus"] = _merge(repo, "side", "third")
    f.git(repo, "checkout", "-qb", "evil-octo", ids["fix"])
    ids["evil octopus"] = _merge(repo, "side", "third", then={"crit.txt": "secure = 0\n"})
    return repo, ids


def test_only_an_own_change_is_listed_whatever_the_combined_diff_shows(
    history: tuple[Path, dict[str, str]]
) -> None:
    repo, ids = history
    own = merges.own_changes(list(ids.values()), repo)
    assert sorted(own) == sorted(ids[k] for k in ("nearby", "evil", "octopus", "evil octopus"))
    assert f.git(repo, "diff-tree", "--cc", "-p", "--no-commit-id", ids["nearby"]) != ""
    assert own[ids["nearby"]] == merges.OwnChange(b"", b"")  # both sides' lines, merged by git
    assert own[ids["octopus"]] == merges.OwnChange(b"", b"")
    for evil in ("evil", "evil octopus"):
        assert raw_paths(own[ids[evil]].raw) == ("crit.txt",)
        assert b"-secure = 1\n+secure = 0\n" in own[ids[evil]].patch
        # --cc does not show it: the file is the side branch's version
        assert "crit.txt" not in f.git(repo, "diff-tree", "--cc", "-p", "--no-commit-id", ids[evil])


def test_a_conflict_resolution_is_an_own_change(tmp_path: Path) -> None:
    repo = f.init(tmp_path / "r")
    _commit(repo, {"a.txt": LINES}, "root")
    f.git(repo, "checkout", "-qb", "side")
    _commit(repo, {"a.txt": LINES.replace("line 4", "side 4")}, "side")
    f.git(repo, "checkout", "-q", "main")
    _commit(repo, {"a.txt": LINES.replace("line 4", "main 4")}, "main")
    theirs = _merge(repo, "side", then={"a.txt": LINES.replace("line 4", "side 4")})
    own = merges.own_changes([theirs], repo)[theirs]
    assert raw_paths(own.raw) == ("a.txt",)
    assert b"remerge CONFLICT (content): Merge conflict in a.txt" in own.patch
    # conflict labels name the parents in full, however large the repository grows
    parents = f.git(repo, "rev-parse", f"{theirs}^1", f"{theirs}^2").split()
    assert f"<<<<<<< {parents[0]} (main)".encode() in own.patch
    assert f">>>>>>> {parents[1]} (side)".encode() in own.patch


def test_nothing_is_written_into_the_audited_repository(
    history: tuple[Path, dict[str, str]]
) -> None:
    repo, ids = history
    before = _objects(repo)
    merges.own_changes(list(ids.values()), repo)
    tree, clean = merges.merged_tree(ids["fix"], f.git(repo, "rev-parse", "side"), repo)
    assert clean and tree == f.git(repo, "rev-parse", f"{ids['nearby']}^{{tree}}")
    assert _objects(repo) == before


def test_a_conflicted_automatic_merge_says_so_and_leaves_no_object(tmp_path: Path) -> None:
    repo = f.init(tmp_path / "r")
    _commit(repo, {"a.txt": LINES}, "root")
    f.git(repo, "checkout", "-qb", "side")
    _commit(repo, {"a.txt": "side\n"}, "side")
    f.git(repo, "checkout", "-q", "main")
    main = _commit(repo, {"a.txt": "main\n"}, "main")
    tree, clean = merges.merged_tree(main, f.git(repo, "rev-parse", "side"), repo)
    assert not clean and len(tree) == 40
    assert subprocess.run(["git", "cat-file", "-e", tree], cwd=repo).returncode != 0


@pytest.mark.parametrize("config", [
    ("merge.conflictStyle", "zdiff3"), ("merge.renames", "false"), ("core.abbrev", "8"),
    ("merge.directoryRenames", "true"), ("diff.algorithm", "histogram"),
    ("merge.renormalize", "true"), ("diff.context", "1"),
])
def test_user_config_does_not_move_an_own_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: tuple[str, str]
) -> None:
    repo = f.init(tmp_path / "r")
    _commit(repo, {"a.txt": LINES}, "root")
    f.git(repo, "checkout", "-qb", "side")
    _commit(repo, {"a.txt": LINES.replace("line 4", "side 4")}, "side")
    f.git(repo, "checkout", "-q", "main")
    _commit(repo, {"a.txt": LINES.replace("line 4", "main 4")}, "main")
    theirs = _merge(repo, "side", then={"a.txt": LINES.replace("line 4", "side 4")})
    expected = merges.own_changes([theirs], repo)
    global_config = tmp_path / "gitconfig"
    global_config.write_text(f"[{config[0].split('.')[0]}]\n\t{config[0].split('.')[1]} = "
                             f"{config[1]}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(global_config))
    f.git(repo, "config", *config)  # the repository's own config: not read either
    assert merges.own_changes([theirs], repo) == expected


def test_merges_are_remerged_children_first_whatever_order_they_come_in(tmp_path: Path) -> None:
    repo = f.init(tmp_path / "r")
    _commit(repo, {"a.txt": LINES, "crit.txt": "secure = 0\n"}, "root")
    f.git(repo, "checkout", "-qb", "old")
    _commit(repo, {"b.txt": "b\n"}, "old")
    f.git(repo, "checkout", "-q", "main")
    fix = _commit(repo, {"crit.txt": "secure = 1\n"}, "fix")
    evil = _merge(repo, "old", then={"crit.txt": "secure = 0\n"})
    f.git(repo, "checkout", "-qb", "side", fix)
    _commit(repo, {"a.txt": LINES.replace("line 4", "side 4")}, "side")
    f.git(repo, "checkout", "-q", "main")
    _commit(repo, {"a.txt": LINES.replace("line 4", "main 4")}, "main")
    theirs = _merge(repo, "side", then={"a.txt": LINES.replace("line 4", "side 4")})
    walk_order = f.git(repo, "rev-list", "--topo-order", "--reverse", "HEAD").split()
    own = merges.own_changes(walk_order, repo)
    assert own == merges.own_changes(walk_order[::-1], repo, newest_first=True)
    assert (raw_paths(own[evil].raw), raw_paths(own[theirs].raw)) == (("crit.txt",), ("a.txt",))
    # git before 2.48, shown the evil merge first, remerges the later one on a cut history
    cut = subprocess.run(["git", "log", "--no-walk=unsorted", "--stdin", "--merges",
                          "--remerge-diff", "--raw", "--format=%H"], cwd=repo, check=True,
                         capture_output=True, input="\n".join(walk_order).encode()).stdout
    version = tuple(int(n) for n in f.git(repo, "version").split()[2].split(".")[:2])
    assert cut.split(theirs.encode())[1].count(b"crit.txt") == (1 if version < (2, 48) else 0)
