"""Build repositories whose commits carry REAL signed declarations, co-signs and notes — no hooks.

A commit is made with `git commit`, its change digest computed from the finished commit, and its
message then amended with signed trailers (`--amend -m` changes no content, so no digest).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from provenance.policy.schema import POLICY_FILE
from provenance.ssh import keyfile, signing, sshsig
from provenance.ssh.sshsig import PublicKey
from provenance.wire import digest, note
from provenance.wire.statement import Statement


@dataclass(frozen=True)
class Actor:
    name: str
    email: str
    key_path: Path
    public: PublicKey

    def key_line(self) -> str:
        return self.public.openssh()


def cast(tmp_path: Path) -> dict[str, Actor]:
    """alice and carol (seniors in most policies), bob (a developer), mallory (an attacker)."""
    keys = tmp_path / "keys"
    keys.mkdir()
    return {
        "alice": actor(keys, "Alice Senior", "alice@example.com"),
        "bob": actor(keys, "Bob Dev", "bob@example.com"),
        "carol": actor(keys, "Carol Senior", "carol@example.com"),
        "mallory": actor(keys, "Mallory", "mallory@example.com"),
    }


def actor(directory: Path, name: str, email: str) -> Actor:
    path = directory / f"key-{email}"
    return Actor(name, email, path, keyfile.keygen(path, email))


@dataclass
class PolicySpec:
    people: list[tuple[Actor, list[str]]] = field(default_factory=list)
    rules: list[dict[str, object]] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)  # key lines
    required: bool = True
    signed: bool = True
    detect: bool = True
    change_roles: tuple[str, ...] = ("senior",)
    change_threshold: int = 1

    def text(self) -> str:
        def b(v: bool) -> str:
            return "true" if v else "false"

        out = [
            "version = 1", "", "[declaration]", f"required = {b(self.required)}",
            f"signed = {b(self.signed)}", f"detect-undeclared = {b(self.detect)}", "",
        ]
        for rule in self.rules:
            paths = ", ".join(f'"{p}"' for p in rule["paths"])  # type: ignore[attr-defined]
            roles = ", ".join(f'"{r}"' for r in rule.get("roles", ["senior"]))  # type: ignore[attr-defined]
            out += [
                "[[rule]]", f'name = "{rule["name"]}"', f"paths = [{paths}]",
                f"cosign-roles = [{roles}]", f"threshold = {rule.get('threshold', 1)}",
                f'applies-to = "{rule.get("applies_to", "ai-assisted")}"', "",
            ]
        roles = ", ".join(f'"{r}"' for r in self.change_roles)
        out += ["[policy-changes]", f"cosign-roles = [{roles}]",
                f"threshold = {self.change_threshold}", ""]
        for who, person_roles in self.people:
            r = ", ".join(f'"{x}"' for x in person_roles)
            out += ["[[person]]", f'name = "{who.name}"', f'email = "{who.email}"',
                    f"roles = [{r}]", f'keys = ["{who.key_line()}"]', ""]
        for key in self.revoked:
            out += ["[[revoked-key]]", f'key = "{key}"', 'reason = "stolen"', ""]
        return "\n".join(out)


def git(repo: Path, *args: str, who: Actor | None = None, check: bool = True) -> str:
    env = dict(os.environ)
    name, email = (who.name, who.email) if who else ("Setup", "setup@example.com")
    env.update(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_COMMITTER_NAME=name,
               GIT_COMMITTER_EMAIL=email, GIT_CONFIG_NOSYSTEM="1")
    env.pop("GIT_DIR", None)
    proc = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {args} failed: {proc.stderr.decode()}")
    return proc.stdout.decode("utf-8", "surrogateescape").strip()


def init(repo: Path) -> Path:
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "commit.gpgsign", "false")
    return repo


def policy_blob_of(repo: Path, sha: str) -> str | None:
    """What hooks put in the `policy` line: the new policy blob when the commit changes it."""
    new = git(repo, "rev-parse", "-q", "--verify", f"{sha}:{POLICY_FILE}", check=False) or None
    parents = git(repo, "rev-list", "--parents", "-n1", sha).split()[1:]
    old = (git(repo, "rev-parse", "-q", "--verify", f"{parents[0]}:{POLICY_FILE}", check=False)
           or None) if parents else None
    if new == old:
        return None
    return new or "0" * 40


def signature(
    signer: Actor, role: str, change: str, author_email: str, *, ai: bool | None = None,
    assisted_by: Sequence[str] = (), policy: str | None = None, covers: Sequence[str] = (),
    as_email: str | None = None,
) -> str:
    """A `Provenance-Signature` value, really signed with the signer's key."""
    email = (as_email or signer.email).lower()
    stmt = Statement(role, change, author_email.lower(), email,
                     ai_assisted=ai if role == "declare" else None,
                     assisted_by=tuple(assisted_by) if role == "declare" else (),
                     policy=policy, covers=tuple(covers))
    blob = signing.sign(stmt.to_bytes(), signer.key_path)
    return f"v1 {role} {email} {change} {sshsig.b64(blob)}"


