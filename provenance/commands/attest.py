"""`git provenance attest`: an audit as an in-toto Statement in a DSSE envelope signed with the
configured SSH key, and `attest --verify`: check one (docs/evidence.md, docs/spec.md section 7).

Which keys `--verify` trusts: `--key PUB` alone; else the people of `--policy FILE`; else the
people of the policy **in force at the subject commit**, as an audit of that commit from your own
trust root decides it (never the policy the attestation names: a signature cannot vouch for its
own signer), less every key revoked on the way.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from provenance.audit import inforce, intoto, spool, walk
from provenance.errors import ProvenanceError
from provenance.git import git, notes
from provenance.policy import schema
from provenance.policy.schema import POLICY_FILE, Policy
from provenance.record import identity
from provenance.ssh import dsse, keyfile
from provenance.ssh.sshsig import PublicKey


class Created(NamedTuple):
    subject: str
    keyid: str
    commits: int
    violations: int


class Verified(NamedTuple):
    subject: intoto.Subject
    signer: str  # who holds the key, as the trusted keys name them
    keyid: str
    summary: dict[str, object]
    trusted: str  # where the trusted keys came from


def _resolve(range_: str | None, cwd: str | Path | None) -> tuple[str, str]:
    """(the range with object ids, its tip): `A..B` -> (`<A>..<B>`, B), the attestation's subject.

    The predicate records the ids, not names that move (HEAD, a branch)."""
    resolved = git.resolve_revs([range_ or "HEAD"], cwd=cwd)
    tips = [r for r in resolved if not r.startswith("^")]
    bases = [r[1:] for r in resolved if r.startswith("^")]
    if len(tips) != 1 or len(bases) > 1:
        raise ProvenanceError(f"{range_!r} must be one commit or BASE..TIP")
    tip = git.rev_parse(f"{tips[0]}^{{commit}}", cwd=cwd)
    if tip is None:
        raise ProvenanceError(f"{range_!r} does not end at a commit")
    return (f"{bases[0]}..{tip}" if bases else tip), tip


def _policy_of(result: walk.AuditResult, policy_file: str | None, cwd: str | Path | None
               ) -> intoto.Policy:
    if policy_file is not None:
        data = Path(policy_file).read_bytes()
        return intoto.Policy(result.policy, None, hashlib.sha256(data).hexdigest())
    assert result.trust_root is not None
    blob, data = git.blob_at(result.trust_root, POLICY_FILE, cwd=cwd) or (None, b"")
    return intoto.Policy(result.policy, blob, hashlib.sha256(data).hexdigest())


def _write(path: Path, text: str) -> None:
    """Write `text` to `path` whole or not at all (a reader never sees half an envelope)."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        mask = os.umask(0)  # mkstemp makes it 0600; an attestation is no secret: as `open` would
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except OSError as e:
        raise ProvenanceError(f"cannot write {path}: {e.strerror or e}") from None


def create(range_: str | None, trust_root: str | None, policy_file: str | None, output: Path,
           cwd: str | Path | None = None) -> Created:
    """Audit `range_`, sign the Statement with the configured key, write the envelope."""
    key_spec = identity.signing_key(identity.read_config(cwd))
    if not key_spec:
        raise ProvenanceError(identity.NO_KEY_HELP)
    keyfile.public_key_of(key_spec)  # an unusable key fails before the walk, not after
    resolved, tip = _resolve(range_, cwd)
    result = walk.audit(resolved, trust_root, policy_file, cwd)
    payload = intoto.statement(result, range_ or "HEAD", tip, _policy_of(result, policy_file, cwd),
                               git.rev_parse(notes.REF, cwd=cwd))
    signature = dsse.sign(dsse.pae(intoto.PAYLOAD_TYPE, payload), key_spec)
    _write(output, dsse.Envelope(intoto.PAYLOAD_TYPE, payload, (signature,)).to_json())
    s = spool.summary(result.judgements)
    return Created(tip, signature.keyid, s.commits, s.violations)


# --- verifying ----------------------------------------------------------------------------------


class Trusted(NamedTuple):
    keys: dict[PublicKey, str]  # key -> the email of the person who holds it
    revoked: frozenset[PublicKey]
    where: str  # where they came from, for the messages


def _of_policy(policy: Policy, revoked: frozenset[PublicKey], where: str) -> Trusted:
    keys = {key: person.emails[0] for person in policy.people for key in person.keys
            if key not in revoked}
    return Trusted(keys, revoked, where)


