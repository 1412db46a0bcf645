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


def other_build(source_file: str, after_line: int):
    """The sample TMF of a framework build with one more trace call in ``source_file`` after ``after_line``:
    tracewpp numbers every later call site of that file one higher than the catalog's line order says."""
    from samples.tmf_writer import SampleTmf

    class OtherBuild(SampleTmf):
        def key(self, entry):
            if entry.id not in self.ids:
                guid, number = super().key(entry)
                file, line = entry.id.split(":")
                if file == source_file and int(line) > after_line:
                    self.ids[entry.id] = (guid, number + 1)
            return self.ids[entry.id]

    return OtherBuild
