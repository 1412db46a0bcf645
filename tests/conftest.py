"""Shared paths for the tests: the bundled samples and the real evidence copied into tests/data."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def sample_tmf():
    from parsers.tmf import TmfDatabase

    return TmfDatabase.from_paths([SAMPLES / "tmf"])
