"""Helpers for the landing tests: a repository whose pull request a forge lands.

The request's commits carry real signed declarations (and co-signs, when asked) made by
`factory`; the forge's commits are written by `forges/`, exactly as GitHub or GitLab writes them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import factory as f
from forges.plumbing import Identity, Stamp, publish_request_head

from provenance.audit import report, walk
from provenance.policy.schema import POLICY_FILE
from provenance.wire import digest

LINES = "".join(f"line {i}\n" for i in range(1, 13))
MERGER = Identity("Mia Maintainer", "mia@example.com")
WHEN = Stamp(1_800_000_000, "+0200")


def setup(tmp_path: Path, p: dict[str, f.Actor]) -> Path:
    """main: the policy (payments/** needs a senior's co-sign on AI changes) and payments/pay.py."""
    spec = f.PolicySpec(people=[(p["alice"], ["senior"]), (p["bob"], []), (p["carol"], ["senior"])],
                        rules=[{"name": "tier-1", "paths": ["payments/**"]}])
    repo = f.init(tmp_path / "repo")
    f.commit(repo, p["alice"], {POLICY_FILE: spec.text(), "payments/pay.py": LINES,
                                "README": "hi\n"})
    return repo


def request(repo: Path, p: dict[str, f.Actor], changes: list[dict[str, str | bytes | None]], *,
            cosigned: bool, number: int = 7, forge: str = "github", note: bool = True,
            base: str = "main") -> list[str]:
    """Bob's AI-assisted commits on a branch `pr` from `base`, co-signed by alice (in a note, as
    `review --request` leaves them, or in the trailers), published as the request's head."""
    f.git(repo, "checkout", "-qb", "pr", base)
    shas = []
    for files in changes:
        sha = f.commit(repo, p["bob"], files, ai=True, assisted_by=["claude-code"],
                       cosigners=[p["alice"]] if cosigned and not note else [])
        if cosigned and note:
            f.add_note(repo, sha, ["Provenance-Signature: " + f.signature(
                p["alice"], "cosign", digest.of_commit(sha, cwd=repo), p["bob"].email)])
        shas.append(sha)
    f.git(repo, "checkout", "-q", "main")
    publish_request_head(repo, number, shas[-1], forge)
    return shas


def nearby(repo: Path, p: dict[str, f.Actor], line: int = 3) -> str:
    """Meanwhile on main: carol changes a line of payments/pay.py (3: near the request's line 5)."""
    return f.commit(repo, p["carol"], {"payments/pay.py": LINES.replace(f"line {line}\n",
                                                                         f"main {line}\n")})


def audit(repo: Path, *, cache: bool = False) -> dict[str, Any]:
    result = walk.audit(None, None, None, repo, use_cache=cache)
    doc: dict[str, Any] = json.loads(report.to_json(result))
    return doc


def verdicts(doc: dict[str, Any]) -> dict[str, list[str]]:
    return {c["commit"]: sorted(v["code"] for v in c["violations"]) for c in doc["commits"]
            if c["violations"]}


def entry(doc: dict[str, Any], sha: str) -> dict[str, Any]:
    (found,) = [c for c in doc["commits"] if c["commit"] == sha]
    return found  # type: ignore[no-any-return]
