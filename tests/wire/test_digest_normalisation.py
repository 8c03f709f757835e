"""The change digest is normalised: the same change has the same digest wherever it lands, and a
different change (content, context or path) has another."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Repo
from test_digest import change_on, commit, lines, make_repo

from provenance.git import git
from provenance.wire import digest


@pytest.fixture
def plain(tmp_path: Path) -> Repo:
    return make_repo(tmp_path, None, hooks=False)


def test_same_change_at_another_offset_has_the_same_digest(plain: Repo) -> None:
    edit = lines(30).replace("line 20\n", "line twenty\n")
    here = change_on(plain, "here", {"f.txt": lines(30)}, {"f.txt": edit})
    shift = "far away\n" * 50
    there = change_on(plain, "there", {"f.txt": shift + lines(30)}, {"f.txt": shift + edit})
    assert b"@@ -18,7 +18,7 @@" in git.patch(here, cwd=plain.path)
    assert b"@@ -68,7 +68,7 @@" in git.patch(there, cwd=plain.path)
    assert digest.of_commit(here, cwd=plain.path) == digest.of_commit(there, cwd=plain.path)


def test_function_context_in_hunk_headers_is_ignored(plain: Repo) -> None:
    body = "".join(f"    body {i}\n" for i in range(30))
    edit = body.replace("body 20\n", "body twenty\n")
    foo = change_on(plain, "foo", {"f.py": "def foo():\n" + body}, {"f.py": "def foo():\n" + edit})
    bar = change_on(plain, "bar", {"f.py": "def bar():\n" + body}, {"f.py": "def bar():\n" + edit})
    assert b"@@ def foo():" in git.patch(foo, cwd=plain.path)
    assert b"@@ def bar():" in git.patch(bar, cwd=plain.path)
    assert digest.of_commit(foo, cwd=plain.path) == digest.of_commit(bar, cwd=plain.path)


def test_clean_rebase_onto_an_unrelated_upstream_change_keeps_the_digest(plain: Repo) -> None:
    commit(plain, {"f.txt": lines(60), "g.txt": "g\n"})
    plain.git("checkout", "-q", "-b", "topic")
    before = commit(plain, {"f.txt": lines(60).replace("line 40\n", "line forty\n")})
    plain.git("checkout", "-q", "main")
    commit(plain, {"f.txt": "upstream\n" * 7 + lines(60), "g.txt": "g2\n", "h.txt": "h\n"})
    plain.git("rebase", "-q", "main", "topic")
    after = plain.git("rev-parse", "HEAD").strip()
    assert after != before
    assert digest.of_commit(after, cwd=plain.path) == digest.of_commit(before, cwd=plain.path)


def test_digest_changes_with_content_context_and_path(plain: Repo) -> None:
    base: dict[str, str | bytes | None] = {"p.txt": lines(9), "q.txt": lines(9)}
    other = lines(9).replace("line 2\n", "other 2\n")
    shas = [
        change_on(plain, "same", base, {"p.txt": lines(9).replace("line 4\n", "line 4\nnew\n")}),
        change_on(plain, "content", base, {"p.txt": lines(9).replace("line 4\n", "line 4\nnewer\n")}),
        change_on(plain, "path", base, {"q.txt": lines(9).replace("line 4\n", "line 4\nnew\n")}),
        change_on(plain, "context", {"p.txt": other, "q.txt": lines(9)},
                  {"p.txt": other.replace("line 4\n", "line 4\nnew\n")}),
    ]
    assert len({digest.of_commit(s, cwd=plain.path) for s in shas}) == 4


def test_digest_of_patch_ignores_hunk_header_text_and_text_blob_ids() -> None:
    def patch(header: str, index: str) -> list[bytes]:
        return [b"diff --git a/f b/f\n", f"index {index} 100644\n".encode(), b"--- a/f\n",
                b"+++ b/f\n", f"{header}\n".encode(), b" ctx\n", b"-old\n", b"+new\n"]

    a = digest.digest_of_patch(patch("@@ -1,2 +1,2 @@", "1" * 40 + ".." + "2" * 40))
    b = digest.digest_of_patch(patch("@@ -90,2 +90,2 @@ def f():", "3" * 40 + ".." + "4" * 40))
    assert a == b
    assert digest.digest_of_patch([]) == digest.EMPTY
