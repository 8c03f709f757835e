"""stream.py finds a patch's `diff --` headers with a literal-prefix search; it must find exactly
the lines `patch.DIFF_HEADER` (a header starts a line: after LF only) finds, and the same policy
file ids after them."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.audit import stream
from provenance.policy.schema import POLICY_FILE
from provenance.wire.patch import DIFF_HEADER, path_of_header


def reference(patch: bytes) -> tuple[list[str], tuple[str, ...] | None]:
    """The paths and policy ids as `DIFF_HEADER` reads them."""
    paths: list[str] = []
    policy_ids = None
    for header in DIFF_HEADER.finditer(patch):
        path = path_of_header(header[0])
        if path is None:
            continue
        paths.append(path)
        if path == POLICY_FILE and policy_ids is None:
            after = patch[header.end():]
            extended = after[:m.start()] if (m := DIFF_HEADER.search(after)) else after
            index = re.search(rb"^index (\S+)", extended.split(b"\n@@", 1)[0], re.MULTILINE)
            if index is not None:
                old, _, new = index[1].decode().partition("..")
                policy_ids = (*old.split(","), new)
    return paths, policy_ids


# Headers at the start, mid-line, after a lone CR; the policy file's index lines of a plain and a
# combined diff, one only after a hunk (not the policy's), one before the next header.
LINES = [b"diff --git a/.provenance.toml b/.provenance.toml", b"diff --cc .provenance.toml",
         b"diff --combined .provenance.toml", b"diff --git a/x b/x",
         b'diff --git "a/\\303\\251" "b/\\303\\251"',
         b"index 1111..2222 100644", b"index 3,4..5", b"index 6..7", b"@@ -1 +1 @@", b"+index 8..9",
         b"x\rdiff --git a/y b/y", b" diff --git a/z b/z", b"diff --", b"diff --other", b""]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(LINES), max_size=10), st.booleans())
def test_the_headers_and_policy_ids_are_the_ones_diff_header_finds(lines: list[bytes],
                                                                   newline: bool) -> None:
    patch = b"\n".join(lines) + (b"\n" if newline else b"")
    paths: list[str] = []
    ids = stream._patch_facts(patch, paths)
    assert (paths, ids) == reference(patch)


def test_a_policy_change_gives_its_ids() -> None:
    patch = (b"diff --git a/x b/x\nindex 1..2 100644\n@@ -1 +1 @@\n-a\n+b\n"
             b"diff --git a/.provenance.toml b/.provenance.toml\nindex abc..def 100644\n")
    paths: list[str] = []
    assert stream._patch_facts(patch, paths) == ("abc", "def")
    assert paths == ["x", POLICY_FILE]
