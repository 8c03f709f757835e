"""What a plain commit's hook imports: the hooks have 80 ms for all of them (docs/performance.md).

prepare-commit-msg is the one hook of a plain commit that starts Python (commit-msg and post-commit
take shell fast paths). It signs and checks through libsodium, never cryptography (~15-30 ms with
the typing and enum it brings), and its records are provenance/records.py's NamedTuple, not
typing's (~5-7 ms), and it hashes with the interpreter's own SHA-2, not hashlib's OpenSSL (~5 ms:
provenance/hashes.py); nothing on the hook's path may add pathlib (with urllib.parse and ipaddress,
~3.5 ms), subprocess, tomllib, click or the policy's modules.
"""

from __future__ import annotations

import sys

import pytest
from conftest import Person, Repo

from provenance.record.hookstate import NOTES_CONFIGURED

# Modules a plain commit's hook must not import. The development install's import finder loads
# pathlib before any of our code runs, so the check forgets these first, then runs the hook.
HEAVY = ("pathlib", "urllib", "ipaddress", "subprocess", "tomllib", "click", "dataclasses",
         "cryptography", "typing", "hashlib", "_hashlib", "provenance.policy", "provenance.audit",
         "provenance.commands")

_RUN_HOOK = """
import sys
heavy = tuple(sys.argv[2].split())
for name in [m for m in sys.modules if m.startswith(heavy)]:
    del sys.modules[name]
from provenance.main import main
code = main(["hook", "prepare-commit-msg", sys.argv[1], "message"])
print(code, " ".join(sorted(m for m in sys.modules if m.startswith(heavy))))
"""


def _hook_imports(repo: Repo, person: Person, env: dict[str, str] | None = None) -> list[str]:
    message = repo.path / ".git" / "COMMIT_EDITMSG"
    message.write_text("Update the notes\n")
    proc = repo.run(sys.executable, "-c", _RUN_HOOK, str(message), " ".join(HEAVY),
                    env={**repo.as_person(person), "GIT_EDITOR": ":", **(env or {})})
    code, *imported = proc.stdout.decode().split()
    assert code == "0", proc.stderr.decode()
    assert "Provenance-Signature: v1 declare" in message.read_text()  # the hook did its work
    return imported


def test_a_plain_commits_hook_imports_nothing_heavy(repo: Repo, people: dict[str, Person]) -> None:
    repo.write("notes/today.md", "hello\n")
    repo.git("add", "-A")
    assert _hook_imports(repo, people["bob"]) == []


def test_an_agents_commit_loads_the_policy_and_nothing_else_heavy(
        repo: Repo, people: dict[str, Person]) -> None:
    """An AI-assisted commit reads the policy at its parent, to say whether it will need a
    co-sign and whose (docs/hooks.md); it still starts no process through subprocess, and loads
    neither the CLI nor the audit."""
    repo.write("notes/today.md", "hello\n")
    repo.git("add", "-A")
    imported = _hook_imports(repo, people["bob"], {"CLAUDECODE": "1"})
    assert "provenance.policy.schema" in imported
    assert [m for m in imported if m.startswith(("subprocess", "click", "provenance.audit",
                                                 "provenance.commands"))] == []


def test_the_check_sees_a_heavy_import(repo: Repo, people: dict[str, Person]) -> None:
    """A commit that changes the policy loads it (tomllib): the check would see pathlib too."""
    repo.write(".provenance.toml", (repo.path / ".provenance.toml").read_text() + "\n")
    repo.git("add", "-A")
    assert "tomllib" in _hook_imports(repo, people["bob"])


_COUNT_EARLY = """
import sys
from provenance.git import env
from provenance.main import main
started, start = [], env.start_commit_reads
env.start_commit_reads = lambda **kw: (start(**kw), started.append(len(env._STARTED)))
code = main(["hook", "prepare-commit-msg", sys.argv[1], "message"])
print(code, started, len(env._STARTED))
"""


@pytest.mark.parametrize("installed", [True, False])
def test_the_first_reads_start_early_and_are_all_used(
        repo: Repo, people: dict[str, Person], installed: bool) -> None:
    """prepare-commit-msg starts its first git processes before importing its modules
    (git/env.py `start_commit_reads`), and uses each: a drift between those and the calls that
    read them would leave them unread. Where the notes configuration is not marked as set, the
    configuration is read after the hook sets it, not before."""
    if not installed:
        (repo.path / ".git" / NOTES_CONFIGURED).unlink()
        repo.git("config", "--unset", "notes.rewriteRef")
    repo.write("notes/today.md", "hello\n")
    repo.git("add", "-A")
    message = repo.path / ".git" / "COMMIT_EDITMSG"
    message.write_text("Update the notes\n")
    proc = repo.run(sys.executable, "-c", _COUNT_EARLY, str(message),
                    env={**repo.as_person(people["bob"]), "GIT_EDITOR": ":"})
    assert proc.stdout.decode().split(maxsplit=1)[1] == ("[3] 0\n" if installed else "[2] 0\n")
    assert "Provenance-Signature: v1 declare" in message.read_text()
    assert repo.git("config", "notes.rewriteRef").strip()  # set by the hook, before it read it


def test_reads_a_hook_did_not_use_are_not_left_for_later(repo: Repo, people: dict[str, Person]) -> None:
    """A prepare-commit-msg that returns early (no message file) leaves no started read behind for
    a later call in the same process, which would take an earlier state's output."""
    code = ("from provenance.git import env; from provenance.main import main; "
            "print(main(['hook', 'prepare-commit-msg']), len(env._STARTED))")
    proc = repo.run(sys.executable, "-c", code, env={**repo.as_person(people["bob"]), "GIT_EDITOR": ":"})
    assert proc.stdout.decode() == "0 0\n"
