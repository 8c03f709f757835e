"""Running git: one command to completion or one streamed process, repository facts and objects.

git/ is the only code that runs git: this module and `notes` (refs/notes/provenance as bytes);
`env` is the environment git starts in. Plain processes rather than GitPython: hooks must start in
a few milliseconds (GitPython's import alone costs more than the whole hook budget), and history is
read through one streamed process. Short commands go through `spawn.run` (os.posix_spawn); only
the streaming readers import subprocess.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from provenance.errors import ProvenanceError
from provenance.git import spawn
from provenance.git.env import _DIRS_ARGS, _env, _neutral_for, _spawn

TYPE_CHECKING = False  # not typing's, nor pathlib at run time: the commit hooks import this module
if TYPE_CHECKING:
    from pathlib import Path
# `-c` options that neutralise user configuration affecting patch text.
PINNED_DIFF_CONFIG: tuple[str, ...] = (
    "-c", "core.quotePath=true",
    "-c", "diff.noprefix=false",
    "-c", "diff.mnemonicPrefix=false",
    "-c", "diff.relative=false",
    "-c", "diff.suppressBlankEmpty=false",
    "-c", "diff.renames=false",
    "-c", "diff.algorithm=myers",
    "-c", "diff.indentHeuristic=true",
    "-c", "diff.interHunkContext=0",
    "-c", "diff.context=3",
    "-c", "diff.ignoreSubmodules=none",
    "-c", "color.ui=false",
    "-c", "log.showSignature=false",
    "-c", "core.attributesFile=/dev/null",
)
# Command-line options that pin patch output (options beat config; both are given for safety).
PINNED_DIFF_OPTIONS: tuple[str, ...] = (
    "--no-renames", "--no-color", "--no-ext-diff", "--no-textconv", "--full-index",
    "--diff-algorithm=myers", "--indent-heuristic", "--unified=3", "--inter-hunk-context=0",
    "--src-prefix=a/", "--dst-prefix=b/", "--no-relative", "--ignore-submodules=none",
    "-O/dev/null",  # neutralises diff.orderFile (`-c diff.orderFile=` makes git log fail)
)


# git keeps every object it parses, maps the pack in windows of up to 1 GiB and caches 96 MiB of
# delta bases, so one process over 100k commits peaks above 300 MB (`git log -p` itself: 310 MB).
# For history-long commands: bounded windows and caches, the same output, the same user time
# (measured at 100k commits: ~50 MB a process).
BOUNDED_MEMORY_CONFIG: tuple[str, ...] = (
    "-c", "core.packedGitWindowSize=4m", "-c", "core.packedGitLimit=32m",
    "-c", "core.deltaBaseCacheLimit=16m",
)


_OID_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def is_oid(name: str) -> bool:
    return _OID_RE.fullmatch(name) is not None


def neutral_dir(cwd: str | Path | None = None) -> str:
    return _neutral_for(dirs(cwd)[1])


_RESOLVED: dict[tuple[str, tuple[str, ...]], list[str]] = {}
_OID_ARGUMENT = re.compile(r"\^?(?:[0-9a-f]{40}|[0-9a-f]{64})")


def resolve_revs(revs: Sequence[str], *, cwd: str | Path | None = None) -> list[str]:
    """Revision arguments as object ids (`A..B` -> `B ^A`), resolved in the real repository.

    Object ids alone are resolved once a process (no ref can change them): a push's range is
    resolved by each step that reads it."""
    key = (os.path.abspath(cwd or os.getcwd()), tuple(revs))
    if key not in _RESOLVED:
        out = run(["rev-parse", "--revs-only", "--end-of-options", *revs], cwd=cwd).decode().split()
        if not all(_OID_ARGUMENT.fullmatch(rev) for rev in revs):
            return out
        _RESOLVED[key] = out
    return list(_RESOLVED[key])


def run(
    args: Sequence[str],
    *,
    cwd: str | Path | None = None,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    pinned: bool = False,
) -> bytes:
    """Run `git ARGS` and return stdout; raise ProvenanceError with git's message on failure."""
    if pinned:
        env = {**(env or {}), "GIT_DIR": neutral_dir(cwd)}
    returncode, stdout, stderr = _spawn(args, cwd=cwd, input=input, env=_env(env, pinned=pinned))
    if check and returncode != 0:
        msg = stderr.decode(errors="replace").strip().splitlines()
        detail = msg[-1] if msg else f"exit status {returncode}"
        raise ProvenanceError(f"git {args[0] if args else ''} failed: {detail}")
    return stdout


