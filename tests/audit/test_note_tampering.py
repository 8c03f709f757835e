"""Nothing downgrades yes: a note's `AI-Assisted: yes` cannot be erased by anyone who can push
notes. Every way of breaking, deleting or moving it leaves the commit AI-assisted and reported.

The scene: bob commits to a critical path outside any agent (a signed trailer `no`), then declares
the commit AI-assisted after the fact (`git provenance declare --ai`, a signed note). From then on
it needs a senior's co-sign; each attack below tries to make it pass without one.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import factory as f
import pytest
from conftest import Person, Repo, clean_env
from scenarios_support import AGENT, audit, entry, provenance

from provenance.wire import digest

NOTES = "refs/notes/provenance"


def _notes(repo: Repo, *args: str, input: bytes | None = None) -> str:
    env = {"GIT_AUTHOR_NAME": "m", "GIT_AUTHOR_EMAIL": "m@example.com",
           "GIT_COMMITTER_NAME": "m", "GIT_COMMITTER_EMAIL": "m@example.com"}
    return repo.run("git", "notes", "--ref=provenance", *args, env=env, input=input).stdout.decode()


def _replace_note(repo: Repo, sha: str, text: str) -> None:
    _notes(repo, "add", "-f", "-F", "-", sha, input=text.encode())


def _declared_later(repo: Repo, people: dict[str, Person], *more: str) -> str:
    sha = repo.commit(people["bob"], "Refund fees", {"payments/fee.py": "FEE = 5\n"})
    assert "AI-Assisted: no" in repo.message(sha)
    provenance(repo, people["bob"], "declare", sha, "--ai", "--assisted-by", "copilot", *more)
    return sha


def _judged(repo: Repo, people: dict[str, Person], sha: str) -> tuple[bool, list[str], Any]:
    _, doc = audit(repo, people["alice"])
    e = entry(doc, sha)
    return e["ai_assisted"], sorted(v["code"] for v in e["violations"]), e


def test_a_declaration_note_is_one_line_and_makes_the_commit_ai_assisted(
        repo: Repo, people: dict[str, Person]) -> None:
    sha = _declared_later(repo, people)
    lines = _notes(repo, "show", sha).splitlines()
    assert len(lines) == 1 and lines[0].startswith("Provenance-Declaration: v1 bob@example.com ")
    assert " yes by=copilot " in lines[0]
    assert _judged(repo, people, sha)[:2] == (True, ["missing-cosign"])


# ---- the attacks: each leaves the commit AI-assisted, and says what happened ----------------------

def _append_assisted_by(repo: Repo, sha: str) -> None:
    _replace_note(repo, sha, _notes(repo, "show", sha) + "Assisted-by: nobody\n")


def _append_ai_no(repo: Repo, sha: str) -> None:
    _replace_note(repo, sha, _notes(repo, "show", sha) + "AI-Assisted: no\n")


def _edit_value(repo: Repo, sha: str) -> None:
    _replace_note(repo, sha, _notes(repo, "show", sha).replace(" yes by=", " no by="))


def _edit_assisted_by(repo: Repo, sha: str) -> None:
    _replace_note(repo, sha, _notes(repo, "show", sha).replace("by=copilot", "by=vim"))


def _edit_both(repo: Repo, sha: str) -> None:
    _replace_note(repo, sha, _notes(repo, "show", sha).replace(" yes by=copilot", " no by=vim"))


def _remove_note(repo: Repo, sha: str) -> None:
    _notes(repo, "remove", sha)


def _replace_with_garbage(repo: Repo, sha: str) -> None:
    _replace_note(repo, sha, "Reviewed: fine\n")


ATTACKS: dict[str, tuple[Callable[[Repo, str], None], list[str]]] = {
    # what it does: (attack, the commit's violation codes afterwards)
    "an Assisted-by line appended": (_append_assisted_by, ["missing-cosign"]),
    "an AI-Assisted: no line appended": (_append_ai_no, ["missing-cosign"]),
    "the value edited to no": (_edit_value, ["invalid-signature", "missing-cosign"]),
    "an Assisted-by value edited": (_edit_assisted_by, ["invalid-signature", "missing-cosign"]),
    # A broken `no` is superseded by bob's valid trailer `no`; the yes it replaced is not.
    "value and Assisted-by edited": (_edit_both, ["missing-cosign", "removed-declaration"]),
    "git notes remove": (_remove_note, ["missing-cosign", "removed-declaration"]),
    "the note replaced": (_replace_with_garbage, ["missing-cosign", "removed-declaration"]),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_a_note_yes_broken_or_deleted_stays_yes_and_is_reported(
        repo: Repo, people: dict[str, Person], name: str) -> None:
    attack, codes = ATTACKS[name]
    sha = _declared_later(repo, people)
    attack(repo, sha)
    ai, found, e = _judged(repo, people, sha)
    assert (ai, found) == (True, codes), name
    for v in e["violations"]:
        assert "--no-ai" not in v["fix"]
    if "removed-declaration" in codes:
        assert any("declared yes (notes history, signed by bob@example.com" in x
                   for x in e["evidence"])


def _old_style_note(repo: Repo, people: dict[str, Person], sha: str, assisted: list[str]) -> str:
    """The note `declare --ai` wrote before declarations became one line."""
    change = digest.of_commit(sha, cwd=repo.path)
    actor = f.Actor("Bob", people["bob"].email, people["bob"].key, None)  # type: ignore[arg-type]
    sig = f.signature(actor, "declare", change, people["bob"].email, ai=True, assisted_by=assisted)
    return "".join(f"{ln}\n" for ln in sorted(
        ["AI-Assisted: yes", *(f"Assisted-by: {v}" for v in assisted),
         f"Provenance-Signature: {sig}"]))


@pytest.mark.parametrize("attack,codes", [
    ("append", ["missing-cosign"]),
    ("drop signature", ["missing-cosign", "removed-declaration"]),
    ("drop value lines", ["missing-cosign", "removed-declaration"]),
])
def test_an_old_style_note_yes_survives_the_same_attacks(
        repo: Repo, people: dict[str, Person], attack: str, codes: list[str]) -> None:
    sha = repo.commit(people["bob"], "Refund fees", {"payments/fee.py": "FEE = 5\n"})
    text = _old_style_note(repo, people, sha, ["copilot"])
    _replace_note(repo, sha, text)
    assert _judged(repo, people, sha)[:2] == (True, ["missing-cosign"])
    lines = text.splitlines()
    if attack == "append":
        lines.append("Assisted-by: nobody")
    elif attack == "drop signature":
        lines = [ln for ln in lines if not ln.startswith("Provenance-Signature")]
    else:
        lines = [ln for ln in lines if ln.startswith("Provenance-Signature")]
    _replace_note(repo, sha, "\n".join(lines) + "\n")
    assert _judged(repo, people, sha)[:2] == (True, codes)


def test_a_note_moved_to_another_commit_still_counts_where_its_change_is(
        repo: Repo, people: dict[str, Person]) -> None:
    sha = _declared_later(repo, people)
    other = repo.commit(people["bob"], "Docs", {"README": "hi\n"})
    _notes(repo, "copy", sha, other)
    _notes(repo, "remove", sha)
    assert _judged(repo, people, sha)[:2] == (True, ["missing-cosign"])
    # Where it hangs now it attests another change: a stale yes by that commit's author.
    assert "declared yes (note, signed by bob@example.com, stale)" in _judged(
        repo, people, other)[2]["evidence"]


def test_a_no_note_after_a_yes_trailer_changes_nothing(
        repo: Repo, people: dict[str, Person]) -> None:
    sha = repo.commit(people["bob"], "Agent fees", {"payments/fee.py": "FEE = 7\n"}, env=AGENT)
    provenance(repo, people["bob"], "declare", sha, "--no-ai")
    ai, codes, e = _judged(repo, people, sha)
    assert (ai, codes) == (True, ["missing-cosign"])
    assert "declared no (note, signed by bob@example.com)" in e["evidence"]


# ---- a notes ref force-pushed over the yes ------------------------------------------------------

def _publish(repo: Repo, tmp_path: Path) -> Path:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True,
                   env=repo.env)
    repo.run("git", "push", "-q", str(origin), "main", f"{NOTES}:{NOTES}",
             env={"PROVENANCE_SKIP": "1"})  # the pre-push gate would stop main: not under test
    return origin


def _fresh_audit(origin: Path, tmp_path: Path, people: dict[str, Person], sha: str
                 ) -> tuple[bool, list[str]]:
    home = tmp_path / "ci-home"
    home.mkdir(exist_ok=True)
    ci = Repo(tmp_path / "ci", home, clean_env(home))
    subprocess.run(["git", "clone", "-q", str(origin), str(ci.path)], check=True, env=ci.env)
    ci.git("fetch", "-q", "origin", f"{NOTES}:{NOTES}")
    ai, codes, _ = _judged(ci, people, sha)
    return ai, codes


def test_a_notes_ref_force_pushed_over_the_yes_keeps_it_while_its_history_holds_it(
        repo: Repo, people: dict[str, Person], tmp_path: Path) -> None:
    sha = _declared_later(repo, people)
    with_yes = repo.git("rev-parse", NOTES).strip()
    other = repo.commit(people["bob"], "Docs", {"README": "hi\n"})
    provenance(repo, people["bob"], "declare", other, "--no-ai")
    origin = _publish(repo, tmp_path)
    # Rewritten from the commit that added the yes: the later notes commit is dropped too.
    repo.git("update-ref", NOTES, with_yes)
    _notes(repo, "remove", sha)
    assert repo.run("git", "push", "-q", str(origin), f"{NOTES}:{NOTES}", check=False).returncode
    repo.git("push", "-q", "--force", str(origin), f"{NOTES}:{NOTES}")
    assert _fresh_audit(origin, tmp_path, people, sha) == (
        True, ["missing-cosign", "removed-declaration"])


def test_a_notes_ref_rewritten_without_its_history_is_out_of_the_audits_reach(
        repo: Repo, people: dict[str, Person], tmp_path: Path) -> None:
    """Documented in docs/security.md: the server hook must refuse such a rewrite."""
    sha = _declared_later(repo, people)
    origin = _publish(repo, tmp_path)
    _notes(repo, "remove", sha)
    _notes(repo, "add", "-m", "Reviewed: fine", "HEAD~1")
    orphan = repo.run("git", "commit-tree", "-m", "notes", f"{NOTES}^{{tree}}",
                      env=repo.as_person(people["bob"])).stdout.decode().strip()
    repo.git("update-ref", NOTES, orphan)
    repo.git("push", "-q", "--force", str(origin), f"{NOTES}:{NOTES}")
    assert _fresh_audit(origin, tmp_path, people, sha) == (False, [])


# ---- item 6: corrections keep every statement valid ---------------------------------------------

def test_a_second_assisted_by_correction_keeps_both_declarations_valid(
        repo: Repo, people: dict[str, Person]) -> None:
    sha = repo.commit(people["bob"], "Tooling", {"tools/x.py": "X = 1\n"})
    provenance(repo, people["bob"], "declare", sha, "--ai", "--assisted-by", "copilot")
    provenance(repo, people["bob"], "declare", sha, "--ai", "--assisted-by", "copilot",
               "--assisted-by", "cursor")
    assert len(_notes(repo, "show", sha).splitlines()) == 2
    ai, codes, e = _judged(repo, people, sha)
    assert (ai, codes) == (True, [])
    assert e["evidence"].count("declared yes (note, signed by bob@example.com)") == 2


def test_an_old_style_note_with_two_declarations_reads_both_valid(
        repo: Repo, people: dict[str, Person]) -> None:
    sha = repo.commit(people["bob"], "Tooling", {"tools/x.py": "X = 1\n"})
    one = _old_style_note(repo, people, sha, ["copilot"])
    two = _old_style_note(repo, people, sha, ["copilot", "cursor"])
    _replace_note(repo, sha, "".join(sorted(set(one.splitlines(True) + two.splitlines(True)))))
    ai, codes, e = _judged(repo, people, sha)
    assert (ai, codes) == (True, [])
    assert e["evidence"].count("declared yes (note, signed by bob@example.com)") == 2
