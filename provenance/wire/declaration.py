"""A commit's own declaration: read it from a message, check it, and write a signed one."""

from __future__ import annotations

from collections.abc import Iterable

from provenance.records import NamedTuple
from provenance.wire import trailers
from provenance.wire.statement import (
    KEY_AI_ASSISTED,
    KEY_ASSISTED_BY,
    KEY_SIGNATURE,
    MalformedSignature,
    SignatureLine,
    Statement,
    parse_ai_assisted,
    parse_signature_value,
)


class Declared(NamedTuple):
    """What a message declares, as written in its trailer block."""

    ai_values: tuple[bool | None, ...]  # each AI-Assisted value (None: neither yes nor no)
    assisted_by: tuple[str, ...]
    declare_sigs: tuple[SignatureLine, ...]
    other_sig_values: tuple[str, ...]  # co-signs and malformed lines: never touched by the hooks

    @property
    def ai(self) -> bool | None:
        """The OR of the values: yes wins; None when nothing usable is declared."""
        if True in self.ai_values:
            return True
        if False in self.ai_values:
            return False
        return None


def read(message: str, *, comment_char: str = "#") -> Declared:
    ai_values: list[bool | None] = []
    assisted: list[str] = []
    declares: list[SignatureLine] = []
    others: list[str] = []
    for key, value in trailers.parse(message, comment_char=comment_char):
        k = key.lower()
        if k == KEY_AI_ASSISTED.lower():
            ai_values.append(parse_ai_assisted(value))
        elif k == KEY_ASSISTED_BY.lower():
            assisted.append(value.strip())
        elif k == KEY_SIGNATURE.lower():
            try:
                sig = parse_signature_value(value)
            except MalformedSignature:
                others.append(value)
                continue
            if sig.role == "declare":
                declares.append(sig)
            else:
                others.append(value)
    return Declared(tuple(ai_values), tuple(assisted), tuple(declares), tuple(others))


def statement_for(
    *,
    change: str,
    author: str,
    signer: str,
    ai: bool,
    assisted_by: Iterable[str],
    policy_blob: str | None,
) -> Statement:
    return Statement(
        role="declare",
        change=change,
        author=author.lower(),
        signer=signer.lower(),
        ai_assisted=ai,
        assisted_by=tuple(sorted(set(assisted_by))),
        policy=policy_blob,
    )


def valid_signature(
    declared: Declared, *, change: str, author: str, policy_blob: str | None
) -> SignatureLine | None:
    """The declare signature that verifies for this exact change and wording, if any."""
    if declared.ai is None or len(set(declared.ai_values)) != 1:
        return None
    from provenance.ssh import sshsig  # deferred: only a replayed declaration is checked

    if declared.declare_sigs:
        sshsig.use_libsodium()  # the audit's check, without importing cryptography in a hook
    for sig in declared.declare_sigs:
        if sig.change != change:
            continue
        stmt = statement_for(
            change=change, author=author, signer=sig.signer, ai=declared.ai,
            assisted_by=declared.assisted_by, policy_blob=policy_blob,
        )
        try:
            sshsig.verify(sshsig.unb64(sig.signature_b64), stmt.to_bytes())
        except sshsig.InvalidSignature:
            continue
        return sig
    return None


def rewrite(
    message: str, *, ai: bool, assisted_by: Iterable[str], signatures: Iterable[SignatureLine],
    comment_char: str = "#",
) -> str:
    """Replace the declaration trailers (never co-signs) with the given ones."""

    def is_declaration(key: str, value: str) -> bool:
        if key.lower() != KEY_SIGNATURE.lower():
            return True
        try:
            return parse_signature_value(value).role == "declare"
        except MalformedSignature:
            return False

    keys = {KEY_AI_ASSISTED.lower(), KEY_ASSISTED_BY.lower(), KEY_SIGNATURE.lower()}
    cleaned = trailers.remove(message, keys, predicate=is_declaration, comment_char=comment_char)
    new: list[tuple[str, str]] = [(KEY_AI_ASSISTED, "yes" if ai else "no")]
    new += [(KEY_ASSISTED_BY, v) for v in sorted(set(assisted_by))]
    new += [(KEY_SIGNATURE, s.value()) for s in signatures]
    return trailers.add(cleaned, new, comment_char=comment_char)
