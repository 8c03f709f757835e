"""The click commands of the auditors' exports, `attest` and `evidence` (cli.py adds them to its
group; it is full). Thin, like cli.py's: each calls one module, imported when it runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from provenance.errors import ProvenanceError


def _walk_options(command: Callable[..., None]) -> Callable[..., None]:
    """--trust-root and --policy, as `audit` takes them."""
    command = click.option("--policy", "policy_file", default=None,
                           type=click.Path(dir_okay=False),
                           help="Use this policy file instead of the repository's.")(command)
    return click.option("--trust-root", default=None,
                        help="Judge everything that is not an ancestor of REV.")(command)


@click.command()
@click.argument("range_", metavar="[RANGE]", required=False)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the signed attestation (a DSSE envelope, JSON) to FILE.")
@click.option("--verify", "verify_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Check the attestation in FILE instead of making one.")
@click.option("--key", "key_spec", default=None,
              help="With --verify: trust only this public key (a .pub file or key::LINE).")
@_walk_options
def attest(range_: str | None, output: Path | None, verify_file: Path | None, key_spec: str | None,
           trust_root: str | None, policy_file: str | None) -> None:
    """Sign an audit of RANGE as an in-toto attestation (DSSE), or check one with --verify.

    The attestation records the verdicts and is written whatever they are (exit 0). --verify
    trusts the keys of the policy in force at the attested commit (from your trust root), or
    those of --policy FILE, or --key alone; it exits 1 when no trusted key signed it.

    \b
    Examples:
      git provenance attest origin/main --output audit.intoto.json
      git provenance attest --verify audit.intoto.json
    """
    from provenance.commands.attest import run

    click.echo(run(range_, output, verify_file, key_spec, trust_root, policy_file))


@click.command()
@click.argument("rev", default="HEAD")
@click.option("--sample", "size", type=click.IntRange(min=1), default=None,
              help="Draw N changes (default: list every change of the population).")
@click.option("--seed", default=None,
              help="The draw's seed, required with --sample: the same seed gives the same sample.")
@click.option("--since", default=None, help="Only changes committed on or after DATE (UTC).")
@click.option("--until", default=None, help="Only changes committed before DATE (UTC).")
@click.option("--format", "fmt", type=click.Choice(["csv", "markdown", "html"]), default="csv")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to FILE instead of standard output.")
@_walk_options
def evidence(rev: str, size: int | None, seed: str | None, since: str | None, until: str | None,
             fmt: str, output: Path | None, trust_root: str | None, policy_file: str | None) -> None:
    """A reproducible sample of AI-assisted changes to critical paths, for an auditor.

    Per change: commit, author, declaration and its check, rules, co-signers with their co-sign
    times and checks, the verdict, and `ssh-keygen -Y verify` commands that re-check every
    signature without this tool (docs/evidence.md). Exits 0 whatever the verdicts.

    \b
    Example:
      git provenance evidence --sample 25 --seed 2025-Q3 --since 2025-07-01 --format html \\
          --output sample.html
    """
    from provenance.commands.evidence import Request
    from provenance.commands.evidence_render import export

    text = export(Request(rev, size, seed, since, until, fmt, trust_root, policy_file))
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text)
    except OSError as e:
        raise ProvenanceError(f"cannot write {output}: {e.strerror or e}") from None
    click.echo(f"wrote {output}", err=True)
