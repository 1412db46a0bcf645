"""The pykd adapter against a fake pykd over a memory image holding a real IFR buffer."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer import debugger
from analyzer.cli import main
from conftest import SAMPLES
from parsers.memory import ImageMemory

sys.path.insert(0, str(Path(__file__).parent / "fakes"))
import pykd  # noqa: E402  (the fake)

HEADER = 0xFFFFB30C4A2F1000  # where the sample generator says the header lives (Base = HEADER + 0x48)


@pytest.fixture
def fake():
    pykd.output.clear()
    pykd.bugcheck = None
    return pykd


def _load(fake, name: str, at: int = HEADER):
    fake.memory = ImageMemory({at: (SAMPLES / "scenarios" / name).read_bytes()})


def test_logdump_in_the_debugger_prints_what_the_command_line_prints(fake):
    _load(fake, "evtiostop-not-acked.ifr")
    assert debugger.run(["logdump", "-a", f"{HEADER:x}", "--tmf", str(SAMPLES / "tmf")], fake) == 0
    cli = CliRunner().invoke(main, ["logdump", str(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr"),
                                    "--tmf", str(SAMPLES / "tmf")])
    assert fake.output[1:] == cli.output.rstrip("\n").splitlines()[1:]  # same records; the source differs


def test_triage_in_a_dump_uses_the_debuggers_bugcheck(fake):
    _load(fake, "evtiostop-not-acked.ifr")
    fake.bugcheck = (0x9F, (3, 0xFFFFAA06B8BAB840, 0xFFFFF8055A272750, 0xFFFFAA06AFB99560))
    assert debugger.run(["triage", "-a", "ffffb30c`4a2f1000", "--tmf", str(SAMPLES / "tmf")], fake) == 0
    text = "\n".join(fake.output)
    assert "DRIVER_POWER_STATE_FAILURE (9f)" in text and "WDF002 EvtIoStop never acknowledged [CRITICAL]" in text


def test_wrong_address_is_one_error_line(fake):
    _load(fake, "evtiostop-not-acked.ifr")
    assert debugger.run(["logdump", "-a", f"{HEADER + 0x10:x}"], fake) == 2
    assert len(fake.output) == 1 and fake.output[0].startswith("wdftriage: error: target@0x")


def test_unreadable_memory_is_reported_not_raised(fake):
    fake.memory = ImageMemory({})
    assert debugger.run(["triage", "-a", "fffff80000000000"], fake) == 2
    assert "cannot read the IFR header" in fake.output[0]
