"""The click commands of a person's first steps, `keygen`, `init` and `add-key` (cli.py adds them to
its group). Thin, like cli.py's: each calls `commands/setup.py`, imported when it runs."""

from __future__ import annotations

from pathlib import Path

import click

TYPE_CHECKING = False
if TYPE_CHECKING:
    from provenance.commands.setup import Said


def _say(said: Said) -> None:
    for line in said.err:
        click.echo(line, err=True)
    for line in said.out:
        click.echo(line)


@click.command()
@click.option("--path", "key_path", type=click.Path(path_type=Path), default=None,
              help="Where the private key is (or goes; default ~/.ssh/git-provenance_ed25519).")
@click.option("--no-config", is_flag=True, help="Do not set provenance.signingKey.")
def keygen(key_path: Path | None, no_config: bool) -> None:
    """Create an Ed25519 key pair for signing, unless it exists; configure it; print the public key.

    It sets provenance.signingKey in this repository, or in your global git config when run
    outside one. A key you already sign with (provenance.signingKey, or user.signingKey with
    gpg.format=ssh) is kept. The new key has no passphrase: add one with `ssh-keygen -p -f KEY`
    and keep it in ssh-agent (`ssh-add KEY`), since hooks cannot ask for it.

    Example: git provenance keygen
    """
    from provenance.commands import setup

    _say(setup.keygen(key_path, configure=not no_config))


@click.command()
@click.option("--name", default=None, help="Your name (default: git config user.name).")
@click.option("--email", default=None, help="Your email (default: git config user.email).")
def init(name: str | None, email: str | None) -> None:
    """Write a starter .provenance.toml (never overwrites) and register your public key in it.

    In a repository that has a policy already, it registers your key in it (commit that; a
    senior co-signs the policy change). Warns about rule globs that match no tracked file.

    Example: git provenance init
    """
    from provenance.commands import setup

    _say(setup.init(name, email))


@click.command("add-key")
@click.argument("email")
@click.argument("key")
@click.option("--name", default=None, help="Their name, when they are new to the policy.")
@click.option("--role", "roles", multiple=True, help="A role for a new person, e.g. senior (repeatable).")
def add_key(email: str, key: str, name: str | None, roles: tuple[str, ...]) -> None:
    """Register a teammate's SSH public key in .provenance.toml, adding them when new.

    KEY is their public key line (what `git provenance keygen` printed for them) or a .pub file.

    Example: git provenance add-key bob@example.com ~/bob.pub --name "Bob Developer"
    """
    from provenance.commands import setup

    _say(setup.add_key(email, key, name, roles))
