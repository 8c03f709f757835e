"""stream.py cuts git's output into commits however the pipe delivers it."""

from __future__ import annotations

from pathlib import Path

import factory as f

from provenance.audit import scan, stream


def _history(tmp_path: Path) -> Path:
    repo = f.init(tmp_path / "r")
    f.write(repo, {"a.txt": "1\n2\n3\n"})
    f.git(repo, "add", "-A")
    f.git(repo, "commit", "-q", "--no-verify", "-m", "root")
    for i in range(4):
        f.write(repo, {f"d{i}/é {i}.txt": f"{i}\n" * (i * 400), "a.txt": f"{i}\n"})
        f.git(repo, "add", "-A")
        # A long message crosses many small blocks; an empty body line and a trailer end it.
        f.git(repo, "commit", "-q", "--no-verify", "-m", f"change {i}\n\n{'word ' * 300 * i}",
              "-m", "Key: value")
    return repo


def test_commits_are_the_same_whatever_the_block_sizes(tmp_path: Path) -> None:
    repo = _history(tmp_path)
    subjects = ["root", "change 0", "change 1", "change 2", "change 3"]
    patches = b"".join(stream.commit_lines(stream.topo_order(["HEAD"], repo), repo))
    raw = b"".join(scan.scan_log(["HEAD"], repo))  # newest first
    for data, with_patches, order in ((patches, True, subjects), (raw, False, subjects[::-1])):
        whole = list(stream.parse_log([data], patches=with_patches))
        assert [r.message.split("\n")[0] for r in whole] == order
        for size in (1, 2, 5, 13, 4096):
            blocks = [data[i:i + size] for i in range(0, len(data), size)]
            assert list(stream.parse_log(blocks, patches=with_patches)) == whole, size
