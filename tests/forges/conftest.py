"""Fixtures shared by the forge builders' tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from forges.history import new_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty repository whose commits are written with plumbing, as a forge writes them."""
    return new_repo(tmp_path)
