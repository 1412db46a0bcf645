"""Damaged evidence never escapes as a traceback: seeded random corruption of real-format inputs either
decodes (with warnings) or raises EvidenceError, and the pipeline finishes."""
from __future__ import annotations

import random

import pytest

from parsers.decode import DecodeOptions
from parsers.evidence import load
from analyzer.triage import analyze
from paths import DATA, SAMPLES
from parsers.errors import EvidenceError
from parsers.pdb import read_annotations


def _mutations(data: bytes, seed: int, count: int):
    rng = random.Random(seed)
    for _ in range(count):
        blob = bytearray(data)
        for _ in range(rng.randint(1, 12)):
            at = rng.randrange(len(blob))
            blob[at] = rng.randrange(256)
        if rng.random() < 0.3:
            blob = blob[: rng.randrange(len(blob))]
        yield bytes(blob)


@pytest.mark.parametrize("name", ["wrapped-x64", "x86", "v1-records"])
def test_corrupted_ifr_never_raises_anything_else(tmp_path, name):
    options = DecodeOptions([str(SAMPLES / "tmf")])
    for n, blob in enumerate(_mutations((SAMPLES / "ifr" / f"{name}.ifr").read_bytes(), seed=n_seed(name), count=60)):
        path = tmp_path / f"{n}.ifr"
        path.write_bytes(blob)
        try:
            analyze([load(str(path), options).logset])
        except EvidenceError as exc:
            assert str(path) in exc.one_line()


def n_seed(name: str) -> int:
    return sum(name.encode())


def test_corrupted_text_never_raises_anything_else(tmp_path):
    text = (DATA / "real-logs" / "nefarius_BthPS3_12_1.txt").read_bytes()
    for n, blob in enumerate(_mutations(text, seed=7, count=40)):
        path = tmp_path / f"{n}.txt"
        path.write_bytes(blob)
        try:
            analyze([load(str(path)).logset])
        except EvidenceError:
            pass


def test_corrupted_pdb_is_an_evidence_error_or_decodes(tmp_path):
    data = (SAMPLES / "pdb" / "wpp_annotations.pdb").read_bytes()
    for n, blob in enumerate(_mutations(data, seed=11, count=40)):
        path = tmp_path / f"{n}.pdb"
        path.write_bytes(blob)
        try:
            read_annotations(path)
        except EvidenceError:
            pass
