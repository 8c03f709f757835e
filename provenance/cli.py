"""The click group. Each command is a thin function that calls one module."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from provenance import __version__
from provenance.commands import exports, first_steps
from provenance.errors import ProvenanceError, error_handler

# Commands that work anywhere; every other one needs a repository and says so first, in one line.
ANYWHERE = frozenset({"keygen", "demo", "completion", "help"})


class Group(click.Group):
    """Every command runs inside the error handler: user errors become one line, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        with error_handler():
            return super().invoke(ctx)

    def resolve_command(
        self, ctx: click.Context, args: list[str],
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None and name not in ANYWHERE and not ctx.resilient_parsing:
            from provenance.git import git

            git.git_dir()  # "not a git repository" before any command-specific message
        return name, command, rest


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="git-provenance")
def cli() -> None:
    """Verifiable AI provenance for git: signed declarations, senior co-signs, an audit.

    \b
    Quick start:
      git provenance keygen && git provenance init && git provenance install
      git provenance audit

    `git provenance help COMMAND` shows one command; `man git-provenance` shows them all.
    """


cli.add_command(first_steps.keygen)  # a person's first steps: commands/first_steps.py
cli.add_command(first_steps.init)
cli.add_command(first_steps.add_key)
cli.add_command(exports.attest)  # the auditors' exports: commands/exports.py
cli.add_command(exports.evidence)


@cli.command("allowed-signers")
@click.option("--rev", default=None, help="Read the policy at this revision (default: work tree).")
def allowed_signers(rev: str | None) -> None:
    """Print the policy's keys in OpenSSH allowed_signers format.

    Example: git provenance allowed-signers > signers && ssh-keygen -Y verify -f signers ...
    """
    from provenance.policy.source import load_current
    from provenance.ssh import sshsig

    pol = load_current(rev)
    for person in pol.people:
        for key in person.keys:
            click.echo(sshsig.allowed_signers_line(person.emails, key))


@cli.command()
@click.option("--uninstall", is_flag=True, help="Remove the hooks and restore chained ones.")
@click.option("--server", is_flag=True, help="In a bare repository: the pre-receive hook (docs/server.md).")
def install(uninstall: bool, server: bool) -> None:
    """Install the native git hooks (chaining existing ones) and set notes.rewriteRef; in a
    clone whose trust root is pinned, settle the policy at the upstream for the pre-push gate.

    Example: git provenance install   (on a server: git provenance install --server)
    """
    from provenance.record import install as install_mod
    from provenance.record import server as server_mod

    mod = server_mod if server else install_mod
    for line in mod.uninstall() if uninstall else mod.install():
        click.echo(line)
    if not (uninstall or server):
        _prepare_gate()


def _prepare_gate() -> None:
    """Settle the policy at the upstream once, so the first push costs what it pushes."""
    from provenance.record import gate

    tip = gate.upstream()
    if tip is None:
        return
    hint = gate.unpinned(tip)
    if hint:
        click.echo(hint)
        return
    click.echo(f"reading the history of {tip.name} once for the pre-push gate...", err=True)
    for line in gate.prepare(tip):
        click.echo(line)


@cli.command()
@click.option("--server", is_flag=True, help="Remove the pre-receive hook of a bare repository.")
def uninstall(server: bool) -> None:
    """Remove the hooks `install` wrote and restore the ones they chained.

    Example: git provenance uninstall --server
    """
    from provenance.record import install as install_mod
    from provenance.record import server as server_mod

    for line in (server_mod if server else install_mod).uninstall():
        click.echo(line)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("hook_type")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def hook(hook_type: str, args: tuple[str, ...]) -> None:
    """Run a hook (what the scripts in hooks/ and .pre-commit-hooks.yaml call).

    Example: git provenance hook commit-msg .git/COMMIT_EDITMSG
    """
    from provenance.record import hooks

    raise SystemExit(hooks.run_hook(hook_type, list(args), os.environ))


@cli.command()
@click.argument("rev", default="HEAD")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def show(rev: str, fmt: str) -> None:
    """Show one commit's provenance: declaration, evidence, signatures and whether each verifies.

    Example: git provenance show HEAD --format json
    """
    from provenance.commands import show as show_mod

    click.echo(show_mod.render(rev, fmt), nl=False)


def _expand(revs: tuple[str, ...]) -> list[str]:
    """REV arguments, where `A..B` means every commit in that range (oldest first)."""
    from provenance.git import git

    out: list[str] = []
    for rev in revs:
        if ".." in rev:
            out += git.text(["rev-list", "--reverse", rev]).split()
        else:
            out.append(rev)
    return out


