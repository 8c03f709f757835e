"""Every signature of a sampled change, checked again under the policy it was judged by, dated as
the HTML report dates co-signs (report_data.py), each with an `ssh-keygen -Y verify` command that
re-checks it without this tool.

The command is bash (process substitution): the statement's lines on standard input, the key the
policy registers for the signer as the allowed-signers file, the armoured SSHSIG blob as the
signature file. It is given only when that key is the signer's in the policy; the change digest
it binds is recomputed by docs/spec.md's recipe (section 6).
"""

from __future__ import annotations

import hashlib
import shlex
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from provenance.audit import inforce
from provenance.audit.covers import Recent, brought_in
from provenance.audit.declarations import (
    VALID,
    Attestation,
    Option,
    check_note,
    check_signature,
    note_options,
    signed_statement,
    superseded,
    trailer_options,
)
from provenance.audit.notes import read_all
from provenance.audit.records import CommitRecord, Judgement, NoteAttestation
from provenance.audit.stream import records_of
from provenance.audit.walk import AuditResult
from provenance.commands.report_data import commit_facts, note_cosign_times
from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.policy import schema
from provenance.policy.schema import POLICY_FILE, Policy
from provenance.ssh import sshsig
from provenance.ssh.sshsig import NAMESPACE, PublicKey
from provenance.wire import trailers
from provenance.wire.digest import EMPTY
from provenance.wire.statement import KEY_SIGNATURE


def iso(stamp: int) -> str:
    """A unix time as UTC ISO 8601, to the second."""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Check(NamedTuple):
    role: str  # declare | cosign | ?
    signer: str
    source: str  # "trailer", "note on <commit>", "co-sign of merge <commit>"
    status: str  # "valid", a verdict code, or "superseded (<code>)"
    detail: str
    key: str  # the signing key's SHA256 fingerprint, when the signature decodes
    signed_at: str  # co-signs: when, as the HTML report dates them (UTC); "" when unknown
    command: str  # the ssh-keygen command; "" when the key is not the signer's in the policy


class Found(NamedTuple):
    author: str  # Name <email>
    digest: str
    policy: str  # blob id (or sha256 of --policy FILE) of the policy judged under
    checks: tuple[Check, ...]


def _lines_command(lines: Sequence[str]) -> str:
    return "printf '%s\\n' " + " ".join(shlex.quote(line) for line in lines)


def verify_command(statement: bytes, blob: bytes, signer: str, key: PublicKey) -> str:
    """A bash command that checks `blob` over `statement` with `ssh-keygen -Y verify`."""
    text = statement.decode()
    lines = text.split("\n")[:-1]
    if "\n".join(lines) + "\n" != text or any("\r" in line for line in lines):
        return ""  # printf could not give back these exact bytes
    try:
        principals = sshsig.allowed_signers_line([signer], key)
    except ProvenanceError:
        return ""  # an email ssh-keygen's allowed-signers format cannot hold
    return (f"{_lines_command(lines)} | ssh-keygen -Y verify -n {NAMESPACE} -I {shlex.quote(signer)}"
            f" -f <({_lines_command([principals])})"
            f" -s <({_lines_command(sshsig.armor(blob).splitlines())})")


def _policy_blob(record: CommitRecord, lookup: dict[str, str | None]) -> str | None:
    """As the statement's `policy` line has it: the tree's policy blob when the first parent's
    differs."""
    new = lookup.get(f"{record.sha}:{POLICY_FILE}")
    old = lookup.get(f"{record.parents[0]}:{POLICY_FILE}") if record.parents else None
    if new == old:
        return None
    return new if new is not None else "0" * len(record.sha)


class _Signed(NamedTuple):
    source: str
    value: str
    options: Sequence[Option]  # the statements a declare signature may cover
    note: NoteAttestation | None  # None for trailers


