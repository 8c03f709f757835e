"""The environment git starts in, and `_spawn`, which runs one git command to completion.

Imported only by the other modules of git/. A pinned run drops the variables that change patch
text or name another repository, and points GIT_DIR at a neutral git dir that shares the
repository's objects and nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from provenance.errors import ProvenanceError
from provenance.git import spawn

TYPE_CHECKING = False  # the commit hooks import this module: no typing, no pathlib at run time
if TYPE_CHECKING:
    from pathlib import Path

# Environment variables that change what git diff prints; a digest must not depend on them.
_DIFF_ENV_NOISE = ("GIT_EXTERNAL_DIFF", "GIT_DIFF_OPTS", "GIT_PAGER", "GIT_CONFIG_PARAMETERS")


# What the repository says about objects other than the objects themselves: replace refs
# (`git replace`) and grafts (`info/grafts`) would swap a commit's parents or tree, or a policy
# blob's bytes, for every read. Every git the tool starts ignores both (DESIGN §4), pinned or
# not: a nonexistent graft file is no grafts.
_OBJECTS_AS_STORED = {"GIT_NO_REPLACE_OBJECTS": "1",
                      "GIT_GRAFT_FILE": "/nonexistent/git-provenance-reads-no-grafts"}


def _env(extra: Mapping[str, str] | None, *, pinned: bool) -> dict[str, str]:
    env = dict(os.environ)
    if pinned:
        for name in _DIFF_ENV_NOISE + _REPO_LOCATION:
            env.pop(name, None)
    env["LC_ALL"] = "C"
    env.update(_OBJECTS_AS_STORED)
    if extra:
        env.update(extra)
    return env


# Location variables a hook may inherit; a pinned run names its own GIT_DIR instead.
_REPO_LOCATION = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE")


def _neutral_for(common: str) -> str:
    primary = os.path.join(common, "provenance-neutral")
    try:
        link = os.readlink(os.path.join(primary, "objects"))
        if os.path.normpath(link) == os.path.normpath(os.path.join(common, "objects")):
            return primary  # the usual case, checked without another process
    except OSError:
        pass
    import hashlib  # deferred, like tempfile and pathlib: the dir is made once per repository
    import tempfile
    from pathlib import Path

    digest = hashlib.sha256(common.encode()).hexdigest()[:16]
    candidates = [Path(primary),
                  Path(tempfile.gettempdir()) / f"git-provenance-neutral-{digest}"]
    for base in candidates:
        try:
            _make_neutral(base, Path(common))
            return str(base)
        except OSError:
            continue  # a read-only .git (CI caches): fall back to the temporary directory
    raise ProvenanceError(f"cannot create a neutral git directory for {common}")


def _make_neutral(base: Path, common: Path) -> None:
    """A git dir that shares the repository's objects and nothing else.

    Digest patches are produced there, so no work-tree .gitattributes, info/attributes, replace
    refs, grafts or repository config can change what git prints. Built aside and renamed into
    place: git processes started meanwhile (another audit, a hook, a second thread) never see it
    half made.
    """
    if _is_neutral(base, common):
        return
    import shutil  # deferred: a hook pays for it once per repository, when the dir is made
    import tempfile
    from pathlib import Path

    _, out, _ = _spawn(["rev-parse", "--show-object-format"], cwd=common,
                       env={**os.environ, "GIT_DIR": str(common)})
    object_format = out.decode().strip() or "sha1"
    staging = Path(tempfile.mkdtemp(prefix=f".{base.name}-", dir=base.parent))
    try:
        (staging / "refs").mkdir()
        (staging / "config").write_text(
            "[core]\n\trepositoryformatversion = 1\n\tbare = true\n"
            f"[extensions]\n\tobjectformat = {object_format}\n"
        )
        for name in ("objects", "shallow"):  # shallow: a dangling link is simply "not shallow"
            (staging / name).symlink_to(common / name)
        (staging / "HEAD").write_text("ref: refs/heads/none\n")
        try:
            os.rename(staging, base)
        except OSError:  # it exists: made by a concurrent process, or stale (a moved repository)
            if _is_neutral(base, common):
                return
            stale = Path(tempfile.mkdtemp(prefix=f".{base.name}-stale-", dir=base.parent))
            os.rename(base, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
            os.rename(staging, base)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _is_neutral(base: Path, common: Path) -> bool:
    return (base / "HEAD").exists() and (base / "objects").resolve() == (common / "objects").resolve()


def _spawn(
    args: Sequence[str],
    *,
    cwd: str | Path | None = None,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[int, bytes, bytes]:
    """Run `git ARGS` to completion: (exit status, stdout, stderr), through `spawn.run`.

    `cwd` becomes `git -C` (posix_spawn has no chdir action before Python 3.13; git changes
    directory first, before reading any GIT_* variable, as a child started in `cwd` would).
    """
    env = _env(None, pinned=False) if env is None else env
    argv = ["git", *(("-C", os.fspath(cwd)) if cwd is not None else ()), *args]
    if _STARTED and input is None:
        for i, (started_argv, started_env, started) in enumerate(_STARTED):
            if started_argv == argv and started_env == env:
                del _STARTED[i]
                return spawn.finish(started)
    try:
        return spawn.run(argv, env=env, input=input)
    except FileNotFoundError:
        raise ProvenanceError("git is not installed or not on PATH") from None


# ---- a commit hook's first reads, started while its modules import --------------------------

_DIRS_ARGS = ("rev-parse", "--absolute-git-dir", "--git-common-dir")  # git.dirs, git.head
# git.head's process, identity.read_config's, git.write_tree's: what prepare-commit-msg asks first.
_COMMIT_READS = (((*_DIRS_ARGS, "--verify", "--quiet", "--end-of-options", "HEAD"), True),
                 (("config", "--list", "-z"), False), (("write-tree",), False))
_STARTED: list[tuple[list[str], dict[str, str], spawn.Started]] = []


def forget_started() -> None:
    """Wait for what was started and not used (a hook that returned early): no later call in this
    process may take the output of an earlier state."""
    while _STARTED:
        spawn.finish(_STARTED.pop()[2])


def start_commit_reads(*, config: bool = True) -> None:
    """Start prepare-commit-msg's first git processes now: they run on another core while the hook
    imports its modules, and `_spawn` hands their output to the calls that would have run them
    (the same arguments in the same environment). `config=False` leaves out `git config --list`,
    for a hook that may write the configuration first."""
    env = _env(None, pinned=False)
    here = os.path.abspath(os.getcwd())
    for args, in_here in _COMMIT_READS:
        if args[0] == "config" and not config:
            continue
        argv = ["git", *(("-C", here) if in_here else ()), *args]
        try:
            _STARTED.append((argv, env, spawn.start(argv, env=env)))
        except OSError:
            return  # no git: the hook's own call says so

