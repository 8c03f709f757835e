"""Generate large synthetic histories whose every commit carries REAL signatures.

Two `git fast-import` passes over the same deterministic plan (bench/plan.py):

1. the trees and unsigned messages go into a scratch repository, and one streamed pinned
   `git log -p --cc` (the audit's own `walk.log_stream`) gives every commit's change digest;
2. the same plan is replayed into the final repository, now with declarations and co-signs signed
   in-process (`provenance.sshsig`, Ed25519) over those digests, plus co-signs in
   `refs/notes/provenance`.

A change digest depends only on a commit's tree and its parents' trees, so digests from pass 1 hold
in pass 2 even though the commit ids differ. Results are cached under bench/out/ by parameters.

    .venv/bin/python bench/generate.py --commits 10000
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import plan as plan_mod  # noqa: E402
from plan import SENIORS, Person, Planned, _data, plan  # noqa: E402

from provenance.audit import walk  # noqa: E402
from provenance.ssh import signing, sshsig  # noqa: E402
from provenance.wire.digest import EMPTY  # noqa: E402
from provenance.wire.statement import Statement  # noqa: E402

GENERATOR_VERSION = 1
OUT = Path(__file__).resolve().parent / "out"


def sign(statement: Statement, who: Person) -> str:
    """The base64 SSHSIG blob of `who` over the statement, made in-process."""
    data = sshsig._signed_data(sshsig.NAMESPACE, "sha512",
                               hashlib.sha512(statement.to_bytes()).digest())
    signature = signing._sign_with(who.private, "ssh-ed25519", data)
    return sshsig.b64(sshsig.encode_blob(sshsig.SshSig(who.public, sshsig.NAMESPACE, "sha512",
                                                       signature)))


def _header(c: Planned, message: bytes) -> bytes:
    when = 1_600_000_000 + c.mark * 60
    ident = f"{c.author.name} <{c.author.email}> {when} +0000\n".encode()
    out = b"commit refs/heads/main\nmark :%d\nauthor " % c.mark + ident + b"committer " + ident
    out += _data(message)
    if c.parents:
        out += b"from :%d\n" % c.parents[0]
    for p in c.parents[1:]:
        out += b"merge :%d\n" % p
    return out + c.changes + b"\n"


def _message(c: Planned, change: str | None) -> tuple[bytes, bytes | None]:
    """(commit message, note text or None); unsigned when `change` is None."""
    body = f"{c.subject}\n\nSynthetic change {c.mark}.\n"
    if change is None:
        return body.encode(), None
    author = c.author.email
    assisted = ("claude-code",) if c.ai else ()
    declare = Statement("declare", change, author, author, ai_assisted=c.ai,
                        assisted_by=assisted, policy=c.policy_blob)
    trailer = [f"AI-Assisted: {'yes' if c.ai else 'no'}"] + [f"Assisted-by: {a}" for a in assisted]
    trailer.append(f"Provenance-Signature: v1 declare {author} {change} {sign(declare, c.author)}")
    note = None
    if c.cosign:
        senior = next(s for s in SENIORS if s.email != author)
        stmt = Statement("cosign", change, author, senior.email, policy=c.policy_blob)
        line = f"Provenance-Signature: v1 cosign {senior.email} {change} {sign(stmt, senior)}"
        if c.cosign == "note":
            note = (line + "\n").encode()
        else:
            trailer.append(line)
    return (body + "\n" + "\n".join(trailer) + "\n").encode(), note


def _fast_import(repo: Path, feed: Callable[[Callable[[bytes], None]], None], marks: Path) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    proc = subprocess.Popen(["git", "fast-import", "--quiet", f"--export-marks={marks}"],
                            cwd=repo, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    buf: list[bytes] = []

    def write(chunk: bytes) -> None:
        buf.append(chunk)
        if len(buf) > 512:
            proc.stdin.write(b"".join(buf))  # type: ignore[union-attr]
            buf.clear()

    feed(write)
    proc.stdin.write(b"".join(buf))
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")


def _marks(path: Path) -> dict[int, str]:
    out = {}
    for line in path.read_text().splitlines():
        mark, sha = line.split()
        out[int(mark[1:])] = sha
    return out


@dataclass(frozen=True)
class History:
    path: Path
    commits: int
    ai: int
    cosigned_trailer: int
    cosigned_note: int
    merges: int


def _read_history(path: Path) -> History:
    fields = dict(line.split("=", 1) for line in (path / "DONE").read_text().splitlines())
    return History(path / "repo", int(fields["commits"]), int(fields["ai"]),
                   int(fields["cosigned_trailer"]), int(fields["cosigned_note"]),
                   int(fields["merges"]))


def generate(commits: int, seed: int = 1, *, log: Callable[[str], None] = print) -> History:
    """The history of `commits` commits for `seed`, generated once and cached under bench/out/."""
    where = OUT / f"history-v{GENERATOR_VERSION}-n{commits}-s{seed}"
    if (where / "DONE").exists():
        return _read_history(where)
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    scratch = where / "scratch"
    log(f"generating {commits} commits (pass 1: trees) in {where}")

    def unsigned(write: Callable[[bytes], None]) -> None:
        for c in plan(commits, seed):
            write(_header(c, _message(c, None)[0]))

    _fast_import(scratch, unsigned, where / "marks-1")
    sha_of = _marks(where / "marks-1")
    log("pass 1: change digests from one pinned git log -p")
    by_sha = {raw.sha: raw.digest for raw in walk.log_stream(["main"], scratch)}
    digests = {mark: by_sha.get(sha, EMPTY) for mark, sha in sha_of.items()}
    del by_sha, sha_of
    shutil.rmtree(scratch)
    counts = {"commits": 0, "ai": 0, "cosigned_trailer": 0, "cosigned_note": 0, "merges": 0}
    log("pass 2: signed messages and notes")

    def signed(write: Callable[[bytes], None]) -> None:
        notes: list[tuple[int, bytes]] = []
        for c in plan(commits, seed):
            message, note = _message(c, None if not c.parents else digests[c.mark])
            if note is not None:
                notes.append((c.mark, note))
            write(_header(c, message))
            counts["commits"] += 1
            counts["ai"] += c.ai
            counts["merges"] += len(c.parents) > 1
            counts["cosigned_trailer"] += c.cosign in ("trailer", "policy")
            counts["cosigned_note"] += c.cosign == "note"
        if notes:
            ident = b"Alice Senior <alice@example.com> 1600000000 +0000\n"
            write(b"commit refs/notes/provenance\ncommitter " + ident + _data(b"co-signs\n"))
            for mark, text in notes:
                write(b"N inline :%d\n" % mark + _data(text))
            write(b"\n")

    _fast_import(where / "repo", signed, where / "marks-2")
    subprocess.run(["git", "config", "core.hooksPath", "/dev/null"], cwd=where / "repo", check=True)
    (where / "DONE").write_text("".join(f"{k}={v}\n" for k, v in counts.items()))
    return _read_history(where)


AGENT_TRAILER = "Co-Authored-By: Claude <noreply@anthropic.com>"  # Claude Code's own fingerprint


def generate_unadopted(commits: int, seed: int = 1, *, light: bool = False,
                       log: Callable[[str], None] = print) -> Path:
    """The same plan before adoption: no declarations, signatures or notes; AI-assisted commits
    carry only their agent's fingerprint. What `audit --policy` scans (no digests needed).
    `light`: the light plan (one-line files in folders of 64, plan.py), for a million commits."""
    where = (OUT / f"history-v{GENERATOR_VERSION}-n{commits}-s{seed}"
             / (f"unadopted-light{plan_mod.LIGHT_VERSION}" if light else "unadopted"))
    if (where / "DONE").exists():
        return where / "repo"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    log(f"generating {commits} unadopted commits in {where}")

    def unsigned(write: Callable[[bytes], None]) -> None:
        for c in plan(commits, seed, light):
            message = _message(c, None)[0]
            write(_header(c, message + b"\n" + AGENT_TRAILER.encode() + b"\n" if c.ai else message))

    _fast_import(where / "repo", unsigned, where / "marks")
    subprocess.run(["git", "config", "core.hooksPath", "/dev/null"], cwd=where / "repo", check=True)
    (where / "DONE").write_text("done\n")
    return where / "repo"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--commits", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--unadopted", action="store_true",
                    help="only the unadopted history (what a scan reads): no signatures, no pass 1")
    ap.add_argument("--light", action="store_true",
                    help="with --unadopted: the light plan (one-line files, small folders)")
    args = ap.parse_args()
    if args.unadopted:
        print(generate_unadopted(args.commits, args.seed, light=args.light))
        return
    h = generate(args.commits, args.seed)
    print(f"{h.path}: {h.commits} commits, {h.ai} AI-assisted, {h.merges} merges, "
          f"{h.cosigned_trailer} trailer co-signs, {h.cosigned_note} note co-signs")


if __name__ == "__main__":
    os.environ.setdefault("GIT_CONFIG_NOSYSTEM", "1")
    main()
