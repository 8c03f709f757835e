"""`install --server`: the pre-receive hook in the bare repository a server receives pushes into.

The hook judges against `provenance.trustRoot` in that repository's config, so it is not
installed without one that names a commit holding a policy. Where the repository already keeps
its pre-receive hooks in `hooks/pre-receive.d/` (Gitea and Forgejo run each script there), ours
goes there beside the others; otherwise it is `hooks/pre-receive`, chaining one that exists.
"""

from __future__ import annotations

import sys
from pathlib import Path

from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.policy import source
from provenance.record.install import hook_script, place_hook, remove_hook
from provenance.record.prereceive import TRUST_ROOT_KEY

HOOK = "pre-receive"
HOOK_D_NAME = "git-provenance"

_SET_IT = (f"set it to the commit that adopted the policy, in this repository: "
           f"git config {TRUST_ROOT_KEY} COMMIT (the first commit holding .provenance.toml: "
           "git log --diff-filter=A --format=%H -- .provenance.toml)")


def hook_path(cwd: str | Path | None = None) -> Path:
    hooks = git.hooks_dir(cwd)
    return hooks / f"{HOOK}.d" / HOOK_D_NAME if (hooks / f"{HOOK}.d").is_dir() else hooks / HOOK


def check_trust_root(cwd: str | Path | None = None) -> str:
    """The trust root the hook will judge against, or why the hook cannot be installed."""
    if git.text(["rev-parse", "--is-bare-repository"], cwd=cwd) != "true":
        raise ProvenanceError("install --server is for the bare repository a server receives "
                              "pushes into; in a clone, run: git provenance install")
    configured = git.config_get(TRUST_ROOT_KEY, cwd=cwd)
    if not configured:
        raise ProvenanceError(f"this repository has no {TRUST_ROOT_KEY}: {_SET_IT}")
    sha = git.rev_parse(f"{configured}^{{commit}}", cwd=cwd)
    if sha is None:
        raise ProvenanceError(f"{TRUST_ROOT_KEY} = {configured} names no commit in this "
                              f"repository: push the branch that holds it first, or {_SET_IT}")
    if source.load_at(sha, cwd=cwd) is None:
        raise ProvenanceError(f"{TRUST_ROOT_KEY} = {configured} holds no .provenance.toml: "
                              f"{_SET_IT}")
    return sha


def install(cwd: str | Path | None = None, python: str | None = None) -> list[str]:
    root = check_trust_root(cwd)
    report = place_hook(hook_path(cwd), hook_script(HOOK, python or sys.executable))
    report.append(f"protected branches are judged from trust root {root[:12]} "
                  f"({TRUST_ROOT_KEY})")
    return report


def uninstall(cwd: str | Path | None = None) -> list[str]:
    hooks = git.hooks_dir(cwd)
    return remove_hook(hooks / f"{HOOK}.d" / HOOK_D_NAME) + remove_hook(hooks / HOOK)
