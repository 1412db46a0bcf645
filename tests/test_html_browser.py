"""The HTML report in a real headless Chromium: the chart renders, injected script never runs.
Skipped (with the reason) only where no Chromium binary exists; `.ci/run` installs Debian's chromium."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from parsers.decode import DecodeOptions
from analyzer.triage import triage
from paths import SAMPLES
from reports import render
from test_reports import hostile_result

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
ARTIFACTS = Path(__file__).parent / "artifacts"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (apt-get install chromium)")


def _chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-extensions", "--no-first-run", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def test_chart_renders_with_the_stalled_request_and_the_pinned_finding(tmp_path):
    result = triage([str(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr")], DecodeOptions([str(SAMPLES / "tmf")]))
    stuck = next(f.request for f in result.findings if f.rule == "WDF002")
    page = tmp_path / "report.html"
    page.write_text(render(result, "html"), encoding="utf-8")
    dom = _chromium(page, tmp_path / "p1", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert f'data-request="0x{stuck:x}"' in dom.stdout and 'class="request outstanding"' in dom.stdout
    assert 'data-rule="WDF002"' in dom.stdout and 'data-rule="WDF001"' in dom.stdout
    assert 'data-state="WdfDevStatePowerGotoDx"' in dom.stdout and 'data-state="FxIoQueuePowerStoppingDriverNotified"' in dom.stdout
    assert "Uncaught" not in dom.stderr and "Refused to execute" not in dom.stderr
    ARTIFACTS.mkdir(exist_ok=True)
    shot = _chromium(page, tmp_path / "p2", f"--screenshot={ARTIFACTS / 'report.png'}", "--window-size=1400,1000")
    assert shot.returncode == 0 and (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_injected_script_never_runs(tmp_path):
    page = tmp_path / "hostile.html"
    page.write_text(render(hostile_result(), "html"), encoding="utf-8")
    dom = _chromium(page, tmp_path / "p", "--dump-dom")
    assert dom.returncode == 0
    assert "<title>WDF triage report</title>" in dom.stdout and "PWNED</title>" not in dom.stdout
    assert 'id="pwn"' not in dom.stdout and "<img src=\"x\"" not in dom.stdout
