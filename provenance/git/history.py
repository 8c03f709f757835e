"""One walk of a whole history, every commit with its parents and its changes to one path.

What audit/whole_history.py builds the policy-relevant graph from when nothing about the history
is known yet (a fresh clone's first push). Its output is as long as the history (~85 bytes a
commit), so git writes it to a file: on this machine a pipe cost 1.0 s CPU to read 8 MB and git
0.6 s more to write it, a file 0.01 s (docs/performance.md, "A push").
"""

from __future__ import annotations

from collections.abc import Sequence

from provenance.errors import ProvenanceError
from provenance.git.env import _env
from provenance.git.git import BOUNDED_MEMORY_CONFIG, common_dir, neutral_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


def commits_touching(revs: Sequence[str], path: str, cwd: str | Path | None) -> bytes:
    """`%H %P` of every commit of `revs`, real parents, each followed by its `--raw` line for
    `path` when it changes it against its first parent (a root commit: against nothing).

    `--sparse` shows every commit and `--full-history` keeps every parent: no commit is
    simplified away and no parent rewritten (git drops a rewritten parent whose chain ends at a
    root commit without `path`). Asked in the neutral git dir, as every history read is."""
    import subprocess  # deferred: the audit's, never a commit hook's
    import tempfile

    args = ["git", *BOUNDED_MEMORY_CONFIG, "log", "--full-history", "--sparse", "--root",
            "--no-renames", "--diff-merges=first-parent", "--raw", "--no-abbrev",
            "--format=%H %P", *revs, "--", path]  # object ids: no option can hide among them
    env = _env({"GIT_DIR": neutral_dir(cwd)}, pinned=True)
    with tempfile.TemporaryFile() as out:
        done = subprocess.run(args, cwd=cwd, stdout=out, stderr=subprocess.PIPE, env=env,
                              check=False)
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            raise ProvenanceError(f"git log failed: {lines[-1] if lines else done.returncode}")
        out.seek(0)
        return out.read()


def changed_path_filters(cwd: str | Path | None) -> bool:
    """Whether git keeps changed-path Bloom filters for this history (`git commit-graph write
    --changed-paths`): path-limited walks then skip the trees of the commits the filters rule out,
    and cost less than one walk of everything (docs/performance.md, "A push")."""
    info = common_dir(cwd) / "objects" / "info"
    try:
        names = [f"commit-graphs/graph-{h}.graph"
                 for h in (info / "commit-graphs" / "commit-graph-chain").read_text().split()]
    except OSError:
        names = ["commit-graph"]
    for name in names:
        try:
            with open(info / name, "rb") as graph:
                if b"BIDX" in graph.read(256):  # the chunk table, near the start
                    return True
        except OSError:
            pass
    return False
