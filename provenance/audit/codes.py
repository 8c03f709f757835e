"""The verdict codes: what each means, an example, and how to fix it.

One table, the source of truth: docs/verdicts.md shows it (tests/audit/test_codes.py checks the
page against it, row by row) and the SARIF rules are read from it. Cells are markdown.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Code(NamedTuple):
    code: str
    title: str  # one short sentence: SARIF's shortDescription, the bold start of the docs' cell
    meaning: str
    example: str
    fix: str


TABLE: tuple[Code, ...] = (
    Code(
        "missing-declaration", "No AI-Assisted declaration.",
        "the policy requires a declaration and the commit has none, or its `AI-Assisted:` value is "
        "neither `yes` nor `no` (the message names the bad value). A merge without an own change "
        "(its tree is git's automatic merge of its parents) needs none.",
        "committed with `--no-verify` or in a web UI",
        "the author runs `git provenance declare <sha> --ai` (or `--no-ai`): a signed note, no "
        "history rewrite"),
    Code(
        "unsigned-declaration", "The declaration is not signed by its author.",
        "`signed = true` and the declaration has no valid `declare` signature by the author, and no "
        "other signature verdict already explains why",
        "`AI-Assisted: no` typed by hand",
        "the author runs `git provenance declare <sha> --ai` / `--no-ai`"),
    Code(
        "conflicting-declaration", "The commit declares both yes and no.",
        "the trailers say both `yes` and `no` (and no valid note declaration restates it)",
        "a squash that kept both trailers",
        "the author runs `git provenance declare <sha> --ai` (yes wins: nothing downgrades yes)"),
    Code(
        "undeclared-ai", "An AI fingerprint, but no yes declaration.",
        "the commit carries an AI fingerprint (author `… (aider)`, `Co-authored-by: Claude …`, …) "
        "but does not declare yes; replaces `missing-declaration`",
        "an agent committed without hooks",
        "the author runs `git provenance declare <sha> --ai`"),
    Code(
        "invalid-signature", "A signature is malformed or does not verify.",
        "a `Provenance-Signature` is malformed or does not verify over the statement rebuilt from "
        "the commit (forged, or the author/declaration/policy it covers differs)",
        "a co-sign written by hand without the senior's key",
        "the signer re-signs: `git provenance cosign <sha>` or `git provenance resign <sha>`"),
    Code(
        "unknown-key", "A signature by a key the policy does not give the signer.",
        "the signature verifies but its key is not in the policy, or belongs to a person who does "
        "not own the signer email",
        "a senior's new laptop key not yet registered (the hook warns at commit time)",
        "signing again with the same key changes nothing: the signer runs `git provenance init`, "
        "which registers the key in `.provenance.toml` (a senior co-signs that commit), then "
        "rebases the commit onto it, or signs again with a key the policy lists; with someone "
        "else's key, signs again with their own (`provenance.signingKey`)"),
    Code(
        "revoked-key", "A signature by a revoked key.",
        "the key is revoked by the trust root's policy or any authorised policy met in the walk — "
        "applied to the whole history",
        "a stolen key",
        "the signer re-signs with a new key"),
    Code(
        "signer-not-author", "A declaration signed by someone other than the author.",
        "a `declare` signature by someone who is not the commit's author",
        "a reviewer declaring for the author",
        "the author runs `git provenance declare <sha> ...`"),
    Code(
        "stale-signature", "A signature that covers another change.",
        "the signature verifies but binds another change digest: content changed after signing, "
        "or it was copied",
        "a conflicted rebase, a fixup squashed in, a copied co-sign",
        "re-review and re-sign: `git provenance cosign <sha>` / `git provenance resign <sha>`"),
    Code(
        "missing-cosign", "A critical-path change lacks the co-signs its rule requires.",
        "a critical-path rule applies (`all`, or `ai-assisted` and the commit is AI-assisted) and "
        "fewer distinct people than its threshold hold a valid co-sign with one of its roles; the "
        "author never counts, one person with several keys counts once. The message names the "
        "rule, which glob matched which path, and why each signer did not count",
        "an AI change to `payments/` without a senior's co-sign",
        "a senior who is not the author runs `git provenance cosign <sha>`"),
    Code(
        "unauthorized-policy-change", "The policy changed without authorised co-signs.",
        "the commit changes `.provenance.toml` without enough co-signs (by `[policy-changes]` "
        "roles, not the author) valid under the **previous** policy; the previous policy stays in "
        "force for its descendants. Also reported when a co-signed policy does not parse",
        "adding yourself as senior",
        "a senior of the previous policy runs `git provenance cosign <sha>`"),
    Code(
        "removed-declaration", "A yes declaration was removed from the notes.",
        "a valid `AI-Assisted: yes` declaration that the history of `refs/notes/provenance` holds "
        "is gone from the notes' tip (the note deleted, its line edited, or moved with its values "
        "removed), and nothing the commit still carries declares yes. The commit stays "
        "AI-assisted (nothing downgrades yes)",
        "`git notes remove` over the author's after-the-fact `yes`, to let a signed trailer `no` "
        "win",
        "the author runs `git provenance declare <sha> --ai` (or anyone puts the note line back: "
        "it is still a valid signature)"),
)

BY_CODE = {c.code: c for c in TABLE}


def markdown_row(c: Code) -> str:
    """The row docs/verdicts.md shows for `c`."""
    return f"| `{c.code}` | **{c.title}** {c.meaning} | {c.example} | {c.fix} |"


def plain(markdown: str) -> str:
    """A cell as plain text: no code spans or bold markers."""
    return re.sub(r"\*\*|`", "", markdown)