def run_ok(args: Sequence[str], *, cwd: str | Path | None = None) -> bool:
    """True when `git ARGS` exits 0 (output discarded)."""
    return _spawn(args, cwd=cwd)[0] == 0


def text(args: Sequence[str], **kwargs: object) -> str:
    """`run` decoded as UTF-8 (surrogateescape keeps foreign bytes) with the final newline removed."""
    out = run(args, **kwargs)  # type: ignore[arg-type]
    return out.decode("utf-8", "surrogateescape").removesuffix("\n")


def stream(
    args: Sequence[str],
    *,
    cwd: str | Path | None = None,
    stdin_lines: Iterable[bytes] | None = None,
    pinned: bool = False,
    by_line: bool = True,
    env: Mapping[str, str] | None = None,
) -> Iterator[bytes]:
    """Yield stdout of one long-running git process line by line (bytes, with the newline), or
    in blocks of up to 64 KiB as they arrive when not `by_line`.

    stdin is written from a thread so a large input can never deadlock against a full stdout pipe.
    """
    import subprocess  # deferred, with threading: hooks never stream (see `_spawn`)
    import threading

    proc = subprocess.Popen(
        ["git", *args],
        cwd=cwd,
        stdin=subprocess.PIPE if stdin_lines is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env({**(env or {}), **({"GIT_DIR": neutral_dir(cwd)} if pinned else {})},
                 pinned=pinned),
        bufsize=1 << 16,
    )
    assert proc.stdout is not None and proc.stderr is not None
    feeder = None
    if stdin_lines is not None:
        assert proc.stdin is not None
        stdin = proc.stdin

        def feed() -> None:
            try:
                for line in stdin_lines:
                    stdin.write(line)
                stdin.close()
            except BrokenPipeError:
                pass

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
    stderr_chunks: list[bytes] = []
    drain = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    drain.start()
    try:
        if by_line:
            yield from proc.stdout
        else:
            out = proc.stdout
            assert isinstance(out, io.BufferedReader)
            spawn.widen_pipe(out.fileno())
            yield from iter(lambda: out.read1(1 << 16), b"")
    finally:
        proc.stdout.close()
        rc = proc.wait()
        drain.join()
        if feeder is not None:
            feeder.join(timeout=1)
    if rc != 0:
        err = b"".join(stderr_chunks).decode(errors="replace").strip().splitlines()
        raise ProvenanceError(f"git {args[0]} failed: {err[-1] if err else rc}")


# ---- repository facts -------------------------------------------------------------------------


def toplevel(cwd: str | Path | None = None) -> Path:
    from pathlib import Path
    try:
        return Path(text(["rev-parse", "--show-toplevel"], cwd=cwd))
    except ProvenanceError:
        raise ProvenanceError("not a git repository (or no work tree)") from None


_DIRS: dict[tuple[str, str | None], tuple[str, str]] = {}


def _remember_dirs(key: tuple[str, str | None], out: list[str]) -> tuple[str, str]:
    common = out[1] if os.path.isabs(out[1]) else os.path.realpath(os.path.join(key[0], out[1]))
    _DIRS[key] = out[0], common
    return _DIRS[key]


