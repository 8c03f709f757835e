"""GitLab's landing methods: merge commit (and semi-linear), squash with a merge commit,
fast-forward (docs/landing.md; sources in forges/plumbing.py)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from forges.plumbing import (
    ForgeError,
    Identity,
    NotFastForward,
    Stamp,
    commit_tree,
    full_ref,
    is_ancestor,
    merge_base,
    merge_tree,
    out,
    read_commit,
    resolve,
    update_ref,
)

DEFAULT_MERGE_TEMPLATE = (
    "Merge branch '%{source_branch}' into '%{target_branch}'\n\n"
    "%{title}\n\n"
    "%{issues}\n\n"
    "See merge request %{reference}"
)
DEFAULT_SQUASH_TEMPLATE = "%{title}"

_PLACEHOLDER = re.compile(r"%\{([a-z_]+)\}")


def _to_sentence(items: Sequence[str]) -> str:
    """Rails ``Array#to_sentence``: ``a``, ``a and b``, ``a, b and c``."""
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def render_template(template: str, values: Mapping[str, str | None]) -> str:
    """GitLab's ``MessageGenerator#replace_placeholders``: drop ``\\r``; a line
    holding only an empty variable is removed, together with the blank line
    before it when a blank line (or the end) follows; then substitute."""
    message = template.replace("\r", "")
    used = list(dict.fromkeys(_PLACEHOLDER.findall(message)))
    resolved = {f"%{{{name}}}": (values.get(name) or "") for name in used}
    empty = [key for key, val in resolved.items() if not val]
    if empty:
        alt = "|".join(re.escape(e) for e in empty)
        # Ruby: gsub(/\n\n(names)(\n\n|\Z)/, '\1')  (\Z also before a final \n)
        message = re.sub(rf"\n\n(?:{alt})(\n\n|(?=\n?\Z))", r"\1", message)
        # Ruby: gsub(/^(names)\n/, '')
        message = re.sub(rf"^(?:{alt})\n", "", message, flags=re.MULTILINE)
    if resolved:
        message = re.sub("|".join(re.escape(k) for k in resolved), lambda m: resolved[m.group(0)], message)
    return message


def _values(
    *,
    source_branch: str,
    target_branch: str,
    title: str,
    reference: str,
    issues: Sequence[str] = (),
    description: str = "",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        "source_branch": source_branch,
        "target_branch": target_branch,
        "title": title,
        "issues": f"Closes {_to_sentence(list(issues))}" if issues else None,
        "description": description,
        "reference": reference,
        "local_reference": "!" + reference.rsplit("!", 1)[-1] if "!" in reference else None,
    }
    if extra:
        values.update(extra)
    return values


def merge_message(
    *,
    source_branch: str,
    target_branch: str,
    title: str,
    reference: str,
    issues: Sequence[str] = (),
    description: str = "",
    template: str = DEFAULT_MERGE_TEMPLATE,
    extra: Mapping[str, str] | None = None,
) -> bytes:
    """Default merge commit message: ``Merge branch 'src' into 'dst'\\n\\nTitle
    \\n\\n[Closes #1 and #2\\n\\n]See merge request group/project!N`` (no final
    newline).  ``reference`` is the full reference ``group/project!N``;
    ``issues`` the closing issue references (``#1``); ``extra`` feeds other
    variables (``co_authored_by``, ``approved_by``, ``url``, ...)."""
    values = _values(
        source_branch=source_branch,
        target_branch=target_branch,
        title=title,
        reference=reference,
        issues=issues,
        description=description,
        extra=extra,
    )
    return render_template(template, values).encode()