class Checker:
    """Checks the signatures of the sampled changes of one audit."""

    def __init__(self, result: AuditResult, policy_file: str | None, cwd: str | Path | None) -> None:
        self.cwd = cwd
        self.by_commit: dict[str, list[NoteAttestation]] = defaultdict(list)
        self.by_digest: dict[str, list[NoteAttestation]] = defaultdict(list)
        for att in read_all(cwd):
            self.by_commit[att.note_commit].append(att)
            parts = att.value.split()
            if len(parts) > 3 and parts[3] != EMPTY:  # as the walk matches notes (walk.py)
                self.by_digest[parts[3]].append(att)
        self.note_times = note_cosign_times(cwd)
        self.chain: inforce.PolicyChain | None = None
        self.external: tuple[Policy, str] | None = None
        if policy_file is not None:
            data = Path(policy_file).read_bytes()
            self.external = (schema.load_text(data, policy_file),
                             "sha256:" + hashlib.sha256(data).hexdigest())
        else:
            self.chain = inforce.replay(result, cwd)
        self.merges = [j for j in result.judgements if j.cover_approvals]
        self.records: dict[str, CommitRecord] = {}
        # The walk's order, parents first: what `records_of` needs (git.merges.own_changes).
        self.position = {j.commit: n for n, j in enumerate(result.judgements)}

    def _policy(self, commit: str) -> tuple[Policy, str, frozenset[PublicKey]]:
        if self.external is not None:
            pol, ident = self.external
            return pol, ident, frozenset(r.key for r in pol.revoked)
        assert self.chain is not None
        blob = self.chain.judged_under(commit)
        return self.chain.policies[blob], blob, self.chain.revoked

    def prefetch(self, shas: Sequence[str]) -> None:
        """Read the commits to check in one stream: a population can be thousands."""
        records = list(records_of(sorted(shas, key=lambda sha: self.position.get(sha, -1)),
                                  self.cwd))
        names = [name for r in records for name in
                 [f"{r.sha}:{POLICY_FILE}"] + ([f"{r.parents[0]}:{POLICY_FILE}"] if r.parents else [])]
        with git.object_lookups(self.cwd) as lookup_all:
            found = dict(zip(names, lookup_all(names), strict=True)) if names else {}
        for r in records:
            self.records[r.sha] = r._replace(policy_blob=_policy_blob(r, found))

    def _record(self, sha: str) -> CommitRecord:
        if sha not in self.records:
            self.prefetch([sha])
        return self.records[sha]

    def _signed(self, record: CommitRecord) -> list[_Signed]:
        pairs = trailers.parse(record.message)
        options = trailer_options(pairs)
        out = [_Signed("trailer", v, options, None)
               for k, v in pairs if k.lower() == KEY_SIGNATURE.lower()]
        notes = {id(n): n for n in self.by_commit.get(record.sha, []) +
                 self.by_digest.get(record.digest, [])}
        out += [_Signed(f"note on {n.note_commit[:12]}", n.value, note_options(n), n)
                for n in notes.values()]
        return out

    def _check(self, record: CommitRecord, s: _Signed, committed: int
               ) -> tuple[Check, Attestation] | None:
        policy, _, revoked = self._policy(record.sha)
        if s.note is None:
            att = check_signature(record, policy, revoked, s.source, s.value, s.options)
        else:
            att = check_note(record, policy, revoked, s.note)._replace(source=s.source)
            if att.status != VALID and s.note.note_commit != record.sha:
                return None  # a note of another commit with an equal diff: not about this one
        key = att.key.fingerprint() if att.key is not None else ""
        when = ""
        if att.role == "cosign":
            stamp = (committed if s.note is None
                     else self.note_times.get((s.note.note_commit, att.signer)))
            when = iso(stamp) if stamp else ""
        command = ""
        stmt = signed_statement(record, s.value, s.options) if att.key is not None else None
        if (stmt is not None and att.person is not None and att.key is not None
                and att.signer in {e.lower() for e in att.person.emails}):
            command = verify_command(stmt[0].to_bytes(), stmt[1], att.signer, att.key)
        detail = att.reason or (f"verifies; key of {att.person.name}" if att.person else "")
        return Check(att.role, att.signer, s.source, att.status, detail, key, when, command), att

    def checks(self, j: Judgement, committed: int) -> Found:
        """Every signature of the judged commit `j`, committed at `committed` (a unix time)."""
        record = self._record(j.commit)
        checked = [c for s in self._signed(record)
                   if (c := self._check(record, s, committed)) is not None]
        said: dict[tuple[str, str], set[bool | None]] = {}
        for _, att in checked:
            if att.status == VALID:
                said.setdefault((att.role, att.signer), set()).add(att.ai_assisted)
        found = [c._replace(status=f"superseded ({c.status})") if superseded(att, said) else c
                 for c, att in checked]
        found += self._covering(j, record, found)
        _, ident, _ = self._policy(j.commit)
        return Found(f"{record.author_name} <{record.author_email}>", record.digest, ident,
                     tuple(found))

    def _covering(self, j: Judgement, record: CommitRecord, found: list[Check]) -> list[Check]:
        """The co-signs of merges that bring `j` in and counted for it (their `covers` lines)."""
        policy, _, _ = self._policy(j.commit)
        counted_here = set()
        for c in found:
            if c.status == VALID and c.role == "cosign":
                person = policy.person_by_email(c.signer)
                counted_here.add(person.emails[0].lower() if person else c.signer)
        missing = set(j.cosigners) - counted_here
        out: list[Check] = []
        for m in self.merges:
            wanted = [a for a in m.cover_approvals
                      if (p := policy.person_by_key(a.key)) and p.emails[0].lower() in missing]
            if not wanted:
                continue
            merge = self._record(m.commit)
            merge = merge._replace(covers=brought_in(merge, Recent(0), self.cwd))
            if record.digest not in merge.covers:
                continue
            committed = commit_facts([m.commit], self.cwd)[m.commit].committer_time
            for s in self._signed(merge):
                found_here = self._check(merge, s, committed)
                check = found_here[0] if found_here is not None else None
                if check is not None and check.role == "cosign" and check.status == VALID and \
                        any(a.signer == check.signer for a in wanted):
                    out.append(check._replace(
                        source=f"co-sign of merge {m.commit[:12]} ({check.source})"))
        return out
