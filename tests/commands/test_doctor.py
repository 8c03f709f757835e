"""`git provenance doctor` on real clones: what it finds, and the fix it prints for each problem."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import Person, Repo, new_repo
from sshkeys import add_to_agent, askpass, make_key, running_agent


def doctor(repo: Repo, person: Person, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "provenance", "doctor"], cwd=repo.path,
                          env={**repo.env, **repo.as_person(person), **(env or {})},
                          capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def _with_code(repo: Repo, people: dict[str, Person]) -> Repo:
    """Files under every glob of conftest's policy: a glob matching nothing is a problem of its own."""
    repo.commit(people["alice"], "Code", {"payments/pay.py": "x\n", "checkout/cart.py": "y\n"})
    return repo


def test_a_complete_set_up_passes(tmp_path: Path, people: dict[str, Person]) -> None:
    repo = _with_code(new_repo(tmp_path, people), people)
    repo.git("config", "provenance.trustRoot", "HEAD")
    rc, out = doctor(repo, people["bob"])
    assert rc == 0, out
    assert "FIX" not in out and "listed for Bob <bob@example.com>" in out


def test_each_problem_is_named_with_its_fix(tmp_path: Path, people: dict[str, Person]) -> None:
    repo = new_repo(tmp_path, people, hooks=False)
    rc, out = doctor(repo, people["bob"], {"GIT_CONFIG_COUNT": "1"})  # no signing key configured
    assert rc == 1
    assert "FIX hook commit-msg: missing\n    fix: git provenance install" in out
    assert "FIX signing key: none configured\n    fix: git provenance keygen" in out
    assert "FIX trust root: not pinned" in out


def test_a_key_missing_from_the_policy_is_found(tmp_path: Path, people: dict[str, Person]) -> None:
    repo = new_repo(tmp_path, {k: v for k, v in people.items() if k != "dave"})
    repo.git("config", "provenance.trustRoot", "HEAD")
    rc, out = doctor(repo, people["dave"])
    assert rc == 1 and "FIX key in policy: dave@example.com is not a person" in out


def test_a_chained_hook_and_unfetched_notes(tmp_path: Path, people: dict[str, Person]) -> None:
    origin = _with_code(new_repo(tmp_path / "origin", people), people)
    origin.commit(people["bob"], "AI change", {"payments/a.py": "x = 1\n"}, env={"CLAUDECODE": "1"})
    origin.run(sys.executable, "-m", "provenance", "cosign", "HEAD", env=origin.as_person(people["alice"]))
    clone = Repo(tmp_path / "clone", origin.home, origin.env)
    origin.run("git", "clone", "-q", str(origin.path), str(clone.path))
    hook = clone.path / ".git" / "hooks" / "commit-msg"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    clone.run(sys.executable, "-m", "provenance", "install")
    clone.git("config", "provenance.trustRoot", "HEAD~2")
    rc, out = doctor(clone, people["bob"])
    assert "ok  hook commit-msg: installed, chained after commit-msg.pre-provenance" in out
    assert rc == 1 and "origin has co-signs this clone has not fetched\n    fix: git provenance sync" in out
    clone.run(sys.executable, "-m", "provenance", "sync", env=clone.as_person(people["bob"]))
    rc, out = doctor(clone, people["bob"])
    assert rc == 0, out


def test_a_policy_that_does_not_parse_is_named_as_such_with_its_line(tmp_path: Path,
                                                                      people: dict[str, Person]) -> None:
    """Not "key in policy ... fix: git provenance init" (which fails on that file too)."""
    repo = _with_code(new_repo(tmp_path, people), people)
    text = (repo.path / ".provenance.toml").read_text()
    (repo.path / ".provenance.toml").write_text(text.replace("threshold = 1", "threshold = one"))
    rc, out = doctor(repo, people["bob"])
    assert rc == 1
    assert ("FIX policy: does not parse: .provenance.toml:6: syntax error: Invalid value (column 13)\n"
            "    fix: edit .provenance.toml:6 (docs/policy.md has every key), then run doctor again") in out
    assert "key in policy" not in out and "git provenance init" not in out


def test_a_rule_glob_that_matches_nothing_until_it_is_declared_a_future_path(
        tmp_path: Path, people: dict[str, Person]) -> None:
    repo = _with_code(new_repo(tmp_path, people), people)
    repo.git("config", "provenance.trustRoot", "HEAD")
    path = repo.path / ".provenance.toml"
    path.write_text(path.read_text().replace('"checkout/**"]', '"checkout/**", "ledger/**"]'))
    rc, out = doctor(repo, people["bob"])
    assert rc == 1 and ("FIX rule glob: rule 'tier-1': 'ledger/**' matches no tracked file at HEAD, so "
                        "it protects nothing") in out
    assert "fix: correct 'ledger/**' in .provenance.toml, or add it to rule 'tier-1''s future-paths" in out
    acknowledged = 'threshold = 1\nfuture-paths = ["ledger/**"]\n'
    path.write_text(path.read_text().replace("threshold = 1\n", acknowledged, 1))
    rc, out = doctor(repo, people["bob"])
    assert rc == 0, out


