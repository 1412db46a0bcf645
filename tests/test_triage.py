"""Triage on the labeled scenario corpus, timelines and the CLI around them."""
from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from analyzer.bugcheck import parse_cli
from analyzer.cli import main
from parsers.decode import DecodeOptions
from analyzer.scenarios import confusion, evaluate, render
from analyzer.timelines import QUEUE_COLUMNS, REQUEST_COLUMNS, STATE_COLUMNS
from analyzer.triage import triage
from paths import SAMPLES

SCENARIO = str(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr")
TMF = str(SAMPLES / "tmf")


@pytest.fixture(scope="module")
def outcomes():
    return evaluate()


def test_every_scenario_names_exactly_the_injected_bug(outcomes):
    print("\n" + render(outcomes))
    assert len(outcomes) == 14
    assert [o.name for o in outcomes if not o.ok] == []
    table = confusion(outcomes)
    assert (table["missed"] == 0).all() and (table["false_alarms"] == 0).all()
    assert set(table["rule"]) == {"WDF001", "WDF002", "WDF003", "WDF004", "WDF005", "WDF006", "WDF008"}


def test_healthy_scenarios_report_nothing_at_warning_or_above(outcomes):
    healthy = [o for o in outcomes if o.name.startswith("healthy-")]
    assert len(healthy) == 4 and all(not o.found for o in healthy)


def test_evtiostop_finding_points_at_the_evidence():
    result = triage([SCENARIO], DecodeOptions([TMF]))
    wdf002 = next(f for f in result.findings if f.rule == "WDF002")
    roles = [e.role for e in wdf002.evidence]
    assert "EvtIoStop called (stop)" in roles and "request presented to the driver" in roles
    notify = next(e for e in wdf002.evidence if e.role.startswith("EvtIoStop"))
    assert notify.text.startswith("Power Stop Notifying Driver") and f"{wdf002.request:016X}" in notify.text
    assert notify.ref.file == SCENARIO and notify.sequence is not None
    assert result.events[notify.index].text == notify.text


def test_bugcheck_escalates_and_is_decoded():
    bugcheck = parse_cli("9F,3,ffffaa06b8bab840,fffff8055a272750,ffffaa06afb99560")
    result = triage([SCENARIO], DecodeOptions([TMF]), bugcheck=bugcheck)
    wdf007 = next(f for f in result.findings if f.rule == "WDF007")
    assert "DRIVER_POWER_STATE_FAILURE" in wdf007.summary and "WDF002" in wdf007.probable_cause
    assert result.bugcheck_analysis["parameters"][3]["meaning"] == "The blocked IRP"
    assert next(f for f in result.findings if f.rule == "WDF002").severity.name == "CRITICAL"


def test_timelines_have_the_documented_columns():
    t = triage([SCENARIO], DecodeOptions([TMF])).timelines
    assert tuple(t.requests.columns) == REQUEST_COLUMNS and tuple(t.queues.columns) == QUEUE_COLUMNS
    assert tuple(t.states.columns) == STATE_COLUMNS
    stuck = t.requests[t.requests["outcome"] == "outstanding"]
    assert len(stuck) == 1 and stuck.iloc[0]["callback"] == "EvtIoRead" and not pd.isna(stuck.iloc[0]["stop_notified_index"])
    assert t.states.iloc[-1]["transitional"] and t.states["time"].notna().all()
    completed = t.requests[t.requests["outcome"] == "completed"]
    assert str(completed["irp"].dtype) == "UInt64" and all(int(irp) >> 48 == 0xFFFF for irp in completed["irp"])
    irps = {e.irp for e in triage([SCENARIO], DecodeOptions([TMF])).events if e.irp is not None}
    assert {int(irp) for irp in completed["irp"]} == irps  # kernel pointers kept exactly (no float detour)


@pytest.mark.parametrize("kind", ["requests", "queues", "states"])
@pytest.mark.parametrize("fmt", ["table", "csv", "json", "parquet"])
def test_timeline_command_exports_every_kind_and_format(tmp_path, kind, fmt):
    out = tmp_path / f"t.{fmt}"
    run = CliRunner().invoke(main, ["timeline", SCENARIO, "--tmf", TMF, "--kind", kind, "--format", fmt, "-o", str(out)])
    assert run.exit_code == 0, run.output
    columns = {"requests": REQUEST_COLUMNS, "queues": QUEUE_COLUMNS, "states": STATE_COLUMNS}[kind]
    if fmt == "parquet":
        frame = pd.read_parquet(out)
        assert tuple(frame.columns) == columns and len(frame) > 0
        assert str(frame["device"].dtype) == "UInt64"
    elif fmt == "json":
        rows = json.loads(out.read_text())
        assert rows and tuple(rows[0]) == columns
    elif fmt == "csv":
        frame = pd.read_csv(io.StringIO(out.read_text()))
        assert tuple(frame.columns) == columns
    else:
        assert out.read_text().split()[: len(columns)] == list(columns)


def test_triage_exit_codes_follow_fail_on():
    runner = CliRunner()
    assert runner.invoke(main, ["triage", SCENARIO, "--tmf", TMF]).exit_code == 0
    assert runner.invoke(main, ["triage", SCENARIO, "--tmf", TMF, "--fail-on", "error"]).exit_code == 1
    assert runner.invoke(main, ["triage", SCENARIO, "--tmf", TMF, "--fail-on", "critical"]).exit_code == 0
    healthy = str(SAMPLES / "scenarios" / "healthy-sx-cycle.ifr")
    assert runner.invoke(main, ["triage", healthy, "--tmf", TMF, "--fail-on", "warning"]).exit_code == 0


def test_scenarios_command_prints_the_confusion_table():
    run = CliRunner().invoke(main, ["scenarios"])
    assert run.exit_code == 0, run.output
    assert "Per rule:" in run.output and "false_alarms" in run.output and "FAIL" not in run.output


def test_logdump_prints_the_ground_truth_of_the_wrapped_sample():
    truth = json.loads((SAMPLES / "ifr" / "wrapped-x64.truth.json").read_text())
    run = CliRunner().invoke(main, ["logdump", str(SAMPLES / "ifr" / "wrapped-x64.ifr"), "--tmf", TMF])
    assert run.exit_code == 0, run.output
    lines = run.output.splitlines()
    start, end = lines.index("--- start of log ---"), lines.index("---- end of log ----")
    body = [line.split(" - ", 1) for line in lines[start + 1:end]]
    assert [(int(seq_func.split(":")[0]), text) for seq_func, text in body] == \
        [(r["sequence"], r["text"]) for r in truth["records"]]
    assert lines[0] == "Log of wdfsample (x64 IFR)"
    assert lines[1] == f"There are {len(truth['records'])} log entries (wrapped, {truth['records'][0]['sequence'] - 1} overwritten)"


def test_forwarded_request_is_one_lifetime_on_its_last_queue():
    from parsers.logtext import read_log_text
    from analyzer.triage import analyze
    paste = "\n".join([
        "1: FxIoQueue::QueueRequest - Queuing WDFREQUEST 0x0000111122223330 on WDFQUEUE 0x00002222BBBB0000",
        "2: FxIoQueue::DispatchRequestToDriver - Calling driver EvtIoDeviceControl for WDFREQUEST 0x0000111122223330",
        "3: FxIoQueue::QueueRequestFromForward - Queuing WDFREQUEST 0x0000111122223330 on WDFQUEUE 0x00003333CCCC0000",
        "4: FxIoQueue::DispatchRequestToDriver - Calling driver EvtIoDeviceControl for WDFREQUEST 0x0000111122223330",
        "5: FxRequest::CompleteInternal - Completing WDFREQUEST 0x0000111122223330 for IRP 0xFFFFC30A1B2C80A0 "
        "with Information 0x0, STATUS_SUCCESS"])
    requests = analyze([read_log_text(paste, "paste.txt")]).timelines.requests
    assert len(requests) == 1
    row = requests.iloc[0]
    assert row["forwarded"] and int(row["queue"]) == 0x3333CCCC0000 and row["outcome"] == "completed"


def test_json_outputs_of_logdump_and_triage():
    runner = CliRunner()
    dump = json.loads(runner.invoke(main, ["logdump", SCENARIO, "--tmf", TMF, "--json"]).output)
    assert dump["logs"]["wdfsample"]["records"] == 42 and dump["messages"][0]["catalog_id"].startswith("pnpstatemachine")
    result = json.loads(runner.invoke(main, ["triage", SCENARIO, "--tmf", TMF, "--json"]).output)
    assert {f["rule"] for f in result["findings"]} == {"WDF001", "WDF002", "WDF004"}


@pytest.mark.parametrize("tmf", [[TMF], []], ids=["tmf", "no-tmf"])
def test_pasted_logdump_output_triages_like_the_buffer_it_came_from(tmp_path, tmf):
    """Someone pastes wdftriage's own logdump into a bug; triage of that text finds what the IFR gives,
    including what rests on recognized ([inferred]) lines and on unknown records' raw arguments."""
    def key(finding):
        return finding.rule, finding.severity, finding.device, finding.queue, finding.request, finding.summary

    for ifr in sorted((SAMPLES / "scenarios").glob("*.ifr")):
        dumped = CliRunner().invoke(main, ["logdump", str(ifr), "--timestamps"] + [a for t in tmf for a in ("--tmf", t)])
        text = tmp_path / (ifr.stem + ".txt")
        text.write_text(dumped.output, encoding="utf-8")
        from_ifr = triage([str(ifr)], DecodeOptions(tmf=tmf))
        from_text = triage([str(text)])
        assert sorted(map(key, from_text.findings)) == sorted(map(key, from_ifr.findings)), ifr.name


def _finding_keys(result):
    return sorted((f.input, f.rule, f.severity, f.summary, tuple(e.text for e in f.evidence)) for f in result.findings)


def test_each_input_is_triaged_on_its_own():
    """Two logs of the same driver (same handles) stay apart: triage A B reports exactly triage A + triage B,
    each finding names its input, and each log is listed under its input."""
    tmf = DecodeOptions([TMF])
    a, b = str(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr"), str(SAMPLES / "scenarios" / "wrapped-mid-scenario.ifr")
    both = triage([a, b], tmf)
    alone = triage([a], tmf).findings + triage([b], tmf).findings
    assert _finding_keys(both) == sorted((f.input, f.rule, f.severity, f.summary, tuple(e.text for e in f.evidence))
                                         for f in alone)
    assert {f.input for f in both.findings} == {a, b}
    assert sorted((log["input"], log["name"]) for log in both.logs) == [(a, "wdfsample"), (b, "wdfsample")]
    assert set(both.timelines.requests["input"]) == {a, b}


def test_combine_merges_the_evidence_of_one_incident():
    tmf = DecodeOptions([TMF])
    a = str(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr")
    combined = triage([a, a], tmf, combine=True)
    assert all(f.input == f"{a} + {a}" for f in combined.findings)


def test_tmf_files_are_parsed_once_per_run(monkeypatch):
    """Six IFR inputs decoded with one TMF directory: each TMF file is parsed at most once (files of a directory
    are read when a GUID is first looked up), not once per input."""
    import parsers.tmf as tmf

    parsed = []
    real = tmf.parse_tmf_file
    monkeypatch.setattr(tmf, "parse_tmf_file", lambda path: parsed.append(path) or real(path))
    inputs = sorted(str(p) for p in (SAMPLES / "scenarios").glob("*.ifr"))[:6]
    triage(inputs, DecodeOptions([TMF]))
    assert len(inputs) == 6 and parsed and len(parsed) == len(set(parsed)) <= len(list((SAMPLES / "tmf").glob("*.tmf")))
