"""The pykd adapter against a fake pykd over a memory image holding a real IFR buffer."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer import debugger
from analyzer.cli import main
from paths import SAMPLES
from parsers.memory import ImageMemory

sys.path.insert(0, str(Path(__file__).parent / "fakes"))
import pykd  # noqa: E402  (the fake)

HEADER = 0xFFFFB30C4A2F1000  # where the sample generator says the header lives (Base = HEADER + 0x48)


@pytest.fixture
def fake():
    pykd.output.clear()
    pykd.bugcheck = None
    pykd.symbols = {}
    return pykd


def _printed(fake) -> list[str]:
    return "".join(fake.output).splitlines()


def _load(fake, name: str, at: int = HEADER):
    fake.memory = ImageMemory({at: (SAMPLES / "scenarios" / name).read_bytes()})


def test_logdump_in_the_debugger_prints_what_the_command_line_prints(fake):
    _load(fake, "evtiostop-not-acked.ifr")
    assert debugger.run(["logdump", "-a", f"{HEADER:x}", "--tmf", str(SAMPLES / "tmf")], fake) == 0
    cli = CliRunner().invoke(main, ["logdump", str(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr"),
                                    "--tmf", str(SAMPLES / "tmf")])
    assert _printed(fake)[1:] == cli.output.rstrip("\n").splitlines()[1:]  # same records; the source differs


def test_triage_in_a_dump_uses_the_debuggers_bugcheck(fake):
    _load(fake, "evtiostop-not-acked.ifr")
    fake.bugcheck = (0x9F, 3, 0xFFFFAA06B8BAB840, 0xFFFFF8055A272750, 0xFFFFAA06AFB99560)
    assert debugger.run(["triage", "-a", "ffffb30c`4a2f1000", "--tmf", str(SAMPLES / "tmf")], fake) == 0
    text = "".join(fake.output)
    assert "DRIVER_POWER_STATE_FAILURE (9f)" in text and "WDF002 EvtIoStop never acknowledged [CRITICAL]" in text


def test_wrong_address_is_one_error_line(fake):
    _load(fake, "evtiostop-not-acked.ifr")
    assert debugger.run(["logdump", "-a", f"{HEADER + 0x10:x}"], fake) == 2
    assert len(_printed(fake)) == 1 and _printed(fake)[0].startswith("wdftriage: error: target@0x")


def test_unreadable_memory_is_reported_not_raised(fake):
    fake.memory = ImageMemory({})
    assert debugger.run(["triage", "-a", "fffff80000000000"], fake) == 2
    assert "cannot read the IFR header" in _printed(fake)[0]


def test_the_fake_is_pykds_shape():
    """The fake answers like pykd's definition: lists of ints, a 5-tuple, pykd's exception tree."""
    pykd.memory = ImageMemory({0x1000: b"\x01\x02\x03"})
    assert pykd.loadBytes(0x1000, 2) == [1, 2]
    with pytest.raises(pykd.MemoryException):
        pykd.loadBytes(0x1002, 4)
    assert issubclass(pykd.MemoryException, pykd.DbgException) and issubclass(pykd.TypeException, pykd.SymbolException)
    with pytest.raises(pykd.SymbolException):
        pykd.getOffset("Wdf01000!g_WdfTriageInfo")
    pykd.bugcheck = (0x9F, 3, 1, 2, 4)
    assert pykd.bugCheckData() == (0x9F, 3, 1, 2, 4)


def test_commands_ignore_look_alike_packages_in_the_current_directory(tmp_path):
    """``!py -m wdftriage_windbg`` from a driver tree holding parsers/, analyzer/, reports/ packages."""
    for name in ("parsers", "analyzer", "reports"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('the wrong package was imported')\n")
    script = (
        "import sys, runpy\n"
        "sys.path.insert(0, '')\n"  # what `!py -m` and `python -c` do: the current directory first
        "sys.argv = ['wdftriage_windbg', 'logdump', '-a', sys.argv[1]]\n"
        "runpy.run_module('wdftriage_windbg', run_name='__main__', alter_sys=True)\n"
    )
    image = f"{HEADER:x}:{SAMPLES / 'scenarios' / 'evtiostop-not-acked.ifr'}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent / "fakes"), "WDFTRIAGE_FAKE_PYKD_IMAGE": image}
    done = subprocess.run([sys.executable, "-c", script, f"{HEADER:x}"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Power Stop Notifying Driver, WDFQUEUE 0x00003CF5E4D3F818, WDFREQUEST 0x00003CF5E4D3E5B8" in done.stdout


def test_the_console_script_ignores_look_alike_packages_in_the_current_directory(tmp_path):
    """The installed ``wdftriage`` command from a driver tree holding parsers/, analyzer/, reports/ packages."""
    for name in ("parsers", "analyzer", "reports"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('the wrong package was imported')\n")
    script = Path(sys.executable).parent / "wdftriage"
    done = subprocess.run([str(script), "logdump", str(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr"), "--tmf",
                           str(SAMPLES / "tmf")], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Power Stop Notifying Driver, WDFQUEUE 0x00003CF5E4D3F818, WDFREQUEST 0x00003CF5E4D3E5B8" in done.stdout
