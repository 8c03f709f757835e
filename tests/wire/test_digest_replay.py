"""A generated 200-commit history replayed through the real hooks: every declaration carries the
digest the audit computes (binary files, symlinks, mode changes, deletions and odd names included).
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import Person, Repo
from test_digest import declared_digests, make_repo

from provenance.git import git
from provenance.wire import digest


def _fast_import_stream(seed: int, count: int) -> bytes:
    """A random linear history: text and binary files in nested directories, with adds,
    edits, deletes, mode changes and symlinks."""
    rng = random.Random(seed)
    dirs = ["", "src/", "src/core/", "docs/", "a b/", "deep/er/still/", "ünï/"]
    files: dict[str, tuple[str, bytes]] = {}
    out = [b"reset refs/heads/main\n"]
    for n in range(count):
        ops: list[bytes] = []
        for _ in range(rng.randint(1, 4)):
            roll = rng.random()
            if files and roll < 0.45:
                path = rng.choice(sorted(files))
                mode, data = files[path]
                if mode == "120000" or data[:1] == b"\0":
                    data = b"\0" + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
                    mode = "100644" if mode == "120000" else mode
                else:
                    text = data.decode().splitlines(keepends=True)
                    at = rng.randrange(len(text) + 1)
                    if text and rng.random() < 0.4:
                        del text[at - 1 if at else 0]
                    text.insert(at, f"edit {n} {rng.random():.6f}\n")
                    data = "".join(text).encode()
                    if rng.random() < 0.1:
                        mode = "100755" if mode == "100644" else "100644"
                files[path] = (mode, data)
            elif files and roll < 0.6:
                path = rng.choice(sorted(files))
                del files[path]
                ops.append(b'D "' + path.encode() + b'"\n')
                continue
            else:
                path = f"{rng.choice(dirs)}f{n}_{rng.randrange(1000)}"
                kind = rng.random()
                if kind < 0.15:
                    path += ".bin"
                    files[path] = ("100644", b"\0" + bytes(rng.randrange(256) for _ in range(50)))
                elif kind < 0.2:
                    files[path] = ("120000", b"../target/" + str(n).encode())
                else:
                    path += ".txt"
                    body = "".join(f"{n} line {i}\n" for i in range(rng.randint(0, 40)))
                    files[path] = ("100644", body.encode())
            mode, data = files[path]
            ops.append(f'M {mode} inline "{path}"\n'.encode() + b"data %d\n" % len(data) + data + b"\n")
        msg = f"source commit {n}\n".encode()
        out.append(b"commit refs/heads/main\n")
        out.append(b"committer Src <src@example.com> %d +0000\n" % (1_700_000_000 + n))
        out.append(b"data %d\n" % len(msg) + msg)
        out.extend(ops)
        out.append(b"\n")
    return b"".join(out)


REPLAY_COMMITS = 200
REPLAY_CHUNKS = 4


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory,
             people: dict[str, Person]) -> list[tuple[Repo, str]]:
    """A generated source history replayed commit by commit through the hooks.

    The history is cut into chunks replayed in parallel (each chunk starts with a root commit
    holding the tree so far): a commit through three hooks costs a few hundred milliseconds.
    """
    root = tmp_path_factory.mktemp("replay")
    source = make_repo(root / "source", None, hooks=False)
    source.run("git", "fast-import", "--quiet",
               input=_fast_import_stream(seed=20240601, count=REPLAY_COMMITS))
    shas = source.git("rev-list", "--reverse", "main").split()
    assert len(shas) == REPLAY_COMMITS
    size = -(-len(shas) // REPLAY_CHUNKS)

    def replay(k: int) -> list[tuple[Repo, str]]:
        repo = make_repo(root / f"chunk{k}", people["bob"])
        repo.git("fetch", "-q", str(source.path), "main:refs/source")
        done = []
        for sha in shas[k * size:(k + 1) * size]:
            repo.git("read-tree", "-u", "--reset", sha)
            repo.git("commit", "-q", "--allow-empty", "-m", f"replay of {sha}")
            new = repo.git("rev-parse", "HEAD").strip()
            assert repo.git("rev-parse", f"{new}^{{tree}}") == repo.git("rev-parse", f"{sha}^{{tree}}")
            done.append((repo, new))
        return done

    with ThreadPoolExecutor(REPLAY_CHUNKS) as pool:
        return [c for chunk in pool.map(replay, range(REPLAY_CHUNKS)) for c in chunk]


def test_replayed_history_declares_the_audit_digest_for_every_commit(
    replayed: list[tuple[Repo, str]],
) -> None:
    assert len(replayed) >= 200
    for repo, sha in replayed:
        assert declared_digests(repo, sha) == [digest.of_commit(sha, cwd=repo.path)], sha


def test_replayed_history_exercises_binary_symlink_mode_and_delete(
    replayed: list[tuple[Repo, str]],
) -> None:
    patches = b"".join(git.patch(sha, cwd=repo.path) for repo, sha in replayed)
    for marker in (b"Binary files", b"new file mode 120000", b"new mode 100755",
                   b"deleted file mode", b"\\303\\274n\\303\\257/"):
        assert marker in patches, marker