def dirs(cwd: str | Path | None = None) -> tuple[str, str]:
    """(absolute git dir, absolute common dir) in one process, as strings for the pathlib-free hooks."""
    key = (os.path.abspath(cwd or os.getcwd()), os.environ.get("GIT_DIR"))
    if key in _DIRS:
        return _DIRS[key]
    try:
        out = text(_DIRS_ARGS, cwd=key[0]).splitlines()
    except ProvenanceError:
        raise ProvenanceError("not a git repository") from None
    return _remember_dirs(key, out)


def head(cwd: str | Path | None = None) -> str | None:
    """`rev_parse("HEAD")`; asked first, it learns the git dirs in the same process (hooks)."""
    key = (os.path.abspath(cwd or os.getcwd()), os.environ.get("GIT_DIR"))
    if key in _DIRS:
        return rev_parse("HEAD", cwd=cwd)
    returncode, stdout, _ = _spawn(
        [*_DIRS_ARGS, "--verify", "--quiet", "--end-of-options", "HEAD"], cwd=key[0]
    )
    out = stdout.decode("utf-8", "surrogateescape").splitlines()
    if len(out) < 2:  # not a repository: git_dir says so
        dirs(cwd)
        return rev_parse("HEAD", cwd=cwd)
    _remember_dirs(key, out)
    return out[2] if returncode == 0 and len(out) == 3 else None


def git_dir(cwd: str | Path | None = None) -> Path:
    """The absolute git directory (per-worktree)."""
    from pathlib import Path
    return Path(dirs(cwd)[0])


def common_dir(cwd: str | Path | None = None) -> Path:
    from pathlib import Path
    return Path(dirs(cwd)[1])


def hooks_dir(cwd: str | Path | None = None) -> Path:
    from pathlib import Path
    out = Path(text(["rev-parse", "--git-path", "hooks"], cwd=cwd))
    return out if out.is_absolute() else (Path(cwd or ".") / out).resolve()


def config_get(key: str, *, cwd: str | Path | None = None) -> str | None:
    returncode, stdout, _ = _spawn(["config", "--get", key], cwd=cwd)
    if returncode != 0:
        return None
    return stdout.decode("utf-8", "surrogateescape").removesuffix("\n")


def config_set(key: str, value: str, *, cwd: str | Path | None = None) -> None:
    run(["config", key, value], cwd=cwd)


def rev_parse(rev: str, *, cwd: str | Path | None = None) -> str | None:
    """The full object id `rev` names, or None if it names nothing."""
    returncode, stdout, _ = _spawn(["rev-parse", "--verify", "--quiet", "--end-of-options", rev], cwd=cwd)
    if returncode != 0:
        return None
    return stdout.decode().strip()


def is_shallow(cwd: str | Path | None = None) -> bool:
    return text(["rev-parse", "--is-shallow-repository"], cwd=cwd) == "true"


def read_blob(rev: str, path: str, *, cwd: str | Path | None = None) -> bytes | None:
    """Contents of `path` in `rev`'s tree, or None when it is absent."""
    returncode, stdout, _ = _spawn(["cat-file", "blob", f"{rev}:{path}"], cwd=cwd)
    return stdout if returncode == 0 else None


def write_tree(*, cwd: str | Path | None = None) -> str:
    """The tree the index (GIT_INDEX_FILE, when a hook is given a temporary one) would commit."""
    return text(["write-tree"], cwd=cwd)


def commit_tree(
    tree: str, parents: Sequence[str], message: bytes, *, cwd: str | Path | None = None
) -> str:
    """Write a commit object (not referenced by anything) and return its id."""
    args = ["commit-tree", "--no-gpg-sign", tree]
    for p in parents:
        args += ["-p", p]
    # A fixed identity and date: the probe needs no real one, and equal probes share one object.
    ident = {
        "GIT_AUTHOR_NAME": "git-provenance", "GIT_AUTHOR_EMAIL": "probe@git-provenance.invalid",
        "GIT_AUTHOR_DATE": "@0 +0000", "GIT_COMMITTER_NAME": "git-provenance",
        "GIT_COMMITTER_EMAIL": "probe@git-provenance.invalid", "GIT_COMMITTER_DATE": "@0 +0000",
    }
    return run(args, cwd=cwd, input=message, env=ident).decode().strip()


