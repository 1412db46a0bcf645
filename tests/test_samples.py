"""The sample generator is deterministic and the committed samples are what it writes."""
from __future__ import annotations

from samples import generate


def test_committed_samples_are_up_to_date():
    assert generate.main(["--check"]) == 0


def test_generation_is_deterministic():
    assert generate.build_all() == generate.build_all()