def co_authored_by(
    repo: str | os.PathLike[str],
    target_ref: str,
    source_ref: str,
    *,
    exclude_email: str | None,
    limit: int = 100,
) -> str:
    """The ``%{co_authored_by}`` variable: one ``Co-authored-by: name <email>``
    line per distinct author email of the MR's 100 most recent commits
    (newest first, merge commits included), without ``exclude_email`` -- the
    merging user for merge commits, the MR author for squash commits.  For a
    repeated email the position of its newest commit and the name of its
    oldest commit win (Ruby ``to_h``)."""
    tgt = resolve(repo, full_ref(target_ref))
    src = resolve(repo, source_ref)
    oids = out(repo, "rev-list", f"--max-count={limit}", f"{merge_base(repo, tgt, src)}..{src}").split()
    names: dict[str, str] = {}
    for oid in oids:
        c = read_commit(repo, oid)
        names[c.author.email] = c.author.name
    return "\n".join(
        f"Co-authored-by: {name} <{email}>" for email, name in names.items() if email != exclude_email
    )


def _squash(
    repo: str | os.PathLike[str],
    start: str,
    head: str,
    message: bytes,
    *,
    mr_author: Identity,
    author_tz: str | None,
    committer: Identity,
    when: Stamp,
) -> str:
    """Gitaly ``UserSquash``: parent = *start* (the MR diff's start sha),
    tree = merge-tree(start, head), author = MR author at the committer's
    instant (in the author's tz), committer = merging user; a final newline
    is added to the message when missing."""
    if message and not message.endswith(b"\n"):
        message += b"\n"
    tree = merge_tree(repo, start, head)
    return commit_tree(
        repo,
        tree,
        [start],
        message,
        author=mr_author,
        author_when=Stamp(when.seconds, author_tz or when.tz),
        committer=committer,
        committer_when=when,
    )


def merge_commit(
    repo: str | os.PathLike[str],
    target_ref: str,
    source_ref: str,
    *,
    title: str,
    reference: str,
    merger: Identity,
    when: Stamp,
    source_branch: str | None = None,
    target_branch: str | None = None,
    issues: Sequence[str] = (),
    description: str = "",
    template: str = DEFAULT_MERGE_TEMPLATE,
    extra: Mapping[str, str] | None = None,
    message: bytes | str | None = None,
    committer: Identity | None = None,
    semi_linear: bool = False,
    _second_parent: str | None = None,
) -> str:
    """GitLab "Merge commit" (``semi_linear=True``: "Merge commit with
    semi-linear history", which refuses unless the target tip is an ancestor
    of the source).  Parents (target tip, source head), tree
    ``merge-tree(target, source)``, author = committer = merging user at
    ``when`` -- unless ``committer`` is given (web-commit signing:
    :data:`GITLAB`).  Returns the merge commit id."""
    target_ref = full_ref(target_ref)
    target = resolve(repo, target_ref)
    source = _second_parent or resolve(repo, source_ref)
    if semi_linear and not is_ancestor(repo, target, resolve(repo, source_ref)):
        raise NotFastForward("semi-linear history: rebase the source branch first")
    if message is None:
        body = merge_message(
            source_branch=source_branch or source_ref.removeprefix("refs/heads/"),
            target_branch=target_branch or target_ref.removeprefix("refs/heads/"),
            title=title,
            reference=reference,
            issues=issues,
            description=description,
            template=template,
            extra=extra,
        )
    else:
        body = message.encode() if isinstance(message, str) else message
    tree = merge_tree(repo, target, source)
    new = commit_tree(
        repo,
        tree,
        [target, source],
        body,
        author=merger,
        author_when=when,
        committer=committer or merger,
        committer_when=when,
    )
    update_ref(repo, target_ref, new, target, f"gitlab merge {reference}")
    return new


class GitLabResult(NamedTuple):
    squash: str  # the squash commit (or the MR head when no squash was made)
    tip: str  # the new target tip (merge commit, or the squash for ff)


