"""The one exception type users see, and the handler that prints it as one line."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


class ProvenanceError(Exception):
    """A failure the user can act on. Printed as a single line; exit status 2 by default."""

    def __init__(self, message: str, *, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@contextlib.contextmanager
def error_handler() -> Iterator[None]:
    """Turn ProvenanceError (and Ctrl-C) into one line on stderr and an exit status."""
    try:
        yield
    except ProvenanceError as e:
        print(f"git-provenance: error: {e}", file=sys.stderr)
        raise SystemExit(e.exit_code) from None
    except KeyboardInterrupt:
        print("git-provenance: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
