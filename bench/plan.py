"""The deterministic plan of a synthetic history, and the cast whose keys sign it.

`plan` yields the same commits for the same seed: a main line with side branches merged back and a
policy change half-way. `generate.py` feeds it to `git fast-import` twice.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ed25519

from provenance.policy.schema import POLICY_FILE
from provenance.ssh import encoding
from provenance.ssh.sshsig import PublicKey

CRITICAL = ("services/payments/**", "services/checkout/**")
LATER_CRITICAL = "lib/core/**"  # added by the policy change half-way
SERVICES = ("payments", "checkout", "search", "accounts", "ledger", "mail", "catalog", "auth",
            "reports", "billing", "shipping", "inventory", "web", "mobile", "admin", "infra")
MODULES = ("api", "db", "models", "views", "jobs", "util", "tests", "config", "cli", "cache")
# The light plan puts a directory's new files in folders of this many (`_Tree.new_path`): with the
# full plan's flat directories (~1,600 files each at 1M commits) git wrote, hashed and deltified a
# tree that size for every commit, and the generator's cost per commit grew with the history.
LIGHT_PART = 64
LIGHT_VERSION = 2  # of the light plan: its cached histories' folder (generate.py) names it
WORDS = ("value", "count", "total", "item", "order", "user", "cache", "result", "index", "key",
         "price", "amount", "record", "state", "token", "limit", "offset", "buffer", "queue")


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    senior: bool
    private: ed25519.Ed25519PrivateKey
    public: PublicKey


def person(name: str, email: str, senior: bool) -> Person:
    private = ed25519.Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"git-provenance bench " + email.encode()).digest())
    raw = private.public_key().public_bytes_raw()
    blob = encoding._str(b"ssh-ed25519") + encoding._str(raw)
    return Person(name, email, senior, private, PublicKey("ssh-ed25519", blob))


PEOPLE = (
    person("Alice Senior", "alice@example.com", True),
    person("Carol Senior", "carol@example.com", True),
    person("Bob Developer", "bob@example.com", False),
    person("Dave Developer", "dave@example.com", False),
    person("Erin Developer", "erin@example.com", False),
    person("Frank Developer", "frank@example.com", False),
)
SENIORS = tuple(p for p in PEOPLE if p.senior)


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

    def __init__(self, rng: random.Random, light: bool = False) -> None:
        self.rng = rng
        self.light = light
        self.version: dict[str, int] = {}  # `light`: how often each file was written
        self.files: dict[str, list[str]] = {}
        self.lengths: dict[str, int] = {}  # `light`: a file's number of lines, not its lines
        # The files of each directory, in the order `files` holds them: a change looks up its
        # directory's files here instead of scanning every file (quadratic: hours at 1M commits).
        self.in_dir: dict[str, dict[str, None]] = {}
        self.created: dict[str, int] = {}  # `light`: files ever created in each directory
        self.serial = 0

    def line(self) -> str:
        self.serial += 1
        words = " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(2, 6)))
        return f"    {words} = compute({self.serial})  # {self.rng.randint(0, 99999)}\n"

    def new_path(self, directory: str) -> str:
        self.serial += 1
        if self.light:  # at most LIGHT_PART files a folder: each commit's trees stay small
            made = self.created[directory] = self.created.get(directory, 0) + 1
            return f"{directory}/part_{made // LIGHT_PART}/file_{self.serial}.py"
        return f"{directory}/file_{self.serial}.py"

    def edit_light(self, path: str) -> None:
        """`change`'s edit of a file, in `light`: the same kinds of edit on a count of lines,
        without drawing their words (the full plan's cost; `body` never shows them)."""
        rng = self.rng
        n = self.lengths[path]
        for _ in range(rng.randint(1, 3)):
            op = rng.random()
            rng.randrange(n + 1)
            if op < 0.4 and n:
                self.serial += 1
            elif op < 0.55 and n > 4:
                n -= 1
            else:
                grown = rng.randint(1, 4)
                n += grown
                self.serial += grown
        self.lengths[path] = n

    def change(self, directory: str, avoid: set[str]) -> tuple[bytes, list[str]]:
        """1-3 file changes under `directory`; returns (commands, touched paths)."""
        cmds: list[bytes] = []
        touched: list[str] = []
        in_dir = self.in_dir.setdefault(directory, {})
        here = [p for p in in_dir if p not in avoid] if avoid else list(in_dir)
        for _ in range(self.rng.choice((1, 1, 1, 2, 2, 3))):
            roll = self.rng.random()
            if not here or roll < 0.18:
                path = self.new_path(directory)
                if self.light:
                    self.lengths[path] = self.rng.randint(8, 40)
                    self.files[path] = []
                else:
                    self.files[path] = [self.line() for _ in range(self.rng.randint(8, 40))]
                in_dir[path] = None
                here.append(path)
            elif roll < 0.21 and len(here) > 3:
                path = here.pop(self.rng.randrange(len(here)))
                del self.files[path], in_dir[path]
                self.lengths.pop(path, None)
                cmds.append(f"D {path}\n".encode())
                touched.append(path)
                continue
            elif self.light:
                path = self.rng.choice(here)
                self.edit_light(path)
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
                if self.light:
                    self.version[path] = self.version.get(path, 0) + 1
                cmds.append(f"M 100644 inline {path}\n".encode() + _data(self.body(path)))
        return b"".join(cmds), touched

    def body(self, path: str) -> bytes:
        """A file's content; `light`: one line naming its version (the same paths and history,
        blobs ~50x smaller: what makes a million-commit history cheap to write)."""
        if self.light:
            return f"# {path} {self.version[path]}\n".encode()
        return "".join(self.files[path]).encode()


def plan(commits: int, seed: int, light: bool = False) -> Iterator[Planned]:
    """The deterministic history: a main line with side branches merged back, a policy change.
    `light`: the same shape (directories, merges, AI share, messages), one-line file contents
    (`_Tree.body`), and a directory's files in folders of `LIGHT_PART` (`_Tree.new_path`)."""
    rng = random.Random(seed)
    tree = _Tree(rng, light)
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
                f"M 100644 inline {p}\n".encode() + _data(tree.body(p))
                if p in tree.files else f"D {p}\n".encode()
                for p in sorted(side_paths))
            yield Planned(mark, (tip, side_tip), rng.choice(PEOPLE), f"Merge branch {fork}",
                          False, "", None, merged)
            tip = mark
            continue
        c = one((tip,), rng.choice(dirs), set())
        tip = c.mark
        yield c