@cli.command()
@click.argument("revs", nargs=-1, required=True)
@click.option("--note/--amend", "as_note", default=True,
              help="Store as a git note (default), or amend your unpublished HEAD's trailers.")
@click.option("--no-covers", is_flag=True,
              help="On a merge, approve only the merge's own change, not the commits it brings in.")
@click.option("--force", is_flag=True,
              help="Co-sign even where the audit needs no co-sign from you (never your own commit).")
def cosign(revs: tuple[str, ...], as_note: bool, no_covers: bool, force: bool) -> None:
    """Co-sign commits as the configured signer (a signed note; never rewrites history by default).

    A range (A..B) stands for its commits that no protected branch holds yet. Your own commits,
    and commits that need no co-sign from you, are left out, and said so. Co-signing a merge also
    approves the commits it brings in, unless one of them is already on a protected branch.

    Example: git provenance cosign origin/main..origin/feature && git provenance sync
    """
    from provenance.commands.targets import run

    for line in run(revs, as_note=as_note, covers=not no_covers, force=force):
        click.echo(line)


@cli.command()
@click.argument("revs", nargs=-1)
@click.option("--ai/--no-ai", "ai", default=None, required=True, help="AI-assisted or not.")
@click.option("--assisted-by", multiple=True, help="tool[:model], e.g. claude-code:claude-opus-4-6.")
def declare(revs: tuple[str, ...], ai: bool | None, assisted_by: tuple[str, ...]) -> None:
    """Declare the next commit, or add a signed declaration to existing commits as a note.

    \b
    Examples:
      git provenance declare --ai --assisted-by cursor    # the next commit
      git provenance declare abc123 --no-ai                # a web-UI commit, after the fact
    """
    from provenance.commands import cosign as cosign_mod
    from provenance.git import git
    from provenance.record.hookstate import NEXT_DECLARATION

    assert ai is not None
    if not revs:
        path = git.git_dir() / NEXT_DECLARATION
        path.write_text("\n".join(["yes" if ai else "no", *assisted_by]) + "\n")
        click.echo(f"the next commit will be declared AI-Assisted: {'yes' if ai else 'no'}")
        return
    for rev in _expand(revs):
        att = cosign_mod.build_declaration(rev, ai, assisted_by)
        cosign_mod.store_as_note(att)
        click.echo(f"declared {att.commit[:12]} AI-Assisted: {'yes' if ai else 'no'} in a signed note")


@cli.command()
@click.argument("range_", metavar="[RANGE]", required=False)
@click.option("--yes", "assume_yes", is_flag=True, help="Co-sign every listed change without asking.")
@click.option("--request", default=None, metavar="N",
              help="Fetch pull/merge request N's head from REMOTE and review its commits.")
@click.option("--remote", default="origin", show_default=True, help="Where --request fetches from.")
def review(range_: str | None, assume_yes: bool, request: str | None, remote: str) -> None:
    """List AI-assisted changes to critical paths that still need your co-sign; co-sign on confirmation.

    Without RANGE: what waits on remote branches (and HEAD) that no protected branch holds yet.
    Commits already on a protected branch are left out, and said so.

    \b
    Examples:
      git provenance review origin/main..origin/feature
      git provenance review --request 7     # a pull request, before it is squashed or merged
    """
    from provenance.commands.review import fetch_request, run

    if request is not None:
        if range_:
            raise ProvenanceError("give a RANGE or --request, not both")
        ref, range_ = fetch_request(request, remote)
        click.echo(f"fetched {ref}; reviewing {range_} (a co-sign here counts for the commit "
                   "that lands it: a squash or rebase-merge is judged by these commits)")
    run(range_, assume_yes=assume_yes, say=click.echo,
        ask=lambda q: click.confirm(q, default=False))


@cli.command()
@click.argument("remote", default="origin")
def sync(remote: str) -> None:
    """Fetch, merge (cat_sort_uniq) and push refs/notes/provenance.

    Example: git provenance sync origin
    """
    from provenance.commands.sync import sync as sync_notes

    for line in sync_notes(remote):
        click.echo(line)


