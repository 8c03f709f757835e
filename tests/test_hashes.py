"""provenance/hashes.py: the interpreter's SHA-2 (a commit hook's) and OpenSSL's give the same
bytes, and a hook switches only itself."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator

import pytest

from provenance import hashes
from provenance.wire import digest

INPUTS = [b"", b"a", b"x" * 55, b"x" * 64, bytes(range(256)) * 9, b"\n+line\n" * 40_000]


@pytest.fixture
def builtin() -> Iterator[None]:
    hashes.use_builtin()
    yield
    hashes.use_openssl()


@pytest.mark.usefixtures("builtin")
def test_the_builtin_functions_hash_what_openssl_hashes() -> None:
    assert hashes.sha256 is not hashlib.sha256  # this interpreter has its own
    for data in INPUTS:
        assert hashes.sha256(data).digest() == hashlib.sha256(data).digest()
        assert hashes.sha512(data).digest() == hashlib.sha512(data).digest()
        h = hashes.sha256()
        for i in range(0, len(data), 7):
            h.update(data[i:i + 7])
        assert h.hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.usefixtures("builtin")
def test_a_large_patch_goes_back_to_openssl() -> None:
    small, large = b"+x\n" * 10, b"+x\n" * (hashes.BUILTIN_LIMIT // 3 + 1)
    assert digest.digest_of_bytes(small) == "sha256:" + hashlib.sha256(small).hexdigest()
    assert hashes.sha256 is not hashlib.sha256
    assert digest.digest_of_bytes(large) == "sha256:" + hashlib.sha256(large).hexdigest()
    assert hashes.sha256 is hashlib.sha256


def test_the_empty_digest_is_the_hash_of_nothing() -> None:
    assert digest.EMPTY == "sha256:" + hashlib.sha256(b"").hexdigest()


def test_a_process_hashes_with_openssl_unless_it_asks() -> None:
    code = ("import sys, hashlib; from provenance import hashes; "
            "print(hashes.sha256(b'').hexdigest() == hashlib.sha256(b'').hexdigest(), "
            "hashes.sha256 is hashlib.sha256, hashes.sha512 is hashlib.sha512)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "True True True\n"
