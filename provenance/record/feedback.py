"""What a commit is told at commit time, one line each: a staged policy that does not parse (the
commit is refused), the co-sign an AI-assisted change to a critical path will need, and a signing
key the policy does not know.

Each needs a policy, whose loading costs a commit more than its whole hook budget allows on the
common path, so each runs only where it has something to say: a commit that changes the policy,
an AI-assisted commit, a key whose text the work tree's policy file does not hold.
"""

from __future__ import annotations

from collections.abc import Sequence

from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.record.change import POLICY_FILE, Change

TYPE_CHECKING = False  # not typing's: a commit hook imports this module (provenance/records.py)
if TYPE_CHECKING:
    from provenance.policy.schema import Policy
    from provenance.ssh.sshsig import PublicKey

_DELETED = "0" * 40


def check_staged_policy(change: Change, kept_in: str) -> None:
    """Refuse a commit whose new `.provenance.toml` does not load: the audit could not apply it,
    and a senior could be asked to co-sign it. Names the file, line and key, and where git keeps
    the message."""
    if change.policy_blob is None or change.policy_blob == _DELETED:
        return
    from provenance.policy import schema

    try:
        schema.load_text(git.run(["cat-file", "blob", change.policy_blob]), POLICY_FILE)
    except ProvenanceError as e:
        raise ProvenanceError(
            f"{e} (the staged policy does not load: fix it and `git add` it; your message is "
            f"kept in {kept_in}, `git commit -e -F {kept_in}` reuses it)", exit_code=1,
        ) from None


def _policy_at(rev: str | None) -> Policy | None:
    """The policy in `rev`'s tree; None when there is none or it does not load (the audit
    reports that, not the commit)."""
    if rev is None:
        return None
    blob = git.read_blob(rev, POLICY_FILE)
    if blob is None:
        return None
    from provenance.policy import schema

    try:
        return schema.load_text(blob, POLICY_FILE)
    except ProvenanceError:
        return None


def _changed_paths(change: Change) -> tuple[list[str], tuple[str, ...]]:
    """The paths the commit changes against its first parent (all of them for a root commit),
    and the submodules among them, which the rules match as directories."""
    from provenance.wire import patch  # deferred: only a commit that may need a co-sign reads it

    if not change.parents:
        return patch.tree_files(git.run(["ls-tree", "-r", "-z", "--full-tree", change.tree]))
    raw = git.run(["diff-tree", "-r", "--raw", "--no-abbrev", "--no-renames", change.parents[0],
                   change.tree])
    return list(patch.raw_paths(raw)), patch.raw_gitlinks(raw)


def _who(policy: Policy, roles: frozenset[str], author: str) -> str:
    people = [p for p in policy.people_with_roles(roles)
              if author not in (e.lower() for e in p.emails)]
    names = ", ".join(p.emails[0] if p.emails else p.name for p in people[:4])
    more = f" and {len(people) - 4} more" if len(people) > 4 else ""
    return f"{names}{more}" if people else "nobody the policy names yet"


def _roles(roles: frozenset[str]) -> str:
    return " or ".join(sorted(roles))


def _rule_for_all_commits() -> bool:
    """Whether the work tree's policy file may hold an `applies-to = "all"` rule, by its text
    alone: a human commit in a repository without one loads no policy."""
    try:
        with open(POLICY_FILE, "rb") as f:  # hooks run at the top of the work tree
            text = f.read()
    except OSError:
        return False
    return b'"all"' in text or b"'all'" in text


def cosign_needed(change: Change, ai: bool) -> str | None:
    """One line when the commit will need a co-sign under the policy at its first parent: an
    AI-assisted (or, under `applies-to = "all"`, any) change to a critical path, or a change of
    the policy itself. None for every other commit; a human commit loads no policy unless the
    policy file's text holds a rule for all commits."""
    if not ai and change.policy_blob is None and not _rule_for_all_commits():
        return None
    policy = _policy_at(change.parents[0] if change.parents else None)
    if policy is None:
        return None
    needs: list[str] = []
    if any(r.applies_to == "all" or ai for r in policy.rules):
        for name, hits in policy.critical_matches(*_changed_paths(change)).items():
            rule = next(r for r in policy.rules if r.name == name)
            if rule.applies_to == "ai-assisted" and not ai:
                continue
            paths = hits[0][0] + (f" and {len(hits) - 1} more" if len(hits) > 1 else "")
            who = _who(policy, rule.cosign_roles, change.author_email)
            needs.append(f"rule {name} ({paths}): {rule.threshold} of "
                         f"{_roles(rule.cosign_roles)}, {who}")
    if change.policy_blob is not None:
        roles = policy.policy_change_roles
        needs.append(f"[policy-changes] ({POLICY_FILE}): {policy.policy_change_threshold} of "
                     f"{_roles(roles)}, {_who(policy, roles, change.author_email)}")
    if not needs:
        return None
    what = "this AI-assisted commit" if ai else "this commit"
    return (f"git-provenance: {what} needs a co-sign (never its author's) before it reaches a "
            f"protected branch: {'; '.join(needs)}; they run `git provenance cosign <commit>`")


def _table(text: bytes, pos: int) -> bytes:
    """The TOML table (header line included) that the text at `pos` belongs to."""
    start = text.rfind(b"\n[", 0, pos) + 1
    end = text.find(b"\n[", pos)
    return text[start:end if end >= 0 else len(text)]


def _listed_for(text: bytes, b64: bytes, email: str) -> bool:
    """The key's text is in a table that names `email` (a `[[person]]`), and in no
    `[[revoked-key]]` table: a look at the file's text that needs no TOML parser."""
    pos = text.find(b64)
    found = False
    while pos >= 0:
        table = _table(text, pos)
        if table.replace(b" ", b"").startswith(b"[[revoked-key]]"):
            return False
        found = found or email.encode("utf-8", "surrogateescape") in table.lower()
        pos = text.find(b64, pos + 1)
    return found


def key_warning(key: PublicKey, signer_email: str, change: Change) -> str | None:
    """One line when the policy at the first parent does not register `key` for the signer: the
    audit would report the declaration `unknown-key` (or `revoked-key`).

    A plain commit reads only the work tree's policy file and finds the key's text in it; the
    policy is loaded only when that text is missing (or there is no such file: then no policy).
    """
    try:
        with open(POLICY_FILE, "rb") as f:  # hooks run at the top of the work tree
            if _listed_for(f.read(), key.openssh().split()[1].encode(), signer_email):
                return None
    except OSError:
        return None
    policy = _policy_at(change.parents[0] if change.parents else None)
    if policy is None:
        return None
    fp = key.fingerprint()
    if any(r.key == key for r in policy.revoked):
        return (f"git-provenance: warning: your signing key {fp} is revoked in {POLICY_FILE}: "
                "the audit will report this commit `revoked-key`; make a new key "
                "(`git provenance keygen`) and register it (`git provenance init`)")
    person = policy.person_by_key(key)
    if person is None:
        return (f"git-provenance: warning: your signing key {fp} is not in {POLICY_FILE}: the "
                "audit will report this commit `unknown-key`; register it with "
                "`git provenance init` and commit that (a senior co-signs the policy change)")
    if signer_email not in (e.lower() for e in person.emails):
        return (f"git-provenance: warning: your signing key {fp} belongs to {person.name} in "
                f"{POLICY_FILE}, not to {signer_email}: the audit will report this commit "
                "`unknown-key`; sign with your own key (`git config provenance.signingKey`)")
    return None


def print_lines(lines: Sequence[str | None]) -> None:
    import sys

    for line in lines:
        if line:
            print(line, file=sys.stderr)
