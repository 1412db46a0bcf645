"""Every JSON output over every sample and real input: pointers, handles and IRPs are hex strings, and no number
is above 2**53 (jq and JavaScript round larger ones)."""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from analyzer.triage import triage
from paths import DATA, SAMPLES
from parsers.decode import DecodeOptions
from parsers.errors import EvidenceError
from parsers.evidence import load
from reports.json_report import HANDLE_FIELDS, render_json
from reports.logdump import render_logdump_json
from reports.tables import export_frame

TMF = str(SAMPLES / "tmf")
INPUTS = sorted(DATA.rglob("*.txt")) + sorted((SAMPLES / "scenarios").glob("*.ifr")) + \
    sorted((SAMPLES / "ifr").glob("*.ifr")) + sorted((SAMPLES / "dumps").glob("*.dmp")) + \
    sorted((SAMPLES / "objects").glob("*.wdfsnap"))


def _walk(value, path="$"):
    """(path, key, value) of every scalar in a JSON document."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from ((p, key, x) for p, key, x in _walk(v, f"{path}.{k}")) if isinstance(v, (dict, list)) else \
                [(f"{path}.{k}", k, v)]
    elif isinstance(value, list):
        for n, v in enumerate(value):
            yield from _walk(v, f"{path}[{n}]") if isinstance(v, (dict, list)) else [(f"{path}[{n}]", None, v)]


def _check(doc) -> int:
    """Asserts the rules on one document; returns how many handle values it holds."""
    handles = 0
    for path, key, value in _walk(doc):
        if isinstance(value, int) and not isinstance(value, bool):
            assert abs(value) <= 2**53, f"{path} = {value}"
        if key in HANDLE_FIELDS and value is not None:
            assert isinstance(value, str) and re.match(r"0x[0-9a-f]+\b", value), f"{path} = {value!r}"  # a rule's fact may add the name
            handles += 1
    return handles


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_every_json_output_keeps_pointers_exact(path):
    options = DecodeOptions([TMF])
    try:
        result = triage([str(path)], options)
    except EvidenceError:  # corrupt samples are refused with one line; nothing is printed as JSON
        return
    handles = _check(json.loads(render_json(result)))
    for kind in ("requests", "queues", "states"):
        handles += _check(json.loads(export_frame(getattr(result.timelines, kind), "json")))
    handles += _check(json.loads(render_logdump_json(load(str(path), options).logset)))
    if any(e.request is not None for e in result.events):
        assert handles > 0


def test_a_64_bit_irp_comes_back_exactly():
    """The issue's example: 0x...0d20 must not come back as 0x...1000 from a JSON reader."""
    scenario = str(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr")
    result = triage([scenario], DecodeOptions([TMF]))
    irps = {e.irp for e in result.events if e.irp is not None}
    assert irps and all(irp > 2**53 for irp in irps)
    doc = json.loads(CliRunner().invoke(main, ["triage", scenario, "--tmf", TMF, "--json"]).output)
    assert {int(e["irp"], 16) for e in doc["events"] if e["irp"]} == irps
    assert {int(r["irp"], 16) for r in doc["timelines"]["requests"] if r["irp"]} <= irps
    logdump = json.loads(CliRunner().invoke(main, ["logdump", scenario, "--tmf", TMF, "--json"]).output)
    pointers = {int(a, 16) for m in logdump["messages"] for a in m["args"] if isinstance(a, str) and a.startswith("0x")}
    assert irps <= pointers


def test_json_is_written_one_record_per_line():
    result = triage([str(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr")], DecodeOptions([TMF]))
    text = render_json(result)
    event_lines = [line for line in text.splitlines() if line.startswith(' {"index":')]
    assert len(event_lines) == len(result.events)
    assert all(json.loads(line.rstrip(","))["index"] == n for n, line in enumerate(event_lines))


def test_a_request_with_no_end_time_has_null_not_nat(tmp_path):
    """Timeline times the evidence does not give (a request never completed has no end) are null in JSON,
    in the report and in the timeline export, never pandas' "NaT" text."""
    ifr = str(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr")
    tmf = ["--tmf", str(SAMPLES / "tmf")]
    report = CliRunner().invoke(main, ["triage", ifr, *tmf, "--json"])
    export = CliRunner().invoke(main, ["timeline", ifr, *tmf, "--kind", "requests", "--format", "json"])
    for result in (report, export):
        assert result.exit_code == 0, result.output
        assert "NaT" not in result.output
    requests = json.loads(report.output)["timelines"]["requests"]
    assert any(r["end_time"] is None and r["first_time"] for r in requests)