def test_notes_config_missing_on_a_route_without_install_is_set(tmp_path: Path,
                                                                 people: dict[str, Person]) -> None:
    repo = new_repo(tmp_path, people, hooks=False)
    assert repo.run("git", "config", "notes.rewriteRef", check=False).returncode == 1
    _, out = doctor(repo, people["bob"])
    assert "ok  notes config: set notes.rewriteRef, notes.rewrite.amend, notes.rewrite.rebase, " \
           "notes.provenance.mergeStrategy (`git provenance install` sets them" in out
    assert repo.git("config", "notes.rewriteRef").strip() == "refs/notes/provenanc[e]"
    assert repo.git("config", "notes.provenance.mergeStrategy").strip() == "cat_sort_uniq"
    assert "ok  notes config: notes follow amend and rebase" in doctor(repo, people["bob"])[1]


def _path_without_ssh_keygen(tmp_path: Path) -> str:
    """A PATH holding git alone: this machine's OpenSSH is out of sight."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    return str(bin_dir)


def test_ssh_keygen_is_not_needed_by_a_key_that_signs_in_process(tmp_path: Path,
                                                                 people: dict[str, Person]) -> None:
    repo = _with_code(new_repo(tmp_path, people), people)
    repo.git("config", "provenance.trustRoot", "HEAD")
    rc, out = doctor(repo, people["bob"], {"PATH": _path_without_ssh_keygen(tmp_path)})
    assert rc == 0, out
    assert ("ok  ssh-keygen: not needed: your key signs in-process; only a passphrase-protected key "
            "that is not in ssh-agent needs it\n") in out


def test_a_passphrase_protected_key_needs_the_agent_or_ssh_keygen(tmp_path: Path,
                                                                  people: dict[str, Person]) -> None:
    repo = _with_code(new_repo(tmp_path, people), people)
    repo.git("config", "provenance.trustRoot", "HEAD")
    key = make_key(tmp_path, "locked", passphrase="s3cret")
    bob = Person("Bob", "bob@example.com", key)
    policy = repo.path / ".provenance.toml"
    policy.write_text(policy.read_text().replace(people["bob"].public, bob.public))
    rc, out = doctor(repo, bob)
    assert rc == 1 and f"FIX signing key: {key} (" in out
    assert "is passphrase-protected and not loaded in ssh-agent" in out
    assert f"    fix: ssh-add {key}   # once a session: hooks cannot ask for a passphrase" in out
    with running_agent() as agent:
        add_to_agent(agent, key, "s3cret")
        rc, out = doctor(repo, bob, {"SSH_AUTH_SOCK": agent["SSH_AUTH_SOCK"],
                                     "PATH": _path_without_ssh_keygen(tmp_path / "a")})
    assert rc == 0, out
    assert "ok  signing key" in out and "signs through ssh-agent" in out
    assert "ok  ssh-keygen: not needed: your key signs through ssh-agent" in out
    with askpass("s3cret") as extra:  # no agent, but ssh-keygen can ask through SSH_ASKPASS
        rc, out = doctor(repo, bob, extra)
        assert rc == 0 and "signs by ssh-keygen" in out and "ok  ssh-keygen: signs with your" in out
        rc, out = doctor(repo, bob, {**extra, "PATH": _path_without_ssh_keygen(tmp_path / "b")})
    assert rc == 1 and ("FIX ssh-keygen: needed to sign with your passphrase-protected key, and not "
                        "found on PATH") in out


def test_a_commit_graph_with_changed_path_filters_is_suggested_not_required(
        tmp_path: Path, people: dict[str, Person]) -> None:
    repo = _with_code(new_repo(tmp_path, people), people)
    repo.git("config", "provenance.trustRoot", "HEAD")
    rc, out = doctor(repo, people["bob"])
    assert rc == 0 and "ok  commit-graph: no changed-path filters" in out
    assert "git commit-graph write --reachable --changed-paths" in out
    repo.git("commit-graph", "write", "--reachable", "--changed-paths")
    rc, out = doctor(repo, people["bob"])
    assert rc == 0 and "ok  commit-graph: with changed-path filters" in out
