"""Console entry point. Hooks are dispatched before click is imported: commits wait on them."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and args[0] == "hook" and not args[1].startswith("-"):
        from provenance import hooks
        from provenance.errors import error_handler

        with error_handler():
            return hooks.run_hook(args[1], args[2:], os.environ)
    from provenance.cli import cli

    return int(cli.main(args=args, prog_name="git-provenance", standalone_mode=True) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
