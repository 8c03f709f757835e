"""An independent DSSE verifier for the tests: securesystemslib, given our SSH keys the way the
attestation's docs tell a verifier to (keyid = the SHA256 fingerprint, docs/spec.md section 7)."""

from __future__ import annotations

import copy
import json

from cryptography.hazmat.primitives import serialization
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

from provenance.ssh import dsse
from provenance.ssh.sshsig import PublicKey


def sslib_key(key: PublicKey) -> SSlibKey:
    """The key as securesystemslib takes it, with the scheme our table names for its type."""
    crypto = serialization.load_ssh_public_key(key.openssh().encode())
    return SSlibKey.from_crypto(crypto, keyid=key.fingerprint(), scheme=dsse.SCHEMES[key.algorithm])


def sslib_verifies(envelope_json: str, key: PublicKey) -> bool:
    """Whether securesystemslib accepts the envelope as signed by `key`."""
    doc = json.loads(envelope_json)
    try:  # from_dict changes the dicts it is given: always a copy
        Envelope.from_dict(copy.deepcopy(doc)).verify([sslib_key(key)], 1)
    except VerificationError:
        return False
    return True
