"""GitHub's landing methods: "Squash and merge", "Rebase and merge", "Create a merge commit",
and the merge queue's branch name (docs/landing.md; sources in forges/plumbing.py)."""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Iterable, Sequence

from forges.plumbing import (
    GITHUB,
    CommitInfo,
    ForgeError,
    Identity,
    Stamp,
    commit_tree,
    commits_between,
    full_ref,
    is_ancestor,
    merge_tree,
    replay,
    resolve,
    update_ref,
)


class SquashStyle(enum.Enum):
    """GitHub's "default commit message" setting for squash merges.

    Values are the REST API pairs (``squash_merge_commit_title``,
    ``squash_merge_commit_message``).
    """

    DEFAULT = ("COMMIT_OR_PR_TITLE", "COMMIT_MESSAGES")  # "Default message"
    PR_TITLE = ("PR_TITLE", "BLANK")  # "Pull request title"
    PR_TITLE_AND_COMMIT_DETAILS = ("PR_TITLE", "COMMIT_MESSAGES")
    PR_TITLE_AND_DESCRIPTION = ("PR_TITLE", "PR_BODY")


class MergeStyle(enum.Enum):
    """GitHub's "default commit message" setting for merge commits.

    Values are the REST API pairs (``merge_commit_title``,
    ``merge_commit_message``).
    """

    DEFAULT = ("MERGE_MESSAGE", "PR_TITLE")  # "Default message"
    PR_TITLE = ("PR_TITLE", "BLANK")  # "Pull request title"
    PR_TITLE_AND_DESCRIPTION = ("PR_TITLE", "PR_BODY")


# ---- messages ------------------------------------------------------------------------------------

_TRAILER_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*):[ \t]*(.*)$")
_LIFTED = {"signed-off-by": "Signed-off-by", "co-authored-by": "Co-authored-by"}


def _text(message: bytes) -> str:
    return message.decode("utf-8", errors="replace").replace("\r\n", "\n")


def _trailer_block(text: str) -> list[tuple[str, str]]:
    """Trailers of a message as GitHub sees them: the last paragraph, when every
    line of it is ``Key: value``.  (Unlike ``git interpret-trailers`` a ``---``
    line earlier in the message does not hide them.)"""
    text = text.rstrip("\n")
    if "\n\n" not in text:
        return []
    lines = text.rsplit("\n\n", 1)[1].split("\n")
    matches = [_TRAILER_LINE.match(line) for line in lines]
    if not all(matches):
        return []
    return [(m.group(1), m.group(2)) for m in matches if m]


def _coauthor_lines(
    commits: Sequence[CommitInfo],
    pr_author_emails: frozenset[str],
) -> tuple[list[str], list[str]]:
    """(Signed-off-by lines, Co-authored-by lines) GitHub appends to a squash.

    Walk the PR's commits (merge commits included) oldest first; for each, the
    author becomes ``Co-authored-by`` unless it is the PR author's account,
    then its ``Signed-off-by`` / ``Co-authored-by`` trailers are lifted (key
    case normalised).  Duplicates are dropped, first occurrence wins.
    """
    sob: list[str] = []
    coa: list[str] = []
    for c in commits:
        if c.author.email.lower() not in pr_author_emails:
            line = f"Co-authored-by: {c.author}"
            if line not in coa:
                coa.append(line)
        for key, value in _trailer_block(_text(c.message)):
            norm = _LIFTED.get(key.lower())
            if norm is None:
                continue
            line = f"{norm}: {value}"
            bucket = sob if norm == "Signed-off-by" else coa
            if line not in bucket:
                bucket.append(line)
    return sob, coa


