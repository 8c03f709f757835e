"""Generate large synthetic histories whose every commit carries REAL signatures.

Two `git fast-import` passes over the same deterministic plan:

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
import random
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402

from provenance import sshsig, sshsign  # noqa: E402
from provenance.audit import walk  # noqa: E402
from provenance.digest import EMPTY  # noqa: E402
from provenance.policy import POLICY_FILE  # noqa: E402
from provenance.statement import Statement  # noqa: E402

GENERATOR_VERSION = 1
OUT = Path(__file__).resolve().parent / "out"
CRITICAL = ("services/payments/**", "services/checkout/**")
LATER_CRITICAL = "lib/core/**"  # added by the policy change half-way
SERVICES = ("payments", "checkout", "search", "accounts", "ledger", "mail", "catalog", "auth",
            "reports", "billing", "shipping", "inventory", "web", "mobile", "admin", "infra")
MODULES = ("api", "db", "models", "views", "jobs", "util", "tests", "config", "cli", "cache")
WORDS = ("value", "count", "total", "item", "order", "user", "cache", "result", "index", "key",
         "price", "amount", "record", "state", "token", "limit", "offset", "buffer", "queue")


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    senior: bool
    private: ed25519.Ed25519PrivateKey
    public: sshsig.PublicKey


def person(name: str, email: str, senior: bool) -> Person:
    private = ed25519.Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"git-provenance bench " + email.encode()).digest())
    raw = private.public_key().public_bytes_raw()
    blob = sshsig._str(b"ssh-ed25519") + sshsig._str(raw)
    return Person(name, email, senior, private, sshsig.PublicKey("ssh-ed25519", blob))


PEOPLE = (
    person("Alice Senior", "alice@example.com", True),
    person("Carol Senior", "carol@example.com", True),
    person("Bob Developer", "bob@example.com", False),
    person("Dave Developer", "dave@example.com", False),
    person("Erin Developer", "erin@example.com", False),
    person("Frank Developer", "frank@example.com", False),
)
SENIORS = tuple(p for p in PEOPLE if p.senior)


def sign(statement: Statement, who: Person) -> str:
    """The base64 SSHSIG blob of `who` over the statement, made in-process."""
    data = sshsig._signed_data(sshsig.NAMESPACE, "sha512",
                               hashlib.sha512(statement.to_bytes()).digest())
    signature = sshsign._sign_with(who.private, "ssh-ed25519", data)
    return sshsig.b64(sshsig.encode_blob(sshsig.SshSig(who.public, sshsig.NAMESPACE, "sha512",
                                                       signature)))


def policy_text(extra_rule: bool) -> bytes:
    def rule(name: str, paths: tuple[str, ...]) -> list[str]:
        quoted = ", ".join(f'"{p}"' for p in paths)
        return ["[[rule]]", f'name = "{name}"', f"paths = [{quoted}]", 'cosign-roles = ["senior"]',
                "threshold = 1", 'applies-to = "ai-assisted"', ""]

    out = ["version = 1", "", "[declaration]", "required = true", "signed = true",
           "detect-undeclared = true", ""]
    out += rule("tier-1", CRITICAL)
    if extra_rule:
        out += rule("core", (LATER_CRITICAL,))
    out += ["[policy-changes]", 'cosign-roles = ["senior"]', "threshold = 1", ""]
    for p in PEOPLE:
        roles = '"senior"' if p.senior else ""
        out += ["[[person]]", f'name = "{p.name}"', f'email = "{p.email}"', f"roles = [{roles}]",
                f'keys = ["{p.public.openssh()}"]', ""]
    return "\n".join(out).encode()


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class Planned:
    """One commit of the plan; `changes` are fast-import file commands, ready to write."""

    mark: int
    parents: tuple[int, ...]  # marks
    author: Person
    subject: str
    ai: bool
    cosign: str  # "" | "trailer" | "note"
    policy_blob: str | None
    changes: bytes


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


class _Tree:
    """The working state of the plan: file contents, and which files a side branch holds."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.files: dict[str, list[str]] = {}
        self.serial = 0

    def line(self) -> str:
        self.serial += 1
        words = " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(2, 6)))
        return f"    {words} = compute({self.serial})  # {self.rng.randint(0, 99999)}\n"

    def new_path(self, directory: str) -> str:
        self.serial += 1
        return f"{directory}/file_{self.serial}.py"

    def change(self, directory: str, avoid: set[str]) -> tuple[bytes, list[str]]:
        """1-3 file changes under `directory`; returns (commands, touched paths)."""
        cmds: list[bytes] = []
        touched: list[str] = []
        here = [p for p in self.files if p.startswith(directory + "/") and p not in avoid]
        for _ in range(self.rng.choice((1, 1, 1, 2, 2, 3))):
            roll = self.rng.random()
            if not here or roll < 0.18:
                path = self.new_path(directory)
                self.files[path] = [self.line() for _ in range(self.rng.randint(8, 40))]
                here.append(path)
            elif roll < 0.21 and len(here) > 3:
                path = here.pop(self.rng.randrange(len(here)))
                del self.files[path]
                cmds.append(f"D {path}\n".encode())
                touched.append(path)
                continue
            else:
                path = self.rng.choice(here)
                lines = self.files[path]
                for _ in range(self.rng.randint(1, 3)):
                    op = self.rng.random()
                    at = self.rng.randrange(len(lines) + 1)
                    if op < 0.4 and lines:
                        lines[min(at, len(lines) - 1)] = self.line()
                    elif op < 0.55 and len(lines) > 4:
                        del lines[min(at, len(lines) - 1)]
                    else:
                        lines[at:at] = [self.line() for _ in range(self.rng.randint(1, 4))]
            if path not in touched:
                touched.append(path)
        for path in touched:
            if path in self.files:
                body = "".join(self.files[path]).encode()
                cmds.append(f"M 100644 inline {path}\n".encode() + _data(body))
        return b"".join(cmds), touched


