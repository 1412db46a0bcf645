"""Bad input: one line on stderr naming the file (and offset or line), exit code 2, no traceback;
the user's files are never modified."""
from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from paths import ROOT, SAMPLES

CASES = {
    "random.bin": (bytes(range(256)) * 8, "match no known format"),
    "empty.txt": (b"", "no WDF log records"),
    "letter.txt": (b"Hello,\nthe driver hangs.\n", "no WDF log records"),
    "dump.dmp": (b"PAGEDU64" + b"\0" * 0x100, "dump header truncated"),
    "tiny.ifr": ((SAMPLES / "ifr" / "healthy-x64.ifr").read_bytes()[:40], "too short for an IFR header"),
}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("command", ["triage", "logdump", "timeline"])
def test_bad_input_is_one_line_and_exit_2(tmp_path, name, command):
    data, message = CASES[name]
    path = tmp_path / name
    path.write_bytes(data)
    run = _run(command, str(path))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and str(path) in run.stderr and message in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""


@pytest.mark.parametrize("name", ["corrupt-bad-guid", "corrupt-offset-past-size"])
def test_corrupt_header_names_the_offset(name):
    run = _run("logdump", str(SAMPLES / "ifr" / f"{name}.ifr"))
    assert run.returncode == 2 and " at offset 0x" in run.stderr and run.stderr.count("\n") == 1


def test_damaged_ring_decodes_what_it_can_with_a_warning():
    path = SAMPLES / "ifr" / "corrupt-truncated.ifr"
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    run = _run("logdump", str(path), "--tmf", str(SAMPLES / "tmf"))
    assert run.returncode == 0 and "warning: " in run.stderr and "salvaged 20 older record(s)" in run.stderr
    assert "There are 20 log entries" in run.stdout
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_bad_bugcheck_option_is_a_usage_error():
    run = _run("triage", str(SAMPLES / "scenarios" / "healthy-start-stop.ifr"), "--bugcheck", "zz")
    assert run.returncode == 2 and "--bugcheck" in run.stderr and "Traceback" not in run.stderr
