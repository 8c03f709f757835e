"""Objects in the repository: blobs read one at a time or in a batch, commit messages, and the
commits the hooks write (a digest probe, a re-signed HEAD). Through `git`, like every git process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from provenance.errors import ProvenanceError
from provenance.git.env import _env, _spawn
from provenance.git.git import BOUNDED_MEMORY_CONFIG, rev_parse, run, text


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


def object_id(rev_path: str, *, cwd: str | Path | None = None) -> str | None:
    """Object id of `REV:PATH` (or any revision expression), None when absent."""
    return rev_parse(rev_path, cwd=cwd)


def amend_message(commit: str, message: bytes, *, cwd: str | Path | None = None) -> str:
    """Point HEAD at a copy of `commit` (HEAD) with a new message; identities and dates kept."""
    fields = text(
        ["log", "-1", "--format=%T%x00%P%x00%an%x00%ae%x00%ad%x00%cn%x00%ce%x00%cd",
         "--date=raw", commit], cwd=cwd,
    ).split("\0")
    tree, parents = fields[0], fields[1].split()
    env = dict(zip(
        ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE",
         "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE"),
        fields[2:], strict=True,
    ))
    args = ["commit-tree", "--no-gpg-sign", tree]
    for p in parents:
        args += ["-p", p]
    new = run(args, cwd=cwd, input=message, env=env).decode().strip()
    run(["update-ref", "-m", "git-provenance: re-sign declaration", "HEAD", new, commit], cwd=cwd)
    return new


def commit_message(rev: str, *, cwd: str | Path | None = None) -> bytes:
    """The raw message bytes of a commit (everything after the header)."""
    raw = run(["cat-file", "commit", rev], cwd=cwd)
    _, _, message = raw.partition(b"\n\n")
    return message


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
    import subprocess  # deferred: see `git.stream`

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
        blobs[header[0].decode()] = out[pos:pos + size]
        pos += size + 1
    return blobs
