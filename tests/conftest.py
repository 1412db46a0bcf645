"""Shared fixtures (paths are in tests/paths.py, other framework builds in tests/tmf_builds.py)."""
from __future__ import annotations

import pytest

from paths import SAMPLES


@pytest.fixture(scope="session")
def sample_tmf():
    from parsers.tmf import TmfDatabase

    return TmfDatabase.from_paths([SAMPLES / "tmf"])
