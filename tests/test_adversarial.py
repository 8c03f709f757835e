"""Adversarial and differential tests: what we read is what git and OpenSSH read, and forged,
copied, duplicated, hidden or look-alike attestations never count."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import factory as f
import pytest
from conftest import Person, Repo, new_repo
from sshkeys import add_to_agent, askpass, make_key, running_agent, ssh_keygen

from provenance.audit.judge import judge
from provenance.audit.records import CommitRecord
from provenance.policy import schema
from provenance.ssh import keyfile, signing, sshsig
from provenance.ssh.sshsig import PublicKey
from provenance.wire import trailers

D1 = "sha256:" + "1" * 64
MESSAGE = b"git-provenance-statement v1\nrole cosign\nchange " + D1.encode() + b"\n"

# ---- the trailer parser against git, on thousands of real commits ---------------------------------

_KEYS = ["AI-Assisted", "ai-assisted", "Provenance-Signature", "Assisted-by", "Signed-off-by",
         "Co-authored-by", "X", "Key-With-Dash", "Bad Key", "Tab\tKey", "K\u00e9y", "a"]
_VALUES = ["yes", "no", " padded ", "", "v1 cosign alice@example.com " + D1 + " AAAA",
           "a: b: c", "caf\u00e9 \u65e5\u672c", "x" * 90, "trailing  ", "\u0430lice@example.com"]
_SPECIAL = ["", "", "", " ", "\t", "  folded continuation", "\tfolded", "# a comment", "#", "---",
            "Signed-off-by: Someone <s@example.com>", "(cherry picked from commit 0123abcd)",
            "# ------------------------ >8 ------------------------", "Conflicts:", "\tpath.c",
            "Just prose here.", "prose: with a colon later", ": leading colon", "http://x.y/z"]


def random_message(rng: random.Random) -> str:
    lines = ["Subject line " + str(rng.randrange(10_000))]
    for _ in range(rng.randrange(0, 14)):
        kind = rng.random()
        if kind < 0.45:
            sep = rng.choice([": ", ":", " : ", ":\t", "= ", "# "])
            lines.append(rng.choice(_KEYS) + sep + rng.choice(_VALUES))
        else:
            lines.append(rng.choice(_SPECIAL))
    eol = rng.choice(["\n", "\n", "\n", "\r\n"])
    text = eol.join(lines) + eol
    if rng.random() < 0.1:
        text = text.rstrip("\r\n")
    return text


def _fast_import(repo: Path, messages: Sequence[str], env: dict[str, str]) -> list[str]:
    """Commit every message (empty tree, one branch) in ONE git process; return the shas in order."""
    stream = bytearray()
    for i, msg in enumerate(messages):
        data = msg.encode()
        stream += (f"commit refs/heads/gen\nmark :{i + 1}\n"
                   f"committer Gen <gen@example.com> {1_700_000_000 + i} +0000\n"
                   f"data {len(data)}\n").encode() + data + b"\n"
    stream += b"done\n"
    subprocess.run(["git", "fast-import", "--quiet", "--done", f"--export-marks={repo}/marks"],
                   cwd=repo, env=env, input=bytes(stream), check=True, capture_output=True)
    marks = dict(line.split() for line in (repo / "marks").read_text().splitlines())
    return [marks[f":{i + 1}"] for i in range(len(messages))]


def _as_git_prints(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"{k}: {v}\n" for k, v in pairs)


def test_parse_agrees_with_git_trailers_on_thousands_of_real_commits(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
           "PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
    repo = tmp_path / "gen"
    subprocess.run(["git", "init", "-q", str(repo)], env=env, check=True)
    rng = random.Random(20240601)
    messages = [random_message(rng) for _ in range(3000)]
    shas = _fast_import(repo, messages, env)
    # One `git log` reads every commit's trailer block the way %(trailers) consumers see it.
    out = subprocess.run(["git", "log", "--no-walk=unsorted", "--stdin",
                          "--format=%H%x00%(trailers:unfold,only)%x01"],
                         cwd=repo, env=env, input="\n".join(shas).encode() + b"\n",
                         capture_output=True, check=True).stdout.decode()
    by_sha = dict(chunk.lstrip("\n").split("\0", 1) for chunk in out.split("\x01")[:-1])
    assert len(by_sha) == len(messages)
    mismatches = [(m, by_sha[s]) for m, s in zip(messages, shas, strict=True)
                  if _as_git_prints(trailers.parse(m)) != by_sha[s]]
    assert mismatches == []
    assert sum(bool(trailers.parse(m)) for m in messages) > 400  # the corpus is not trivial

    # The same corpus against `git interpret-trailers --parse --no-divider` (a process each).
    def interpret(msg: str) -> str:
        return subprocess.run(["git", "interpret-trailers", "--parse", "--no-divider"], cwd=repo,
                              env=env, input=msg.encode(), capture_output=True,
                              check=True).stdout.decode()

    sample = messages[:400]
    with ThreadPoolExecutor(4) as pool:
        expected = list(pool.map(interpret, sample))
    assert [m for m, e in zip(sample, expected, strict=True)
            if _as_git_prints(trailers.parse(m)) != e] == []


# ---- SSHSIG against ssh-keygen: the cases tests/ssh/test_sshsig.py does not cover ---------------


def _keygen_verify(tmp_path: Path, blob: bytes, message: bytes, key: PublicKey) -> bool:
    signers = tmp_path / "allowed_signers"
    signers.write_text(sshsig.allowed_signers_line(["alice@example.com"], key) + "\n")
    (tmp_path / "s.sig").write_text(sshsig.armor(blob))
    proc = ssh_keygen("-Y", "verify", "-f", str(signers), "-I", "alice@example.com",
                      "-n", sshsig.NAMESPACE, "-s", str(tmp_path / "s.sig"), stdin=message)
    return proc.returncode == 0


@pytest.mark.parametrize(("kind", "bits"), [("rsa", 2048), ("ecdsa", 256), ("ecdsa", 521)])
def test_agent_held_rsa_and_ecdsa_keys_sign_both_ways(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, bits: int) -> None:
    private = make_key(tmp_path, "held", kind, bits=bits)
    key = keyfile.public_key_of(private)
    with running_agent() as env:
        add_to_agent(env, private)
        private.unlink()  # from now on only the agent can sign
        monkeypatch.setenv("SSH_AUTH_SOCK", env["SSH_AUTH_SOCK"])
        ours = signing.sign(MESSAGE, tmp_path / "held.pub")
        (tmp_path / "m").write_bytes(MESSAGE)
        proc = subprocess.run(["ssh-keygen", "-Y", "sign", "-n", sshsig.NAMESPACE, "-f",
                               str(tmp_path / "held.pub"), str(tmp_path / "m")],
                              env=env, capture_output=True, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr
    assert _keygen_verify(tmp_path, ours, MESSAGE, key)
    assert sshsig.verify(ours, MESSAGE) == key
    theirs = sshsig.dearmor((tmp_path / "m.sig").read_text())
    assert sshsig.verify(theirs, MESSAGE) == key


@pytest.mark.parametrize(("kind", "bits"), [("ed25519", None), ("rsa", 2048), ("ecdsa", 384)])
def test_passphrase_protected_keys_sign_both_ways(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, bits: int | None) -> None:
    locked = make_key(tmp_path, "locked", kind, passphrase="pw pw", bits=bits)
    key = keyfile.public_key_of(locked)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    with askpass("pw pw") as extra:
        for name, value in extra.items():
            monkeypatch.setenv(name, value)
        ours = signing.sign(MESSAGE, locked)
        (tmp_path / "m").write_bytes(MESSAGE)
        proc = subprocess.run(["ssh-keygen", "-Y", "sign", "-n", sshsig.NAMESPACE, "-f", str(locked),
                               str(tmp_path / "m")], capture_output=True, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr
    assert _keygen_verify(tmp_path, ours, MESSAGE, key)
    assert sshsig.verify(sshsig.dearmor((tmp_path / "m.sig").read_text()), MESSAGE) == key


# ---- allowed-signers output is what ssh-keygen -Y verify accepts --------------------------------


def test_allowed_signers_output_verifies_every_persons_signature_and_nobody_elses(
        tmp_path: Path, people: dict[str, Person]) -> None:
    rsa = make_key(tmp_path, "carol-rsa", "rsa")
    ecdsa = make_key(tmp_path, "carol-ecdsa", "ecdsa")
    repo = new_repo(tmp_path, people)
    text = (repo.path / ".provenance.toml").read_text()
    carol = people["carol"].public
    extra = [keyfile.public_key_of(rsa).openssh(), keyfile.public_key_of(ecdsa).openssh()]
    text = text.replace(f'email = "{people["carol"].email}"',
                        'emails = ["carol@example.com", "c.senior@example.org"]')
    text = text.replace(f'keys = ["{carol}"]', "keys = [" + ", ".join(
        f'"{k}"' for k in [carol, *extra]) + "]")
    (repo.path / ".provenance.toml").write_text(text)
    proc = repo.run(sys.executable, "-m", "provenance", "allowed-signers",
                    env=repo.as_person(people["alice"]))
    signers = tmp_path / "allowed_signers"
    signers.write_bytes(proc.stdout)
    assert len(proc.stdout.decode().splitlines()) == 6

    def verify(principal: str, key: Path) -> bool:
        blob = signing.sign(MESSAGE, key)
        (tmp_path / "s.sig").write_text(sshsig.armor(blob))
        return ssh_keygen("-Y", "verify", "-f", str(signers), "-I", principal, "-n", "git-provenance",
                          "-s", str(tmp_path / "s.sig"), stdin=MESSAGE).returncode == 0

    for p in people.values():
        assert verify(p.email, p.key), p.email
    assert all(verify(e, k) for e in ("carol@example.com", "c.senior@example.org") for k in (rsa, ecdsa))
    assert not verify("alice@example.com", people["bob"].key)
    assert not verify("\u0430lice@example.com", people["alice"].key)  # Cyrillic а
    # The namespace restriction is in the file: a signature for git commits does not pass.
    blob = signing.sign(MESSAGE, people["alice"].key, namespace="git")
    (tmp_path / "s.sig").write_text(sshsig.armor(blob))
    assert ssh_keygen("-Y", "verify", "-f", str(signers), "-I", "alice@example.com", "-n", "git",
                      "-s", str(tmp_path / "s.sig"), stdin=MESSAGE).returncode != 0


# ---- attestations that must never count ---------------------------------------------------------


@pytest.fixture(scope="module")
def ppl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, f.Actor]:
    d = tmp_path_factory.mktemp("adv-keys")
    return {n: f.actor(d, n.title(), f"{n}@example.com") for n in ("alice", "bob", "carol")}


def _policy(ppl: dict[str, f.Actor], threshold: int = 1) -> schema.Policy:
    return schema.load_text(f.PolicySpec(
        people=[(ppl["alice"], ["senior"]), (ppl["bob"], []), (ppl["carol"], ["senior"])],
        rules=[{"name": "tier-1", "paths": ["payments/**"], "threshold": threshold}],
    ).text())


def _judge(ppl: dict[str, f.Actor], message: str, *, threshold: int = 1,
           author: str = "bob@example.com") -> list[str]:
    record = CommitRecord(
        sha="c" * 40, parents=("p" * 40,), author_name="Bob", author_email=author,
        committer_name="Bob", committer_email=author, author_time=0, message=message,
        trailers=tuple(trailers.parse(message)), paths=("payments/pay.py",), digest=D1)
    return sorted(v.code for v in judge(record, _policy(ppl, threshold), [], frozenset()).violations)


def _declare(ppl: dict[str, f.Actor], author: str = "bob@example.com") -> str:
    return ("AI-Assisted: yes\nProvenance-Signature: "
            + f.signature(ppl["bob"], "declare", D1, author, ai=True, as_email=author) + "\n")


def _cosign(ppl: dict[str, f.Actor], who: str, *, as_email: str | None = None,
            author: str = "bob@example.com") -> str:
    return "Provenance-Signature: " + f.signature(ppl[who], "cosign", D1, author, as_email=as_email) + "\n"


def test_a_real_cosign_passes_the_baseline(ppl: dict[str, f.Actor]) -> None:
    assert _judge(ppl, "Change\n\n" + _declare(ppl) + _cosign(ppl, "alice")) == []
    assert _judge(ppl, "Change\n\n" + _declare(ppl)) == ["missing-cosign"]


def test_cyrillic_look_alike_emails_never_match_the_senior(ppl: dict[str, f.Actor]) -> None:
    fake = "\u0430lice@example.com"  # Cyrillic а: looks like alice@example.com
    pol = _policy(ppl)
    assert pol.person_by_email(fake) is None and pol.person_by_email("ALICE@example.com") is not None
    # alice's real key, but the co-sign claims the look-alike address: it is nobody's.
    codes = _judge(ppl, "Change\n\n" + _declare(ppl) + _cosign(ppl, "alice", as_email=fake))
    assert codes == ["missing-cosign", "unknown-key"]
    # An author hiding behind a look-alike of a senior cannot have that senior's co-sign refused,
    # nor pass their own: bob's declaration under the fake address is not bob's.
    codes = _judge(ppl, "Change\n\n" + _declare(ppl, fake) + _cosign(ppl, "alice", author=fake),
                   author=fake)
    assert "signer-not-author" in codes or "unknown-key" in codes


def test_a_duplicated_cosign_line_counts_once(ppl: dict[str, f.Actor]) -> None:
    line = _cosign(ppl, "alice")
    assert _judge(ppl, "Change\n\n" + _declare(ppl) + line + line, threshold=2) == ["missing-cosign"]
    both = _declare(ppl) + line + _cosign(ppl, "carol")
    assert _judge(ppl, "Change\n\n" + both, threshold=2) == []


def test_a_cosign_in_the_body_rather_than_the_trailer_block_is_ignored(ppl: dict[str, f.Actor]) -> None:
    body = "Change\n\n" + _cosign(ppl, "alice") + "\nA prose paragraph after it.\n\n" + _declare(ppl)
    assert trailers.values(body, "Provenance-Signature") == trailers.values(
        "Change\n\n" + _declare(ppl), "Provenance-Signature")
    assert _judge(ppl, body) == ["missing-cosign"]


def test_a_folded_signature_line_is_unfolded_as_git_does(ppl: dict[str, f.Actor]) -> None:
    line = _cosign(ppl, "alice").rstrip("\n")
    head, b64 = line.rsplit(" ", 1)
    folded = head + "\n " + b64[:40] + "\n\t" + b64[40:] + "\n"
    assert _judge(ppl, "Change\n\n" + _declare(ppl) + folded) == []


@pytest.mark.parametrize("mangle", [
    lambda v: v[:-8] + "!!!!!!!!",                        # garbage base64
    lambda v: v[:-12],                                    # truncated blob (wrong length)
    lambda v: v + "AAAA",                                 # trailing bytes
    lambda v: "v2" + v[2:],                               # unknown version
    lambda v: v.replace(" cosign ", " approve "),        # unknown role
    lambda v: v.replace(D1, "sha256:" + "1" * 63),        # short digest
    lambda v: v.replace(D1, "sha1:" + "1" * 40),         # another hash
    lambda v: v.replace("alice@example.com", "alice@example.com,carol@example.com"),
], ids=["garbage-b64", "truncated", "trailing", "v2", "role", "short-digest", "sha1", "two-signers"])
def test_mangled_cosigns_are_invalid_never_accepted(
        ppl: dict[str, f.Actor], mangle: Callable[[str], str]) -> None:
    value = _cosign(ppl, "alice").split(": ", 1)[1].rstrip("\n")
    message = "Change\n\n" + _declare(ppl) + "Provenance-Signature: " + mangle(value) + "\n"
    codes = _judge(ppl, message)
    assert "missing-cosign" in codes
    assert set(codes) - {"missing-cosign"} <= {"invalid-signature", "unknown-key", "stale-signature"}
    assert len(codes) == 2


def test_a_cosign_trailer_written_without_the_key_fails_end_to_end(
        tmp_path: Path, people: dict[str, Person]) -> None:
    """The attacker copies alice's real co-sign from one commit onto their own change."""
    repo: Repo = new_repo(tmp_path, people)
    repo.commit(people["bob"], "Approved change", {"payments/a.py": "1\n"}, env={"CLAUDECODE": "1"})
    proc = repo.run(sys.executable, "-m", "provenance", "cosign", "--amend", "HEAD",
                    env=repo.as_person(people["alice"]), check=False)
    assert proc.returncode == 0, proc.stderr
    approved = [v for v in trailers.values(repo.message(), "Provenance-Signature") if " cosign " in v]
    assert approved
    repo.commit(people["bob"], "Sneaky change\n\nProvenance-Signature: " + approved[0],
                {"payments/b.py": "evil\n"}, env={"CLAUDECODE": "1"})
    proc = repo.run(sys.executable, "-m", "provenance", "audit", env=repo.as_person(people["alice"]),
                    check=False)
    out = proc.stdout.decode()
    assert proc.returncode == 1
    assert "Sneaky change" in out and "missing-cosign" in out
    assert "stale-signature" in out or "invalid-signature" in out