def squash_message(
    commits: Sequence[CommitInfo],
    number: int,
    title: str,
    *,
    pr_author: Identity,
    pr_author_aliases: Iterable[str] = (),
    style: SquashStyle = SquashStyle.DEFAULT,
    description: str = "",
    era: str = "2026",
    crlf: bool = False,
) -> bytes:
    """The default message GitHub proposes (and writes, if not edited) for a
    squash merge of *commits* (``base..head``, oldest first, merges included).

    ``era``: ``"2026"`` is the format since 2026-03 (a message without body is
    just the subject); ``"2023"`` the format from 2023-02 to 2026-03 (subject
    followed by ``"\\n\\n"`` even when the body is empty).  ``crlf`` reproduces
    web-UI merges up to ~2024, whose body arrived with CRLF line ends.
    """
    emails = frozenset({pr_author.email.lower(), *(a.lower() for a in pr_author_aliases)})
    own = [c for c in commits if len(c.parents) < 2]
    sob, coa = _coauthor_lines(commits, emails)
    title_mode, body_mode = style.value
    single = len(own) == 1

    if title_mode == "COMMIT_OR_PR_TITLE" and single:
        first, _, rest = _text(own[0].message).partition("\n")
        subject = first.strip()
    else:
        subject, rest = title.strip(), ""
    subject = f"{subject} (#{number})"

    if body_mode == "COMMIT_MESSAGES" and title_mode == "COMMIT_OR_PR_TITLE" and single:
        # one commit: its body, then missing trailers joined to its trailer block
        body = rest.strip("\n").rstrip()
        have = {f"{_LIFTED.get(k.lower(), k)}: {v}" for k, v in _trailer_block(f"{subject}\n\n{body}")}
        extra = [line for line in sob + coa if line not in have]
        if extra:
            if have:
                body += "\n" + "\n".join(extra)
            elif body:
                body += "\n\n" + "\n".join(extra)
            else:
                body = "\n".join(extra)
    else:
        if body_mode == "COMMIT_MESSAGES":
            main = "\n\n".join("* " + _text(c.message).strip("\n").rstrip() for c in own)
        elif body_mode == "PR_BODY":
            main = description.replace("\r\n", "\n").strip()
        else:  # BLANK
            main = ""
        # trailer-only bodies list co-authors first since 2026 (observed)
        lines = (coa + sob) if (not main and era >= "2026") else (sob + coa)
        if main and lines:
            body = main + "\n\n---------\n\n" + "\n".join(lines)
        else:
            body = main or "\n".join(lines)

    if crlf:
        body = body.replace("\n", "\r\n")
    if body:
        message = f"{subject}\n\n{body}"
    elif era < "2026":
        message = f"{subject}\n\n"
    else:
        message = subject
    return message.encode()


def merge_message(
    number: int,
    owner_branch: str,
    title: str,
    *,
    style: MergeStyle = MergeStyle.DEFAULT,
    description: str = "",
    era: str = "2026",
) -> bytes:
    """Message of a "Create a merge commit" merge.

    Default: ``Merge pull request #N from owner/branch\\n\\nTitle`` (no final
    newline).  ``owner_branch`` is the head repository's owner, a slash, and
    the head branch name (``cli/wm/fix`` or ``someone/feature/x`` for a fork).
    """
    title_mode, body_mode = style.value
    if title_mode == "MERGE_MESSAGE":
        subject = f"Merge pull request #{number} from {owner_branch}"
    else:
        subject = f"{title.strip()} (#{number})"
    if body_mode == "PR_TITLE":
        body = title.strip()
    elif body_mode == "PR_BODY":
        body = description.replace("\r\n", "\n").strip()
    else:
        body = ""
    if body:
        return f"{subject}\n\n{body}".encode()
    # an empty body: "subject\n\n" observed through 2024 (cli/cli); for 2026
    # the squash rule (bare subject) is assumed -- reconstruction
    return (f"{subject}\n\n" if era < "2026" else subject).encode()


# ---- merges --------------------------------------------------------------------------------------


