"""What the hooks share without importing anything: the state files prepare-commit-msg leaves for
the later hooks' fast paths, and the switch that skips every hook."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: main.py's fast path imports this module on every commit
if TYPE_CHECKING:
    from collections.abc import Mapping

# commit-msg skips its work when the message file is byte-identical to this copy; post-commit
# skips when HEAD's tree, parents and provenance trailers equal the expected ones. A hook that
# finds anything else does the full check. Written by hooks.record_state; read by
# install.py's shell scripts and main.py.
STATE_MESSAGE = "provenance-hook-message"
STATE_COMMIT = "provenance-hook-commit"
NEXT_DECLARATION = "provenance-next-declaration"  # written by `declare --ai|--no-ai`
# Present once the notes configuration is set (install.set_notes_config): by `install`, or by the
# first prepare-commit-msg of a route that never runs `install` (pre-commit, hooks/ copied by hand).
NOTES_CONFIGURED = "provenance-notes-configured"
COMMIT_FACTS_FORMAT = "%T %P%n%(trailers:key=AI-Assisted,key=Assisted-by,key=Provenance-Signature)"


def skip_requested(environ: Mapping[str, str]) -> bool:
    """`PROVENANCE_SKIP=1`: the escape hatch lets a commit or push through (the audit will see it)."""
    return environ.get("PROVENANCE_SKIP", "") not in ("", "0")