def write(repo: Path, files: dict[str, str | bytes | None]) -> None:
    for name, content in files.items():
        path = repo / name
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def amend_trailers(
    repo: Path, author: Actor, *, subject: str = "change", ai: bool | None = False,
    sign: bool = True, cosigners: Iterable[Actor] = (), assisted_by: Sequence[str] = (),
    extra: Sequence[str] = (), body: str = "", covers: Sequence[str] = (),
) -> str:
    """Rewrite HEAD's message with real trailers for its content; return the new sha."""
    head = git(repo, "rev-parse", "HEAD")
    change = digest.of_commit(head, cwd=repo)
    pol = policy_blob_of(repo, head)
    lines = list(extra)
    if ai is not None:
        lines.append(f"AI-Assisted: {'yes' if ai else 'no'}")
        lines += [f"Assisted-by: {v}" for v in assisted_by]
        if sign:
            lines.append("Provenance-Signature: " + signature(
                author, "declare", change, author.email, ai=ai, assisted_by=assisted_by,
                policy=pol))
    for c in cosigners:
        lines.append("Provenance-Signature: " + signature(
            c, "cosign", change, author.email, policy=pol, covers=covers))
    message = subject + "\n\n" + (body + "\n\n" if body else "") + "\n".join(lines) + "\n"
    git(repo, "commit", "-q", "--amend", "--no-verify", "--allow-empty", "-m", message, who=author)
    return git(repo, "rev-parse", "HEAD")


def commit(
    repo: Path, author: Actor, files: dict[str, str | bytes | None], **kw: object
) -> str:
    """Commit `files` as `author` with a signed declaration (ai=False by default)."""
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "--allow-empty", "-m", "wip", who=author)
    return amend_trailers(repo, author, **kw)  # type: ignore[arg-type]


def merge(repo: Path, author: Actor, branch: str, **kw: object) -> str:
    git(repo, "merge", "-q", "--no-ff", "--no-verify", "--no-edit", branch, who=author)
    return amend_trailers(repo, author, **kw)  # type: ignore[arg-type]


def add_note(repo: Path, commit: str, lines: Sequence[str]) -> None:
    env_keys = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
    saved = {k: os.environ.get(k) for k in env_keys}
    os.environ.update(GIT_AUTHOR_NAME="n", GIT_AUTHOR_EMAIL="n@example.com",
                      GIT_COMMITTER_NAME="n", GIT_COMMITTER_EMAIL="n@example.com")
    try:
        note.add_attestation(commit, lines, cwd=repo)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def same_second_history(repo: Path) -> dict[str, str]:
    """All commits in one second: git's date order shows X before C2, one of its children, and
    `git log` (2.39) then frees X's parents before C2, a clean merge of X, is remerged."""
    init(repo)
    when = {"GIT_AUTHOR_DATE": "1700000000 +0000", "GIT_COMMITTER_DATE": "1700000000 +0000"}
    ids: dict[str, str] = {}

    def at(name: str, files: dict[str, str | bytes | None]) -> None:
        write(repo, files)
        git(repo, "add", "-A")
        _git_at(repo, when, "commit", "-q", "--no-verify", "-m", name)
        ids[name] = git(repo, "rev-parse", "HEAD")

    at("B", {"crit.txt": "secure = 0\n", "a.txt": "a\n"})
    git(repo, "checkout", "-qb", "y")
    at("Y", {"y.txt": "y\n"})
    git(repo, "checkout", "-q", "main")
    at("X", {"crit.txt": "secure = 1\n"})
    at("C1", {"c1.txt": "c1\n"})
    at("T1", {"t1.txt": "t1\n"})
    git(repo, "checkout", "-qb", "two", ids["X"])
    _git_at(repo, when, "merge", "-q", "--no-ff", "--no-edit", "y")
    ids["C2"] = git(repo, "rev-parse", "HEAD")
    at("D", {"d.txt": "d\n"})
    at("T2", {"t2.txt": "t2\n"})
    git(repo, "checkout", "-q", "main")
    _git_at(repo, when, "merge", "-q", "--no-ff", "--no-edit", "two")
    ids["TOP"] = git(repo, "rev-parse", "HEAD")
    return ids


def _git_at(repo: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                   env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "S",
                        "GIT_AUTHOR_EMAIL": "s@example.com", "GIT_COMMITTER_NAME": "S",
                        "GIT_COMMITTER_EMAIL": "s@example.com", **env})