def blob_at(rev: str, path: str, *, cwd: str | Path | None = None) -> tuple[str, bytes] | None:
    """(id, contents) of the blob at `path` in `rev`'s tree, through one process; None when absent
    or not a blob."""
    return next(iter(read_blobs([f"{rev}:{path}"], cwd=cwd).items()), None)


def commit_message(rev: str, *, cwd: str | Path | None = None) -> bytes:
    """The raw message bytes of a commit (everything after the header)."""
    raw = run(["cat-file", "commit", rev], cwd=cwd)
    _, _, message = raw.partition(b"\n\n")
    return message


def patch(commit: str, *, cwd: str | Path | None = None) -> bytes:
    """The pinned patch of one commit against its first parent (--cc for merges, empty-tree roots)."""
    if not is_oid(commit):
        resolved = rev_parse(f"{commit}^{{commit}}", cwd=cwd)
        if resolved is None:
            raise ProvenanceError(f"{commit!r} does not name a commit")
        commit = resolved
    return run(
        [*PINNED_DIFF_CONFIG, "diff-tree", "-p", "--cc", "--root", "-r", *PINNED_DIFF_OPTIONS,
         "--no-commit-id", commit],
        cwd=cwd, pinned=True,
    )


@contextlib.contextmanager
def object_lookup(cwd: str | Path | None = None) -> Iterator[Callable[[str], str | None]]:
    """One `git cat-file --batch-check` for many look-ups: yields `lookup(REV:PATH) -> id | None`.

    Without `--buffer` git answers each request at once, so a walk can ask as it goes.
    """
    with object_lookups(cwd) as lookup_all:
        yield lambda name: lookup_all([name])[0]


@contextlib.contextmanager
def object_lookups(cwd: str | Path | None = None
                   ) -> Iterator[Callable[[Sequence[str]], list[str | None]]]:
    """`object_lookup` for a few hundred names at once: one round trip to git, not one a name."""
    import subprocess  # deferred: see `stream`

    proc = subprocess.Popen(
        # Bounded too: a walk's look-ups reach across the whole pack, and unbounded windows map it
        # whole (157 MB resident at 100k commits, more than the walk's own git log).
        ["git", *BOUNDED_MEMORY_CONFIG, "cat-file", "--batch-check=%(objectname)"], cwd=cwd,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=_env(None, pinned=False),
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    def lookup_all(names: Sequence[str]) -> list[str | None]:
        asked = [name for name in names if "\n" not in name]
        # The answers wait in git's stdout pipe until all are asked: ~41 bytes each, so a few
        # hundred names stay far below the 64 KiB that would block git.
        stdin.write(b"".join(name.encode("utf-8", "surrogateescape") + b"\n" for name in asked))
        stdin.flush()
        answers: dict[str, str | None] = {}
        for name in asked:
            answer = stdout.readline().decode().strip()
            if not answer:
                raise ProvenanceError("git cat-file --batch-check stopped answering")
            answers[name] = None if answer.endswith(" missing") or " " in answer else answer
        return [answers.get(name) for name in names]

    try:
        yield lookup_all
    finally:
        stdin.close()
        stdout.close()
        proc.wait()


def read_blobs(ids: Sequence[str], *, cwd: str | Path | None = None) -> dict[str, bytes]:
    """Contents of many blobs through one `git cat-file --batch` (missing ones are left out)."""
    if not ids:
        return {}
    out = run(["cat-file", "--batch"], cwd=cwd, input="".join(i + "\n" for i in ids).encode())
    blobs: dict[str, bytes] = {}
    pos = 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) != 3:
            continue  # "<id> missing"
        size = int(header[2])
        if header[1] == b"blob":  # a REV:PATH may name a tree
            blobs[header[0].decode()] = out[pos:pos + size]
        pos += size + 1
    return blobs