def squash_and_merge(
    repo: str | os.PathLike[str],
    target_ref: str,
    source_ref: str,
    *,
    title: str,
    reference: str,
    mr_author: Identity,
    merger: Identity,
    when: Stamp,
    start: str | None = None,
    author_tz: str | None = None,
    squash_message: bytes | str | None = None,
    squash_template: str = DEFAULT_SQUASH_TEMPLATE,
    source_branch: str | None = None,
    target_branch: str | None = None,
    issues: Sequence[str] = (),
    description: str = "",
    template: str = DEFAULT_MERGE_TEMPLATE,
    extra: Mapping[str, str] | None = None,
    message: bytes | str | None = None,
    committer: Identity | None = None,
    semi_linear: bool = False,
) -> GitLabResult:
    """GitLab "Merge commit" with "Squash commits" on: a squash commit
    (see :func:`_squash`) whose parent is ``start`` -- the MR diff's
    ``start_commit_sha``, i.e. the target tip recorded when the source branch
    was last pushed (defaults to the merge-base of target and source) -- then a
    merge commit (target tip, squash).  When the MR has fewer than two commits
    and no explicit ``squash_message`` is given, GitLab skips the squash and
    merges the head itself."""
    src = resolve(repo, source_ref)
    tgt = resolve(repo, full_ref(target_ref))
    start_sha = resolve(repo, start) if start else merge_base(repo, tgt, src)
    # MergeRequest#commits_count: the commits of the MR diff (merge-base..head)
    n_commits = len(out(repo, "rev-list", f"{merge_base(repo, tgt, src)}..{src}").split())
    if n_commits < 2 and squash_message is None:
        squashed = src
    else:
        if squash_message is None:
            sq = render_template(
                squash_template,
                _values(
                    source_branch=source_branch or source_ref.removeprefix("refs/heads/"),
                    target_branch=target_branch or full_ref(target_ref).removeprefix("refs/heads/"),
                    title=title,
                    reference=reference,
                    issues=issues,
                    description=description,
                    extra=extra,
                ),
            ).encode()
        else:
            sq = squash_message.encode() if isinstance(squash_message, str) else squash_message
        squashed = _squash(
            repo,
            start_sha,
            src,
            sq,
            mr_author=mr_author,
            author_tz=author_tz,
            committer=committer or merger,
            when=when,
        )
    tip = merge_commit(
        repo,
        target_ref,
        source_ref,
        title=title,
        reference=reference,
        merger=merger,
        when=when,
        source_branch=source_branch,
        target_branch=target_branch,
        issues=issues,
        description=description,
        template=template,
        extra=extra,
        message=message,
        committer=committer,
        semi_linear=semi_linear,
        _second_parent=squashed,
    )
    return GitLabResult(squashed, tip)


def fast_forward(
    repo: str | os.PathLike[str],
    target_ref: str,
    source_ref: str,
    *,
    squash: bool = False,
    title: str = "",
    reference: str = "",
    mr_author: Identity | None = None,
    merger: Identity | None = None,
    when: Stamp | None = None,
    author_tz: str | None = None,
    squash_message: bytes | str | None = None,
    squash_template: str = DEFAULT_SQUASH_TEMPLATE,
    committer: Identity | None = None,
) -> str:
    """GitLab "Fast-forward merge": the target ref moves to the source head
    (no new commit); refused unless the target tip is an ancestor of the
    source.  With ``squash=True`` a squash commit on the target tip is made
    first (same rules as :func:`squash_and_merge`, including "fewer
    than two commits and no custom message: no squash") and the target
    fast-forwards to it.  Returns the new target tip."""
    target_ref = full_ref(target_ref)
    target = resolve(repo, target_ref)
    src = resolve(repo, source_ref)
    if not is_ancestor(repo, target, src):
        raise NotFastForward("fast-forward merge is not possible: rebase the source branch first")
    new = src
    if squash and not (len(out(repo, "rev-list", f"{target}..{src}").split()) < 2 and squash_message is None):
        if mr_author is None or merger is None or when is None:
            raise ForgeError("squash needs mr_author, merger and when")
        if squash_message is None:
            sq = render_template(squash_template, {"title": title, "reference": reference}).encode()
        else:
            sq = squash_message.encode() if isinstance(squash_message, str) else squash_message
        new = _squash(
            repo,
            target,
            src,
            sq,
            mr_author=mr_author,
            author_tz=author_tz,
            committer=committer or merger,
            when=when,
        )
    update_ref(repo, target_ref, new, target, f"gitlab fast-forward {reference}".strip())
    return new