def squash(
    repo: str | os.PathLike[str],
    base_ref: str,
    head_ref: str,
    number: int,
    title: str,
    *,
    merger: Identity,
    when: Stamp,
    message_style: SquashStyle = SquashStyle.DEFAULT,
    pr_author: Identity | None = None,
    pr_author_aliases: Iterable[str] = (),
    author_tz: str | None = None,
    description: str = "",
    message: bytes | str | None = None,
    era: str = "2026",
    crlf: bool = False,
) -> str:
    """GitHub "Squash and merge": one new commit on ``base_ref``; returns its id.

    * parent: the base tip at merge time; tree: ``merge-tree(base tip, head)``;
    * author: the PR author (``pr_author``; defaults to the author of the
      first PR commit), author time = merge time, author tz = ``author_tz`` or
      the tz of the PR author's own last commit in the PR, else ``when.tz``;
    * committer: ``GitHub <noreply@github.com>`` at ``when`` (the merger's tz);
    * message: :func:`squash_message` unless ``message`` is given.

    ``merger`` is the person clicking the button: it is not written into the
    commit (GitHub is the committer); pass ``when`` in the merger's offset.
    It decides the default author offset (self-merge: ``when.tz``).
    """
    base_ref = full_ref(base_ref)
    base = resolve(repo, base_ref)
    head = resolve(repo, head_ref)
    commits = commits_between(repo, base, head, merges=True)
    if not [c for c in commits if len(c.parents) < 2]:
        raise ForgeError("nothing to squash: head is already in base")
    author = pr_author or next(c.author for c in commits if len(c.parents) < 2)
    if author_tz is None:
        # reconstruction (see FORGES.md): a self-merge uses the merger's offset;
        # otherwise the offset of the PR author's own last commit in the PR
        aliases = {author.email.lower(), *(a.lower() for a in pr_author_aliases)}
        own = [c for c in commits if c.author.email.lower() in aliases]
        if merger.email.lower() in aliases or not own:
            author_tz = when.tz
        else:
            author_tz = own[-1].author_when.tz
    if message is None:
        body = squash_message(
            commits,
            number,
            title,
            pr_author=author,
            pr_author_aliases=pr_author_aliases,
            style=message_style,
            description=description,
            era=era,
            crlf=crlf,
        )
    else:
        body = message.encode() if isinstance(message, str) else message
    tree = merge_tree(repo, base, head)
    new = commit_tree(
        repo,
        tree,
        [base],
        body,
        author=author,
        author_when=Stamp(when.seconds, author_tz),
        committer=GITHUB,
        committer_when=when,
    )
    update_ref(repo, base_ref, new, base, f"github squash #{number}")
    return new


def rebase_merge(
    repo: str | os.PathLike[str],
    base_ref: str,
    head_ref: str,
    *,
    merger: Identity,
    when: Stamp,
) -> str:
    """GitHub "Rebase and merge": every non-merge commit of ``base..head`` is
    re-applied on the base tip (sequential cherry-picks); author name, email,
    date and the message bytes are kept; the committer becomes the merging
    user (``merger``) at ``when``.  Always new commits, even when the base did
    not move (GitHub never fast-forwards).  Unsigned.  Returns the new tip."""
    base_ref = full_ref(base_ref)
    base = resolve(repo, base_ref)
    head = resolve(repo, head_ref)
    commits = commits_between(repo, base, head, merges=False)
    if not commits:
        raise ForgeError("nothing to rebase: head is already in base")
    new = replay(repo, base, commits, committer=merger, when=when)
    update_ref(repo, base_ref, new[-1], base, "github rebase-merge")
    return new[-1]


def merge_commit(
    repo: str | os.PathLike[str],
    base_ref: str,
    head_ref: str,
    number: int,
    owner_branch: str,
    title: str,
    *,
    merger: Identity,
    when: Stamp,
    message_style: MergeStyle = MergeStyle.DEFAULT,
    description: str = "",
    message: bytes | str | None = None,
    era: str = "2026",
) -> str:
    """GitHub "Create a merge commit" (``--no-ff``): parents (base tip, PR
    head), tree ``merge-tree(base tip, head)``, author = the merging user at
    ``when``, committer ``GitHub <noreply@github.com>`` at the same instant.
    Returns the merge commit id."""
    base_ref = full_ref(base_ref)
    base = resolve(repo, base_ref)
    head = resolve(repo, head_ref)
    if is_ancestor(repo, head, base):
        raise ForgeError("head is already merged into base")
    if message is None:
        body = merge_message(
            number, owner_branch, title, style=message_style, description=description, era=era
        )
    else:
        body = message.encode() if isinstance(message, str) else message
    tree = merge_tree(repo, base, head)
    new = commit_tree(
        repo,
        tree,
        [base, head],
        body,
        author=merger,
        author_when=when,
        committer=GITHUB,
        committer_when=when,
    )
    update_ref(repo, base_ref, new, base, f"github merge #{number}")
    return new


def merge_queue_ref(base_branch: str, number: int, group_base: str) -> str:
    """Name of the temporary branch a GitHub merge queue builds for PR *number*:
    ``refs/heads/gh-readonly-queue/<base>/pr-<N>-<sha of the group's base>``."""
    return f"refs/heads/gh-readonly-queue/{base_branch}/pr-{number}-{group_base}"
