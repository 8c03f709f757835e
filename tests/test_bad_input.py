"""Bad input gets a clear verdict or a one-line error, never a crash, and nothing changes on disk."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Person, Repo, clean_env, new_repo, policy_text

from provenance.wire import digest, trailers
from provenance.wire.statement import parse_signature_value

AGENT = {"CLAUDECODE": "1"}
Maker = Callable[[Repo, dict[str, Person]], None]
Failure = Callable[[Repo, dict[str, Person]], tuple[dict[str, str], str]]


def cli(repo: Repo, person: Person, *args: str, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "provenance", *args], cwd=cwd or repo.path,
                          env={**repo.env, **repo.as_person(person), **(env or {})}, capture_output=True)


def one_line_error(proc: subprocess.CompletedProcess[bytes], code: int = 2) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == code, (proc.returncode, err, proc.stdout.decode())
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("git-provenance: error: ")
    return err


def disk_state(repo: Repo) -> str:
    """A fingerprint of everything a command could change: work tree bytes, index, refs, notes, config."""
    h = hashlib.sha256()
    for p in sorted(repo.path.rglob("*")):
        rel = p.relative_to(repo.path)
        if p.is_file() and not p.is_symlink() and rel.parts[:2] != (".git", "objects") \
                and rel.parts[:2] != (".git", "logs"):
            h.update(str(rel).encode() + b"\0" + p.read_bytes())
    h.update(repo.run("git", "for-each-ref").stdout)
    h.update(repo.run("git", "status", "--porcelain=v2", "-z").stdout)
    return h.hexdigest()


def audit_json(repo: Repo, person: Person, *args: str) -> tuple[int, dict[str, object]]:
    proc = cli(repo, person, "audit", "--format", "json", *args)
    assert "Traceback" not in proc.stderr.decode()
    assert proc.returncode in (0, 1), proc.stderr.decode()
    return proc.returncode, json.loads(proc.stdout)


def codes(report: dict[str, object]) -> dict[str, list[str]]:
    commits: list[dict[str, Any]] = report["commits"]  # type: ignore[assignment]
    return {c["commit"]: [v["code"] for v in c["violations"]] for c in commits}


# ---- policy files through the CLI ---------------------------------------------------------------

BAD_POLICIES = {
    "syntax error": 'version = 1\n[[rule]\nname = "x"\n',
    "unknown key": "version = 1\nowner = 'me'\n",
    "wrong type": 'version = 1\n[declaration]\nrequired = "yes"\n',
    "duplicate person": None,  # built from the people fixture below
    "bad glob": 'version = 1\n[[rule]]\nname = "r"\npaths = ["!payments/**"]\n',
    "invalid key": None,
    "not utf-8": b"version = 1\n# caf\xe9\n",
}


def bad_policy(kind: str, people: dict[str, Person]) -> bytes:
    text = BAD_POLICIES[kind]
    if isinstance(text, bytes):
        return text
    if text is not None:
        return text.encode()
    good = policy_text(people)
    if kind == "duplicate person":
        bob = good.index("\n[[person]]\nname = \"Bob\"")
        return (good + good[bob:].split("\n[[person]]", 2)[1].join(["\n[[person]]", ""])).encode()
    return good.replace(people["bob"].public, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBROKEN").encode()


@pytest.mark.parametrize("kind", sorted(BAD_POLICIES))
def test_bad_policy_files_are_one_line_errors_and_change_nothing(
        tmp_path: Path, people: dict[str, Person], kind: str) -> None:
    repo = new_repo(tmp_path, people)
    data = bad_policy(kind, people)
    (repo.path / ".provenance.toml").write_bytes(data)
    external = tmp_path / "external.toml"
    external.write_bytes(data)
    before = disk_state(repo)
    for args in (("allowed-signers",), ("init",), ("audit", "--policy", str(external))):
        err = one_line_error(cli(repo, people["alice"], *args))
        assert ".toml" in err, (args, err)
    assert disk_state(repo) == before
    assert (repo.path / ".provenance.toml").read_bytes() == data


def test_bad_policies_committed_later_are_violations_not_crashes(
        tmp_path: Path, people: dict[str, Person]) -> None:
    """The hooks refuse each of these (test_feedback); committed past them and declared after the
    fact, each is an unauthorised policy change the audit survives."""
    repo = new_repo(tmp_path, people)
    bad = {}
    for kind in sorted(BAD_POLICIES):
        (repo.path / ".provenance.toml").write_bytes(bad_policy(kind, people))
        repo.git("add", ".provenance.toml")
        bob = repo.as_person(people["bob"])
        refused = repo.run("git", "commit", "-q", "-m", f"Policy with a {kind}", env=bob, check=False)
        assert refused.returncode == 1 and b".provenance.toml:" in refused.stderr
        repo.run("git", "commit", "-q", "-m", f"Policy with a {kind}", env={**bob, "PROVENANCE_SKIP": "1"})
        repo.run(sys.executable, "-m", "provenance", "declare", "HEAD", "--no-ai", env=bob)
        bad[kind] = repo.git("rev-parse", "HEAD").strip()
    repo.commit(people["bob"], "Later work", {"a.py": "1\n"})
    rc, report = audit_json(repo, people["alice"])
    assert rc == 1
    found = codes(report)
    assert {kind: found[sha] for kind, sha in bad.items()} == {
        kind: ["unauthorized-policy-change"] for kind in bad}
    assert found[repo.git("rev-parse", "HEAD").strip()] == []


# ---- messages through the hooks ------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [None, "ISO-8859-1"])
def test_a_non_utf8_message_keeps_its_bytes_and_gets_a_valid_declaration(
        repo: Repo, people: dict[str, Person], encoding: str | None) -> None:
    """git itself re-codes a non-UTF-8 message as Latin-1 unless i18n.commitEncoding names one;
    either way the hooks add trailers and change no byte of what git would have stored."""
    if encoding:
        repo.git("config", "i18n.commitEncoding", encoding)
    raw = b"Caf\xe9 cr\xe8me \xff\xfe\n\nLatin-1 body \xe0 la carte.\n"
    (repo.home / "msg").write_bytes(raw)
    repo.write("a.py", "1\n")
    repo.git("add", "a.py")
    env = repo.as_person(people["bob"])
    repo.run("git", "commit", "-q", "-F", str(repo.home / "msg"), env={**env, "PROVENANCE_SKIP": "1"})
    as_git_stores_it = repo.run("git", "cat-file", "commit", "HEAD").stdout.partition(b"\n\n")[2]
    assert (as_git_stores_it == raw) == bool(encoding)
    repo.git("reset", "-q", "--soft", "HEAD~1")
    repo.run("git", "commit", "-q", "-F", str(repo.home / "msg"), env=env)
    message = repo.run("git", "cat-file", "commit", "HEAD").stdout.partition(b"\n\n")[2]
    assert message.startswith(as_git_stores_it) and message != as_git_stores_it
    text = message.decode("utf-8", "surrogateescape")
    (sig,) = trailers.values(text, "Provenance-Signature")
    assert parse_signature_value(sig).change == digest.of_commit("HEAD", cwd=repo.path)
    rc, report = audit_json(repo, people["alice"])
    assert rc == 0 and codes(report) == {repo.git("rev-parse", "HEAD").strip(): []}


def test_a_10_mb_message_goes_through_the_hooks_intact(repo: Repo, people: dict[str, Person]) -> None:
    body = "".join(f"line {i:07d} of a very long generated message\n" for i in range(230_000))
    raw = ("Huge message\n\n" + body).encode()
    assert len(raw) > 10_000_000
    (repo.home / "msg").write_bytes(raw)
    repo.write("a.py", "1\n")
    repo.git("add", "a.py")
    start = time.monotonic()
    proc = repo.run("git", "commit", "-q", "-F", str(repo.home / "msg"),
                    env=repo.as_person(people["bob"]), check=False)
    elapsed = time.monotonic() - start
    assert "Traceback" not in proc.stderr.decode()
    if proc.returncode == 0:
        message = repo.run("git", "cat-file", "commit", "HEAD").stdout.partition(b"\n\n")[2]
        assert message.startswith(raw)
        assert trailers.values(message.decode(), "AI-Assisted") == ["no"]
    else:  # a clean refusal keeps the message for the user
        assert (repo.path / ".git" / "COMMIT_EDITMSG").read_bytes().startswith(raw)
    assert elapsed < 60


# ---- odd content --------------------------------------------------------------------------------

ODD_NAMES = ["payments/new\nline.py", "payments/tab\there.py", 'payments/quo"te\'s.py',
             "payments/caf\u00e9 \u65e5\u672c.py", "payments/back\\slash.py", "payments/ space.py"]


def test_odd_file_names_get_valid_declarations_and_are_matched_as_critical(
        repo: Repo, people: dict[str, Person]) -> None:
    repo.commit(people["bob"], "Odd names", {name: "x\n" for name in ODD_NAMES}, env=AGENT)
    head = repo.git("rev-parse", "HEAD").strip()
    (sig,) = trailers.values(repo.message(), "Provenance-Signature")
    assert parse_signature_value(sig).change == digest.of_commit(head, cwd=repo.path)
    rc, report = audit_json(repo, people["alice"])
    commit: dict[str, Any]
    (commit,) = report["commits"]  # type: ignore[misc]
    assert rc == 1 and [v["code"] for v in commit["violations"]] == ["missing-cosign"]
    assert sorted(commit["critical_paths"]["tier-1"]) == sorted(ODD_NAMES)


def _symlink(repo: Repo, people: dict[str, Person]) -> None:
    (repo.path / "link").symlink_to("target/elsewhere")
    repo.git("add", "link")


def _binary(repo: Repo, people: dict[str, Person]) -> None:
    repo.write("blob.bin", bytes(range(256)) * 40)
    repo.git("add", "blob.bin")


def _mode_only(repo: Repo, people: dict[str, Person]) -> None:
    repo.write("run.sh", "echo hi\n")
    repo.git("add", "run.sh")
    repo.commit(people["bob"], "Add a script")
    (repo.path / "run.sh").chmod(0o755)
    repo.git("add", "run.sh")


def _submodule(repo: Repo, people: dict[str, Person]) -> None:
    sub = repo.path.parent / "sub"
    repo.run("git", "init", "-q", str(sub))
    repo.run("git", "-C", str(sub), "commit", "-q", "--allow-empty", "-m", "s",
             env={"GIT_AUTHOR_NAME": "s", "GIT_AUTHOR_EMAIL": "s@x", "GIT_COMMITTER_NAME": "s",
                  "GIT_COMMITTER_EMAIL": "s@x"})
    repo.run("git", "-c", "protocol.file.allow=always", "submodule", "--quiet", "add", str(sub), "vendor")


def _empty(repo: Repo, people: dict[str, Person]) -> None:
    pass


@pytest.mark.parametrize("make", [_symlink, _binary, _mode_only, _submodule, _empty],
                         ids=["symlink", "binary", "mode-only", "submodule", "empty"])
def test_unusual_changes_get_declarations_the_audit_accepts(
        repo: Repo, people: dict[str, Person], make: Maker) -> None:
    make(repo, people)
    repo.run("git", "commit", "-q", "--allow-empty", "-m", "Unusual change",
             env=repo.as_person(people["bob"]))
    head = repo.git("rev-parse", "HEAD").strip()
    (sig,) = trailers.values(repo.message(), "Provenance-Signature")
    assert parse_signature_value(sig).change == digest.of_commit(head, cwd=repo.path)
    rc, report = audit_json(repo, people["alice"])
    assert codes(report)[head] == []


def test_a_detached_head_commits_and_audits(repo: Repo, people: dict[str, Person]) -> None:
    repo.commit(people["bob"], "One", {"a.py": "1\n"})
    repo.git("checkout", "-q", "--detach", "HEAD")
    repo.commit(people["bob"], "Detached", {"payments/a.py": "2\n"}, env=AGENT)
    assert trailers.values(repo.message(), "AI-Assisted") == ["yes"]
    rc, report = audit_json(repo, people["alice"])
    assert rc == 1 and sorted(sum(codes(report).values(), [])) == ["missing-cosign"]


# ---- repositories without the history the audit needs -------------------------------------------


def test_a_repository_without_commits_is_a_clear_error_and_its_first_commit_works(
        tmp_path: Path, people: dict[str, Person]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    path = tmp_path / "empty"
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=clean_env(home))
    repo = Repo(path, home, clean_env(home))
    from provenance.record.install import install
    install(cwd=path, python=sys.executable)
    external = tmp_path / "policy.toml"
    external.write_text(policy_text(people))
    for args in (("audit",), ("audit", "--policy", str(external)), ("show",), ("review",)):
        err = one_line_error(cli(repo, people["bob"], *args))
        assert "HEAD" in err or "no commit" in err or "policy" in err, (args, err)
    repo.commit(people["bob"], "First commit", {"a.py": "1\n"}, env=AGENT)
    (sig,) = trailers.values(repo.message(), "Provenance-Signature")
    assert parse_signature_value(sig).change == digest.of_commit("HEAD", cwd=path)


def test_a_shallow_clone_never_reports_a_false_ok(tmp_path: Path, people: dict[str, Person]) -> None:
    repo = new_repo(tmp_path, people)
    for i in range(2):
        repo.commit(people["bob"], f"Change {i}", {f"f{i}.py": "x\n"})
    clone = tmp_path / "shallow"
    repo.run("git", "clone", "-q", "--depth", "2", f"file://{repo.path}", str(clone))
    shallow = Repo(clone, repo.home, repo.env)
    boundary = shallow.git("rev-parse", "HEAD~1").strip()
    err = one_line_error(cli(shallow, people["alice"], "audit"))
    assert "shallow" in err and "--trust-root" in err
    # A trust root beyond the cut-off does not exist here: refused, not guessed.
    adoption = repo.git("rev-list", "--max-parents=0", "HEAD").strip()
    err = one_line_error(cli(shallow, people["alice"], "audit", "--trust-root", adoption))
    assert "does not name a commit" in err
    # Scanning with an external policy: the commit whose parents are missing cannot be judged, so
    # the audit refuses (exit 2) and names it, rather than calling its signatures forged.
    err = one_line_error(cli(shallow, people["alice"], "audit", "--format", "json", "--policy",
                             str(repo.path / ".provenance.toml")))
    assert "shallow" in err and boundary[:12] in err


# ---- the hooks never lose a message --------------------------------------------------------------


def _agent_says_no(repo: Repo, people: dict[str, Person]) -> tuple[dict[str, str], str]:
    return AGENT, "Manual\n\nAI-Assisted: no\n"


def _no_key(repo: Repo, people: dict[str, Person]) -> tuple[dict[str, str], str]:
    return {"GIT_CONFIG_VALUE_1": ""}, "No key\n"


def _missing_key(repo: Repo, people: dict[str, Person]) -> tuple[dict[str, str], str]:
    return {"GIT_CONFIG_VALUE_1": str(repo.home / "nope")}, "Missing key\n"


def _loose_key(repo: Repo, people: dict[str, Person]) -> tuple[dict[str, str], str]:
    loose = repo.home / "loose"
    loose.write_bytes(people["bob"].key.read_bytes())
    loose.chmod(0o644)
    return {"GIT_CONFIG_VALUE_1": str(loose)}, "Loose key\n"


def _broken_policy(repo: Repo, people: dict[str, Person]) -> tuple[dict[str, str], str]:
    repo.write(".provenance.toml", "version = 1\nbogus = 1\n")
    repo.run("git", "commit", "-qam", "break", env={**repo.as_person(people["bob"]), "PROVENANCE_SKIP": "1"})
    return {"GIT_CONFIG_VALUE_1": ""}, "Broken policy\n"


@pytest.mark.parametrize("failure", [_agent_says_no, _no_key, _missing_key, _loose_key, _broken_policy],
                         ids=["agent-says-no", "no-key", "missing-key", "loose-key", "broken-policy"])
def test_a_failing_hook_keeps_the_message_and_provenance_skip_gets_through(
        repo: Repo, people: dict[str, Person], failure: Failure) -> None:
    env, message = failure(repo, people)
    env = {**repo.as_person(people["bob"]), **env}
    repo.write("a.py", "1\n")
    repo.git("add", "a.py")
    head = repo.git("rev-parse", "HEAD")
    (repo.home / "msg").write_text(message)
    proc = repo.run("git", "commit", "-q", "-F", str(repo.home / "msg"), env=env, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr.decode()
    assert repo.git("rev-parse", "HEAD") == head
    assert (repo.path / ".git" / "COMMIT_EDITMSG").read_text().startswith(message)
    assert not list((repo.path / ".git").glob("*.provenance-tmp"))
    repo.run("git", "commit", "-q", "-F", str(repo.home / "msg"), env={**env, "PROVENANCE_SKIP": "1"})
    assert repo.message().startswith(message)
    assert trailers.values(repo.message(), "Provenance-Signature") == []


def test_killing_the_hook_at_any_moment_leaves_the_old_or_the_new_message(
        repo: Repo, people: dict[str, Person]) -> None:
    """write_message replaces the file atomically: a SIGKILL never leaves half a message."""
    repo.write("payments/a.py", "1\n")
    repo.git("add", "payments/a.py")
    original = "Message worth keeping\n\n" + "body line\n" * 2000
    msg = repo.home / "COMMIT_MSG"
    env = {**repo.env, **repo.as_person(people["bob"]), **AGENT}
    hook = [sys.executable, "-m", "provenance", "hook", "prepare-commit-msg", str(msg), "message"]
    msg.write_text(original)
    subprocess.run(hook, cwd=repo.path, env=env, check=True, capture_output=True)
    finished = msg.read_text()
    assert finished != original and finished.startswith(original)
    outcomes = set()
    for delay in [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8]:
        msg.write_text(original)
        proc = subprocess.Popen(hook, cwd=repo.path, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        text = msg.read_text()
        assert text in (original, finished)
        outcomes.add(text == finished)
        for tmp in repo.home.glob("*.provenance-tmp"):
            os.unlink(tmp)  # at most a stray temporary file, never a damaged message
    assert False in outcomes  # some kills did land mid-run
