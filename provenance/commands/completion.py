"""Shell completion for `git-provenance <TAB>` (click's scripts) and `git provenance <TAB>`.

git's own completion hands `git provenance ...` to a function of ours: bash's calls
`_git_provenance` (the words it was given, with `__git_cmd_idx` naming where `provenance` sits),
zsh's `_git` calls `_git-provenance` (its `words` already start at `provenance`), and fish gets a
`complete -c git` rule. Each passes the words after `provenance` to click's completion of
`git-provenance`.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

PROG = "git-provenance"
COMPLETE_VAR = "_GIT_PROVENANCE_COMPLETE"

# git's completion runs with `-o nospace`: a finished word needs its own space; files and
# directories fall back to bash's default completion (git registers `-o default`).
_BASH_GIT = r"""
# `git provenance <TAB>`: git's bash completion calls _git_provenance.
_git_provenance() {
    local at=${__git_cmd_idx:-1}
    local line="git-provenance ${words[*]:at+1}"
    local IFS=$'\n' response completion type value
    response=$(env COMP_WORDS="$line" COMP_CWORD=$((cword - at)) \
        _GIT_PROVENANCE_COMPLETE=bash_complete git-provenance 2>/dev/null)
    for completion in $response; do
        IFS=',' read -r type value <<< "$completion"
        if [[ $type == plain ]]; then
            COMPREPLY+=("$value ")
        fi
    done
    return 0
}
"""

_ZSH_GIT = r"""
# `git provenance <TAB>`: zsh's _git calls _git-provenance with words starting at `provenance`.
_git-provenance() {
    _git_provenance_completion "$@"
}
"""

_FISH_GIT = r"""
# `git provenance <TAB>`: the words after `provenance`, completed as git-provenance's.
function __git_provenance_complete_git
    set -l tokens (commandline -opc)
    set -l at (contains -i -- provenance $tokens)
    or return
    set -e tokens[1..$at]
    complete -C "git-provenance $tokens "(commandline -ct)
end
complete --command git --no-files --condition '__fish_seen_subcommand_from provenance' \
    --arguments '(__git_provenance_complete_git)'
"""

GIT_GLUE = {"bash": _BASH_GIT, "zsh": _ZSH_GIT, "fish": _FISH_GIT}


def script(shell: str, group: click.Group) -> str:
    """click's completion script for `git-provenance`, then the glue for `git provenance`."""
    cls = get_completion_class(shell)
    if cls is None:
        raise click.BadParameter(f"no completion for {shell!r}")
    source = cls(group, {}, PROG, COMPLETE_VAR).source()
    return source.rstrip("\n") + "\n" + GIT_GLUE[shell]
