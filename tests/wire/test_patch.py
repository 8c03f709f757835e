"""A patch and `--raw` lines read as files: which of their paths are submodules (mode 160000).

The bytes are git's own (git 2.39), cut down; tests/audit/test_submodules.py checks the same on
real histories, against `--raw`."""

from __future__ import annotations

from provenance.wire.patch import RawEntry, patch_gitlinks, raw_entries, raw_gitlinks, raw_paths

A, B, C = "a" * 40, "b" * 40, "c" * 40


def _section(path: str, extended: str, body: str) -> str:
    return f"diff --git a/{path} b/{path}\n{extended}--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n{body}"


def test_a_patch_names_a_submodule_by_the_mode_in_its_extended_header() -> None:
    bump = _section("vendor/lib", f"index {A}..{B} 160000\n",
                    f"-Subproject commit {A}\n+Subproject commit {B}\n")
    added = _section("sub", f"new file mode 160000\nindex {'0' * 40}..{B}\n", f"+Subproject commit {B}\n")
    gone = _section("old", f"deleted file mode 160000\nindex {A}..{'0' * 40}\n", f"-Subproject commit {A}\n")
    text = _section("notes.txt", f"index {A}..{B} 100644\n",
                    f"-x = 160000\n+Subproject commit {B}\n")  # a file's text names nothing
    assert patch_gitlinks((bump + text + added + gone).encode()) == ("vendor/lib", "sub", "old")
    assert patch_gitlinks(text.encode()) == ()


def test_a_combined_diff_names_a_submodule_by_its_subproject_hunk() -> None:
    # A merge that resolved a conflicting bump: --cc prints no mode that all sides share.
    cc = (f"diff --cc vendor/lib\nindex {A},{B}..{C}\n--- a/vendor/lib\n+++ b/vendor/lib\n"
          f"@@@ -1,1 -1,1 +1,1 @@@\n- Subproject commit {A}\n -Subproject commit {B}\n"
          f"++Subproject commit {C}\n"
          f"diff --cc notes.txt\nindex {A},{B}..{C}\n--- a/notes.txt\n+++ b/notes.txt\n"
          f"@@@ -1,1 -1,1 +1,1 @@@\n- Subproject commit {A}\n -Subproject commit {B}\n"
          "++not a submodule\n"
          f"diff --cc mixed\nmode 100644,160000..160000\nindex {A},{B}..{C}\n")
    assert patch_gitlinks(cc.encode()) == ("vendor/lib", "mixed")


def test_raw_lines_carry_both_modes() -> None:
    raw = (f":160000 160000 {A} {B} M\tvendor/lib\n:100644 100644 {A} {B} M\tREADME\n"
           f":160000 100644 {A} {B} T\t\"w\\303\\266rk\"\n:000000 160000 {'0' * 40} {B} A\tnew\n").encode()
    entries = list(raw_entries(raw))
    assert entries[0] == RawEntry("160000", "160000", A, B, b"M", "vendor/lib")
    assert [e.gitlink for e in entries] == [True, False, True, True]
    assert raw_paths(raw) == ("vendor/lib", "README", "wörk", "new")
    assert raw_gitlinks(raw) == ("vendor/lib", "wörk", "new")
    assert raw_gitlinks(f":100644 100644 {A} {B} M\tREADME\n".encode()) == ()
