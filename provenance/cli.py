"""The click group. Each command is a thin function that calls one module."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from provenance import __version__
from provenance.errors import ProvenanceError, error_handler


class Group(click.Group):
    """Every command runs inside the error handler: user errors become one line, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        with error_handler():
            return super().invoke(ctx)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="git-provenance")
def cli() -> None:
    """Verifiable AI provenance for git: signed declarations, senior co-signs, an audit.

    \b
    Quick start:
      git provenance keygen && git provenance init && git provenance install
      git provenance audit
    """


@cli.command()
@click.option("--path", "key_path", type=click.Path(path_type=Path), default=None,
              help="Where to write the private key (default ~/.ssh/git-provenance_ed25519).")
@click.option("--no-config", is_flag=True, help="Do not set provenance.signingKey in this repository.")
def keygen(key_path: Path | None, no_config: bool) -> None:
    """Create an Ed25519 key pair for signing (never overwrites); print the public key.

    Example: git provenance keygen
    """
    from provenance import git, identity, sshsig

    config = identity.read_config()
    path = key_path or Path.home() / ".ssh" / "git-provenance_ed25519"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    comment = config.get("user.email", "git-provenance")
    key = sshsig.keygen(path, comment)
    if not no_config and git.run_ok(["rev-parse", "--git-dir"]):
        git.config_set("provenance.signingKey", str(path))
        click.echo(f"set provenance.signingKey={path} in this repository", err=True)
    click.echo(f"{key.openssh()} {comment}")


@cli.command()
@click.option("--name", default=None, help="Your name (default: git config user.name).")
@click.option("--email", default=None, help="Your email (default: git config user.email).")
def init(name: str | None, email: str | None) -> None:
    """Write a starter .provenance.toml (never overwrites) and register your public key in it.

    Example: git provenance init
    """
    from provenance import git, identity, policy, sshsig

    config = identity.read_config()
    name = name or config.get("user.name", "")
    email = (email or config.get("user.email", "")).lower()
    if not email:
        raise ProvenanceError("no email: pass --email or set git config user.email")
    key = identity.signing_key(config)
    key_line = sshsig.public_key_of(key).openssh() if key else None
    path = git.toplevel() / policy.POLICY_FILE
    if path.exists():
        if key_line is None:
            raise ProvenanceError(f"{path.name} exists and you have no signing key to register")
        path.write_text(policy.add_person_key(path.read_text(), name, email, key_line))
        click.echo(f"registered your key in the existing {path.name}")
    else:
        path.write_text(policy.starter_policy(name, email, key_line))
        click.echo(f"wrote {path.name}: review the rules, then commit it")
    policy.load_file(path)
    if key_line is None:
        click.echo("no signing key yet: run `git provenance keygen`, then `git provenance init` again")


@cli.command("allowed-signers")
@click.option("--rev", default=None, help="Read the policy at this revision (default: work tree).")
def allowed_signers(rev: str | None) -> None:
    """Print the policy's keys in OpenSSH allowed_signers format.

    Example: git provenance allowed-signers > signers && ssh-keygen -Y verify -f signers ...
    """
    from provenance import sshsig
    from provenance.policy_source import load_current

    pol = load_current(rev)
    for person in pol.people:
        for key in person.keys:
            click.echo(sshsig.allowed_signers_line(person.emails, key))


@cli.command()
@click.option("--uninstall", is_flag=True, help="Remove the hooks and restore chained ones.")
def install(uninstall: bool) -> None:
    """Install the native git hooks (chaining existing ones) and set notes.rewriteRef.

    Example: git provenance install
    """
    from provenance import install as install_mod

    lines = install_mod.uninstall() if uninstall else install_mod.install()
    for line in lines:
        click.echo(line)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("hook_type")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def hook(hook_type: str, args: tuple[str, ...]) -> None:
    """Run a hook (what the scripts in hooks/ and .pre-commit-hooks.yaml call).

    Example: git provenance hook commit-msg .git/COMMIT_EDITMSG
    """
    from provenance import hooks

    raise SystemExit(hooks.run_hook(hook_type, list(args), os.environ))


@cli.command()
@click.argument("rev", default="HEAD")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def show(rev: str, fmt: str) -> None:
    """Show one commit's provenance: declaration, evidence, signatures and whether each verifies.

    Example: git provenance show HEAD --format json
    """
    from provenance import show as show_mod

    click.echo(show_mod.render(rev, fmt), nl=False)


@cli.command()
@click.argument("range_", metavar="[RANGE]", required=False)
@click.option("--trust-root", default=None, help="Audit everything that is not an ancestor of REV.")
@click.option("--policy", "policy_file", default=None, type=click.Path(dir_okay=False),
              help="Use this policy file for the whole walk instead of the repository's.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text")
def audit(range_: str | None, trust_root: str | None, policy_file: str | None, fmt: str) -> None:
    """Judge every commit under its parent's policy; exit 1 on violations, 2 if it cannot run.

    Example: git provenance audit --trust-root v1.0 --format markdown
    """
    from provenance.audit.run import run_audit

    raise SystemExit(run_audit(range_, trust_root, policy_file, fmt, None))


@cli.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def demo(directory: Path | None) -> None:
    """Build a sample repository (agents, a junior, a senior, a violation) and audit it.

    Example: git provenance demo /tmp/provenance-demo
    """
    from provenance.demo import run as run_demo

    sys.exit(run_demo(directory))