def plan(commits: int, seed: int) -> Iterator[Planned]:
    """The deterministic history: a main line with side branches merged back, a policy change."""
    rng = random.Random(seed)
    tree = _Tree(rng)
    policy = policy_text(False)
    yield Planned(1, (), SENIORS[0], "Adopt git-provenance", False, "", blob_id(policy),
                  b"M 100644 inline " + POLICY_FILE.encode() + b"\n" + _data(policy))
    mark, tip = 1, 1
    dirs = [f"services/{s}/{m}" for s in SERVICES for m in MODULES] + [
        f"lib/{d}" for d in ("core", "net", "text", "io", "time")]

    def one(parents: tuple[int, ...], directory: str, avoid: set[str]) -> Planned:
        nonlocal mark
        mark += 1
        changes, touched = tree.change(directory, avoid)
        ai = rng.random() < 0.4
        author = rng.choice(PEOPLE)
        critical = directory.startswith(("services/payments", "services/checkout", "lib/core"))
        cosign = rng.choice(("trailer", "note")) if ai and critical else ""
        subject = f"{'Refactor' if ai else 'Update'} {directory} ({len(touched)} files)"
        return Planned(mark, parents, author, subject, ai, cosign, None, changes)

    policy_changed = False
    while mark < commits:
        if not policy_changed and mark >= commits // 2:
            policy_changed = True
            policy = policy_text(True)
            mark += 1
            change = b"M 100644 inline " + POLICY_FILE.encode() + b"\n" + _data(policy)
            yield Planned(mark, (tip,), SENIORS[0], "Make lib/core critical", False, "policy",
                          blob_id(policy), change)
            tip = mark
            continue
        if rng.random() < 0.06 and commits - mark > 12:
            side_dir = rng.choice(dirs)
            side: set[str] = set()
            fork, side_tip = tip, tip
            for _ in range(rng.randint(1, 4)):
                c = one((side_tip,), side_dir, set())
                side |= {p for p in c.changes.decode(errors="replace").split("\n")
                         if p.startswith(("M ", "D "))}
                side_tip = c.mark
                yield c
            side_paths = {p.split(" ")[-1] for p in side}
            for _ in range(rng.randint(0, 4)):
                c = one((tip,), rng.choice([d for d in dirs if d != side_dir]), side_paths)
                tip = c.mark
                yield c
            mark += 1
            merged = b"".join(
                f"M 100644 inline {p}\n".encode() + _data("".join(tree.files[p]).encode())
                if p in tree.files else f"D {p}\n".encode()
                for p in sorted(side_paths))
            yield Planned(mark, (tip, side_tip), rng.choice(PEOPLE), f"Merge branch {fork}",
                          False, "", None, merged)
            tip = mark
            continue
        c = one((tip,), rng.choice(dirs), set())
        tip = c.mark
        yield c


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


def generate_unadopted(commits: int, seed: int = 1, *, log: Callable[[str], None] = print) -> Path:
    """The same plan before adoption: no declarations, signatures or notes; AI-assisted commits
    carry only their agent's fingerprint. What `audit --policy` scans (no digests needed)."""
    where = OUT / f"history-v{GENERATOR_VERSION}-n{commits}-s{seed}" / "unadopted"
    if (where / "DONE").exists():
        return where / "repo"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    log(f"generating {commits} unadopted commits in {where}")

    def unsigned(write: Callable[[bytes], None]) -> None:
        for c in plan(commits, seed):
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
    args = ap.parse_args()
    h = generate(args.commits, args.seed)
    print(f"{h.path}: {h.commits} commits, {h.ai} AI-assisted, {h.merges} merges, "
          f"{h.cosigned_trailer} trailer co-signs, {h.cosigned_note} note co-signs")


if __name__ == "__main__":
    os.environ.setdefault("GIT_CONFIG_NOSYSTEM", "1")
    main()
