"""The server's cache makes a push cost what is pushed (issue 17): each push's tip has its policy
state cached in the bare repository, so the next push, whose boundary it is, lists no history
before it; through real pushes into a real bare repository."""

from __future__ import annotations

from pathlib import Path

from conftest import Person
from server_support import git, push, serve
from world import make_world, policy_listings


def test_each_push_settles_only_what_it_adds_from_the_previous_tips_cached_state(
    tmp_path: Path, people: dict[str, Person]
) -> None:
    world = make_world(tmp_path, people)
    root = serve(world)
    bob = world.clone("bob")
    trace = tmp_path / "trace"
    tips = [root]
    for n in range(3):
        bob.commit(f"Docs {n}", {f"docs/{n}.md": f"{n}\n"})
        trace.write_text("")
        proc = bob.run("git", "push", "--no-verify", "origin", "main", check=False,
                       env={"GIT_TRACE": str(trace)})
        assert proc.returncode == 0, proc.stderr
        tip = git(world.origin, "rev-parse", "main")
        # One listing of the pushed commits alone (the tip's state, for the next push), each
        # stopping at the previous tip: none from the trust root.
        assert policy_listings(trace) == [[tip, f"^{root}", *([f"^{tips[-1]}"] if n else [])]]
        tips.append(tip)
    assert push(bob, "main").returncode == 0  # nothing new: nothing listed
