"""Names shared by prepare-commit-msg and the fast paths of the later hooks (import-free)."""

from __future__ import annotations

# commit-msg skips its work when the message file is byte-identical to this copy; post-commit
# skips when HEAD's tree, parents and provenance trailers equal the expected ones. A hook that
# finds anything else does the full check. Written by hooks.record_state; read by
# install.py's shell scripts and main.py.
STATE_MESSAGE = "provenance-hook-message"
STATE_COMMIT = "provenance-hook-commit"
NEXT_DECLARATION = "provenance-next-declaration"  # written by `declare --ai|--no-ai`
COMMIT_FACTS_FORMAT = "%T %P%n%(trailers:key=AI-Assisted,key=Assisted-by,key=Provenance-Signature)"