@cli.command()
@click.argument("range_", metavar="[RANGE]", required=False)
def resign(range_: str | None) -> None:
    """Renew your own declarations whose change digest went stale (after a conflicted rebase).

    Example: git provenance resign origin/main..HEAD
    """
    from provenance.commands.resign import resign as renew

    renewals = renew(range_)
    if not renewals:
        click.echo("nothing went stale")
    for r in renewals:
        if r.renewed:
            click.echo(f"renewed your declaration of {r.commit[:12]} in a signed note")
        for who in r.stale_cosigners:
            click.echo(f"{r.commit[:12]}: the co-sign by {who} is stale; only {who} can renew it "
                       f"(git provenance cosign {r.commit[:12]})")
    if renewals:
        click.echo("publish with: git provenance sync")


@cli.command()
@click.argument("range_", metavar="[RANGE]", required=False)
@click.option("--trust-root", default=None, help="Audit everything that is not an ancestor of REV.")
@click.option("--policy", "policy_file", default=None, type=click.Path(dir_okay=False),
              help="Use this policy file for the whole walk instead of the repository's.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", "sarif"]),
              default="text", help="sarif: SARIF 2.1.0 for code scanning (docs/evidence.md).")
@click.option("--no-cache", is_flag=True,
              help="Neither read nor write the per-commit cache (.git/provenance-cache.sqlite).")
def audit(range_: str | None, trust_root: str | None, policy_file: str | None, fmt: str,
          no_cache: bool) -> None:
    """Judge every commit under its parent's policy; exit 1 on violations, 2 if it cannot run.

    Example: git provenance audit --trust-root v1.0 --format markdown
    """
    from provenance.audit.run import run_audit

    raise SystemExit(run_audit(range_, trust_root, policy_file, fmt, None, use_cache=not no_cache))


@cli.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def demo(directory: Path | None) -> None:
    """Build a sample repository (agents, a junior, a senior, a violation) and audit it.

    Example: git provenance demo /tmp/provenance-demo
    """
    from provenance.commands.demo import run as run_demo

    sys.exit(run_demo(directory))


@cli.command()
@click.argument("range_", metavar="[RANGE]", required=False)
@click.option("--html", "html_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write a self-contained HTML page (inline CSS and SVG, no network) to FILE.")
@click.option("--trust-root", default=None, help="Report on everything that is not an ancestor of REV.")
@click.option("--policy", "policy_file", default=None, type=click.Path(dir_okay=False),
              help="Use this policy file for the whole walk instead of the repository's.")
def report(range_: str | None, html_file: Path, trust_root: str | None, policy_file: str | None) -> None:
    """Chart AI-assisted share, agents, critical rules, co-sign coverage and delays as an HTML page.

    Exits 0 whatever the verdicts (use `audit` to gate); 2 if the audit cannot run.

    Example: git provenance report origin/main --html provenance.html
    """
    from provenance.commands.report import write_report

    data = write_report(range_, trust_root, policy_file, html_file)
    click.echo(f"wrote {html_file}: {data.commits} commit(s), {data.ai_assisted} AI-assisted, "
               f"{data.open_violations} open violation(s)")


@cli.command()
def doctor() -> None:
    """Check this clone's set-up (hooks, signing key, notes, trust root, git and OpenSSH); print fixes.

    Exits 1 when anything needs fixing.

    Example: git provenance doctor
    """
    from provenance.commands.doctor import diagnose

    checks = diagnose()
    for check in checks:
        click.echo(f"{'ok ' if check.ok else 'FIX'} {check.name}: {check.detail}")
        if not check.ok:
            click.echo(f"    fix: {check.fix}")
    raise SystemExit(0 if all(c.ok for c in checks) else 1)


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for bash, zsh or fish.

    It completes both `git-provenance <TAB>` and `git provenance <TAB>` (through git's own
    completion, which must be loaded first).

    \b
    Examples:
      eval "$(git-provenance completion bash)"          # in ~/.bashrc
      eval "$(git-provenance completion zsh)"           # in ~/.zshrc, after compinit
      git-provenance completion fish > ~/.config/fish/conf.d/git-provenance.fish
    """
    from provenance.commands.completion import script

    click.echo(script(shell, cli), nl=False)


@cli.command("help")
@click.argument("command", required=False)
@click.pass_context
def help_(ctx: click.Context, command: str | None) -> None:
    """Show the help of git-provenance or of one command (`man git-provenance` has every command).

    Example: git provenance help audit
    """
    parent = ctx.parent
    assert parent is not None and isinstance(parent.command, click.Group)
    if command is None:
        click.echo(parent.command.get_help(parent))
        return
    found = parent.command.get_command(parent, command)
    if found is None:
        raise ProvenanceError(f"no command {command!r}: `git provenance help` lists them")
    click.echo(found.get_help(click.Context(found, info_name=command, parent=parent)))
