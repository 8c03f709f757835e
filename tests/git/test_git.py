"""git.py runs short git commands without subprocess: what subprocess.run did must still hold."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import clean_env

from provenance.errors import ProvenanceError
from provenance.git import git


@pytest.fixture
def plain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty repository; the test process runs elsewhere, with a clean environment."""
    for name, value in clean_env(tmp_path / "home").items():
        monkeypatch.setenv(name, value)
    for name in [n for n in os.environ if n.startswith("GIT_") and n != "GIT_CONFIG_NOSYSTEM"]:
        monkeypatch.delenv(name)
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.chdir(tmp_path)
    return repo


def test_large_input_and_output_at_once_cannot_deadlock(plain: Path) -> None:
    """Several pipe buffers each way: git writes while it still reads."""
    blob = git.run(["hash-object", "-w", "--stdin"], cwd=plain, input=b"x" * 5000).decode().strip()
    asked = (blob + "\n").encode() * 3000  # ~120 kB in, ~15 MB out
    out = git.run(["cat-file", "--batch"], cwd=plain, input=asked)
    assert out == (f"{blob} blob 5000\n".encode() + b"x" * 5000 + b"\n") * 3000
    assert git.read_blobs([blob] * 3, cwd=plain) == {blob: b"x" * 5000}


def test_cwd_is_where_git_runs_and_stdout_comes_back_whole(plain: Path) -> None:
    (plain / "sub").mkdir()
    assert git.text(["rev-parse", "--show-prefix"], cwd=plain / "sub") == "sub/"
    assert git.git_dir(plain) == plain / ".git"
    assert git.head(plain) is None  # unborn
    assert git.run_ok(["rev-parse", "--git-dir"], cwd=plain)
    assert not git.run_ok(["rev-parse", "--git-dir"], cwd=plain.parent)


def test_failures_report_git_s_last_error_line(plain: Path) -> None:
    with pytest.raises(ProvenanceError, match=r"^git cat-file failed: fatal: .*nope"):
        git.run(["cat-file", "-p", "nope"], cwd=plain)
    assert git.run(["cat-file", "-p", "nope"], cwd=plain, check=False) == b""
    assert git.rev_parse("nope", cwd=plain) is None
    assert git.config_get("no.such", cwd=plain) is None


def test_git_is_looked_up_on_the_child_s_path(plain: Path) -> None:
    with pytest.raises(ProvenanceError, match="git is not installed or not on PATH"):
        git.run(["--version"], cwd=plain, env={"PATH": str(plain)})
    assert git.text(["--version"], cwd=plain).startswith("git version")


def test_git_runs_with_the_signals_python_ignores_restored(plain: Path) -> None:
    """Python ignores SIGPIPE and SIGXFSZ; a git child must not inherit that (subprocess's rule)."""
    def ignored(status: str) -> int:
        return int(next(ln for ln in status.splitlines() if ln.startswith("SigIgn:")).split()[1], 16)

    assert ignored(Path("/proc/self/status").read_text()) & (1 << (signal.SIGPIPE - 1))
    child = git.text(["-c", "alias.status-of-shell=!cat /proc/$$/status", "status-of-shell"], cwd=plain)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        assert not ignored(child) & (1 << (sig - 1)), sig


def test_stdin_is_inherited_when_no_input_is_given(plain: Path, tmp_path: Path) -> None:
    source = tmp_path / "stdin"
    source.write_bytes(b"from the parent\n")
    code = ("import sys; from provenance.git import git; "
            "sys.stdout.buffer.write(git.run(['hash-object', '--stdin']))")
    with source.open("rb") as stdin:
        out = subprocess.run([sys.executable, "-c", code], stdin=stdin, capture_output=True,
                             check=True, cwd=plain).stdout
    assert out == subprocess.run(["git", "hash-object", "--stdin"], input=b"from the parent\n",
                                 capture_output=True, check=True).stdout