def _trusted_at(commit: str, trust_root: str | None, cwd: str | Path | None) -> Trusted:
    """The keys of the policy in force at `commit`, from an audit of it from your trust root."""
    if git.rev_parse(f"{commit}^{{commit}}", cwd=cwd) is None:
        raise ProvenanceError(f"the subject {commit[:12]} is not in this repository: fetch it, "
                              "or pass --key PUB")
    result = walk.audit(commit, trust_root, None, cwd)
    assert result.trust_root is not None
    if commit != result.trust_root and git.run_ok(
            ["merge-base", "--is-ancestor", commit, result.trust_root], cwd=cwd):
        raise ProvenanceError(f"the subject {commit[:12]} comes before the trust root "
                              f"{result.trust_root[:12]}: choose an older one with --trust-root")
    chain = inforce.replay(result, cwd)
    blob = chain.in_force_after(commit)
    return _of_policy(chain.policies[blob], chain.revoked,
                      f"{POLICY_FILE} in force at {commit[:12]} (blob {blob[:12]}), from trust "
                      f"root {result.trust_root[:12]}")


def verify(path: Path, key_spec: str | None, trust_root: str | None, policy_file: str | None,
           cwd: str | Path | None = None) -> Verified:
    """Check the envelope at `path`; ProvenanceError (exit 1) when it does not verify."""
    envelope = dsse.read(path)
    if envelope.payload_type != intoto.PAYLOAD_TYPE:
        raise ProvenanceError(f"{path}: payloadType is {envelope.payload_type!r}, not "
                              f"{intoto.PAYLOAD_TYPE}", exit_code=1)
    try:
        attested = intoto.parse(envelope.payload)
    except ProvenanceError as e:
        raise ProvenanceError(f"{path}: {e}", exit_code=1) from None
    if key_spec is not None:
        key = keyfile.public_key_of(key_spec)
        trusted = Trusted({key: key.comment or key.fingerprint()}, frozenset(), f"--key {key_spec}")
    elif policy_file is not None:
        external = schema.load_file(Path(policy_file))
        trusted = _of_policy(external, frozenset(r.key for r in external.revoked),
                             f"{policy_file} (--policy)")
    else:
        trusted = _trusted_at(attested.subject.commit, trust_root, cwd)
    signed = dsse.pae(envelope.payload_type, envelope.payload)
    for sig in envelope.signatures:
        for key, holder in trusted.keys.items():
            if dsse.verify(key, sig.sig, signed):
                summary = attested.predicate.get("summary")
                return Verified(attested.subject, holder, key.fingerprint(),
                                summary if isinstance(summary, dict) else {}, trusted.where)
    for sig in envelope.signatures:
        for key in trusted.revoked:
            if dsse.verify(key, sig.sig, signed):
                raise ProvenanceError(f"{path}: signed by {key.fingerprint()}, a revoked key "
                                      f"(trusted: {trusted.where})", exit_code=1)
    keyids = ", ".join(s.keyid or "(no keyid)" for s in envelope.signatures)
    raise ProvenanceError(
        f"{path}: no signature verifies with a trusted key (signed by {keyids}; trusted: "
        f"{trusted.where})", exit_code=1)


def run(range_: str | None, output: Path | None, verify_file: Path | None, key_spec: str | None,
        trust_root: str | None, policy_file: str | None, cwd: str | Path | None = None) -> str:
    """The `attest` command: make or check an attestation; the line to print."""
    if (output is None) == (verify_file is None):
        raise ProvenanceError("give one of --output FILE (make an attestation) or --verify FILE")
    if verify_file is not None:
        if range_ is not None:
            raise ProvenanceError("--verify reads the commit from the attestation: drop RANGE")
        v = verify(verify_file, key_spec, trust_root, policy_file, cwd)
        s = v.summary
        return (f"verified {verify_file}: {v.subject.commit} ({v.subject.name}) signed by "
                f"{v.signer} ({v.keyid}); audit: {s.get('commits', '?')} commit(s), "
                f"{s.get('violations', '?')} violation(s); trusted keys: {v.trusted}")
    assert output is not None
    if key_spec is not None:
        raise ProvenanceError("--key is for --verify; attest signs with your signing key")
    made = create(range_, trust_root, policy_file, output, cwd)
    return (f"wrote {output}: {made.commits} commit(s), {made.violations} violation(s), "
            f"subject {made.subject}, signed by {made.keyid}")