def _use_pinned(repo: Path, head: str, errors: list[Exception]) -> None:
    try:
        git.run(["rev-list", head], cwd=repo, pinned=True)
        git.run(["cat-file", "-t", f"{head}^{{tree}}"], cwd=repo, pinned=True)
    except Exception as e:  # noqa: BLE001 (collected for the assertion)
        errors.append(e)


def test_concurrent_first_uses_of_the_neutral_dir_never_see_it_half_made(plain: Path) -> None:
    """Two audits, a hook and an audit, or two threads of one audit may all make it at once."""
    import threading

    for n in range(5):
        repo = plain.parent / f"r{n}"
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        subprocess.run(["git", "-C", str(repo), "-c", "user.name=a", "-c", "user.email=a@x",
                        "commit", "-q", "--allow-empty", "-m", "x"], check=True)
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
        errors: list[Exception] = []
        threads = [threading.Thread(target=_use_pinned, args=(repo, head, errors))
                   for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert [p.name for p in (repo / ".git").iterdir() if "neutral" in p.name] == \
            ["provenance-neutral"]


def test_object_lookups_answer_many_names_in_one_round_trip_in_order(plain: Path) -> None:
    (plain / "a.txt").write_text("a\n")
    subprocess.run(["git", "add", "a.txt"], cwd=plain, check=True)
    subprocess.run(["git", "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-q",
                    "-m", "one"], cwd=plain, check=True)
    blob = subprocess.run(["git", "rev-parse", "HEAD:a.txt"], cwd=plain, check=True,
                          capture_output=True, text=True).stdout.strip()
    names = ["HEAD:a.txt", "HEAD:missing.txt", "HEAD:a.txt", "no\nsuch", "HEAD~5:a.txt"]
    with git.object_lookups(plain) as lookup_all:
        assert lookup_all(names) == [blob, None, blob, None, None]
        assert lookup_all([]) == []
        # Many at once: the answers wait in git's pipe until every name is written.
        assert lookup_all(["HEAD:a.txt"] * 512) == [blob] * 512
    with git.object_lookup(plain) as lookup:
        assert (lookup("HEAD:a.txt"), lookup("HEAD:nothing")) == (blob, None)


def _commit(repo: Path, name: str, text: str) -> str:
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-q",
                    "-m", name], cwd=repo, check=True)
    return git.text(["rev-parse", "HEAD"], cwd=repo)


def test_object_ids_are_resolved_once_a_process_and_names_at_every_call(
    plain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _commit(plain, "a.txt", "a\n"), _commit(plain, "b.txt", "b\n")
    trace = tmp_path / "trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    for _ in range(3):  # a push's range, read by each step that judges it
        assert git.resolve_revs([second, f"^{first}"], cwd=plain) == [second, f"^{first}"]
    assert git.resolve_revs([f"{first}..{second}"], cwd=plain) == [second, f"^{first}"]
    assert trace.read_text().count(" rev-parse --revs-only") == 2
    # A name is asked again each time: it may have moved.
    assert git.resolve_revs(["HEAD"], cwd=plain) == [second]
    third = _commit(plain, "c.txt", "c\n")
    assert git.resolve_revs(["HEAD"], cwd=plain) == [third]


def test_blob_at_gives_a_file_s_id_and_contents_and_nothing_for_a_folder_or_a_gap(
    plain: Path
) -> None:
    _commit(plain, "a.txt", "a\n")
    _commit(plain, "d/b.txt", "b\n")
    blob = git.text(["rev-parse", "HEAD:a.txt"], cwd=plain)
    assert git.blob_at("HEAD", "a.txt", cwd=plain) == (blob, b"a\n")
    assert git.blob_at("HEAD~1", "d/b.txt", cwd=plain) is None
    assert git.blob_at("HEAD", "d", cwd=plain) is None  # a tree, not a file
    # A tree among the names is skipped whole: the blobs after it still come back.
    tree = git.text(["rev-parse", "HEAD:d"], cwd=plain)
    assert git.read_blobs([tree, blob], cwd=plain) == {blob: b"a\n"}
