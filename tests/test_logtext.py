"""Pasted debugger text: the real logs from public bug reports (tests/data/real-logs, first line names the
source) and synthetic pastes for the noise people add (CRLF, fences, wrapping, several logs)."""
from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.triage import analyze
from parsers.analyze_text import read_analyze_text
from parsers.errors import EvidenceError
from parsers.logtext import DEBUGGER, read_log_text, read_report_text
from parsers.objecttext import ObjectViewReader

REAL = Path(__file__).parent / "data" / "real-logs"
LOGS = sorted(REAL.glob("*.txt"))
ANALYZE = sorted((REAL / "analyze").glob("*.txt"))
MSDOCS = sorted((REAL / "msdocs").glob("*.txt"))


def _read(path: Path):
    return read_report_text(path.read_text(encoding="utf-8", errors="replace"), str(path))


def _cut_short(path: Path, line_no: int) -> bool:
    """The excerpt ends on this line (next line is a gap/excerpt marker, blank or end of file)."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return line_no == len(lines) or lines[line_no].startswith("[") or not lines[line_no].strip()


@pytest.mark.parametrize("path", LOGS + ANALYZE + MSDOCS, ids=lambda p: p.name)
def test_every_real_paste_parses_and_keeps_every_line(path):
    """Every line is kept; a paste holding no log records, no bugcheck and no device or queue view (other wdfkd
    object dumps, a failed !wdflogdump session) is one clear error naming what was looked for."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# source:")
    logset = read_log_text(text, str(path))
    assert len(logset.messages) == len(text.splitlines())
    views = ObjectViewReader()
    for line in text.splitlines():
        views.feed(line)
    if all(m.level == DEBUGGER for m in logset.messages) and read_analyze_text(text, str(path)) is None and \
            not views.shown():
        with pytest.raises(EvidenceError, match="nothing recognized: no WDF log records"):
            _read(path)
    else:
        assert len(_read(path).messages) == len(logset.messages)


@pytest.mark.parametrize("path", LOGS + MSDOCS, ids=lambda p: p.name)
def test_framework_lines_are_typed(path):
    """>= 95% of the framework's IFR lines (Fx* function prefix) get a catalog entry. The only
    exceptions allowed are lines the bug-report excerpt cut short (the test names them)."""
    logset = read_log_text(path.read_text(encoding="utf-8", errors="replace"), str(path))
    framework = [m for m in logset.messages if m.level != DEBUGGER and (m.function or "").startswith("Fx")]
    untyped = [m for m in framework if m.catalog_id is None]
    assert all(_cut_short(path, m.ref.line) for m in untyped), [(m.ref.line, m.text) for m in untyped]
    complete = [m for m in framework if not _cut_short(path, m.ref.line)]
    if complete:
        assert sum(m.catalog_id is not None for m in complete) / len(complete) >= 0.95


# one line per log: what an engineer reading it concludes, and what triage must say
EXPECTATIONS = {
    "OpenVPN_ovpn-dco-win_25_2_wdfcrashdump.txt": ("device stopped mid-removal at the crash: power policy left in "
                                                   "StoppingSendStatus", {"WDF004"}),
    "nefarius_BthPS3_12_1.txt": ("D0Exit failed (STATUS_DEVICE_NOT_CONNECTED) during disconnect; power policy stuck "
                                 "in Stopping, power in GotoD3Stopped", {"WDF004", "WDF008"}),
    "nefarius_DsHidMini_311_1.txt": ("after wake the device failed (PnP Failed) with self-managed I/O flushing; the "
                                     "buffer-too-small IOCTL errors are callers probing sizes", {"WDF004"}),
    "nefarius_BthPS3_107_1.txt": ("a clean start: PnP Started, power policy Started; nothing wrong in this excerpt", set()),
    "OpenVPN_ovpn-dco-win_25_1.txt": ("orderly removal, then at unload KMDF verifier reports leaked framework pool and "
                                      "breaks into the debugger (FxVerifierDbgBreakPoint)", {"WDF008"}),
    "nefarius_ViGEmBus_7_1.txt": ("one verifier error (forwarding to another device's queue), no state to judge",
                                  {"WDF008"}),
}


@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_triage_of_real_logs_agrees_with_a_reader(name):
    _, rules = EXPECTATIONS[name]
    result = analyze([_read(REAL / name)])
    assert {f.rule for f in result.findings if f.severity.name != "INFO"} == rules
    assert len(result.timelines.states) > 0 or name == "nefarius_ViGEmBus_7_1.txt"


def test_state_timeline_reconstructed_in_order():
    states = analyze([_read(REAL / "nefarius_BthPS3_107_1.txt")]).timelines.states
    pnp = states[states["machine"] == "pnp"]["state"].tolist()
    assert pnp == ["WdfDevStatePnpEnableInterfaces", "WdfDevStatePnpStarted"]
    assert states["time"].notna().all() and states.iloc[0]["time"].year == 2024
    idle = analyze([_read(REAL / "nefarius_BthPS3_12_1.txt")]).timelines.states
    assert idle[idle["machine"] == "idle"]["state"].iloc[0] == "FxIdleCancelTimer"


def test_verifier_error_is_a_framework_error_event():
    result = analyze([_read(REAL / "nefarius_ViGEmBus_7_1.txt")])
    errors = [e for e in result.events if e.kind.value == "framework_error"]
    assert len(errors) == 1 and "Cannot forward a request to a different WDFDEVICE" in errors[0].text


BUGCHECKS = {
    "nefarius_BthPS3_41_9f_1.txt": (0x9F, (0x3, 0xFFFFAA06B8BAB840, 0xFFFFF8055A272750, 0xFFFFAA06AFB99560), None),
    "daynix_UsbDk_115_10d_1.txt": (0x10D, (0xD, 0xFFFFAD0A9D975A60, 0xFFFFAD0A9ABC89A0, 0xFFFFAD0A851F2540), None),
    "ds4windowsapp_DS4Windows_14_10d_1.txt": (0x10D, (0x4, 0x0, 0xFFFFF80437ACB226, 0xFFFFCF01C5893CB0),
                                              "0x10D_4_ViGEmBus!unknown_function"),
    "nefarius_BthPS3_106_10d_1.txt": (0x10D, (0x5, 0x7FF356C05ED8, 0x100A, 0xFFFF800CA7ABBDD0),
                                      "0x10D_5_VRF_BthPS3PSM!BthPS3PSM_EvtDeviceContextCleanup"),
    "codemachine_debugging_0x9f_1.txt": (0x9F, (0x3, 0x86B3E6E8, 0x82D3FAE0, 0x852BC6F0), None),
}


@pytest.mark.parametrize("name", sorted(BUGCHECKS))
def test_analyze_output_gives_code_arguments_and_bucket(name):
    code, params, bucket = BUGCHECKS[name]
    logset = _read(REAL / "analyze" / name)
    assert (logset.bugcheck.code, logset.bugcheck.parameters) == (code, params)
    assert logset.bugcheck.failure_bucket == bucket
    finding = next(f for f in analyze([logset]).findings if f.rule == "WDF007")
    assert finding.severity.name == "CRITICAL"


def test_pasted_noise_crlf_fences_wrapping_and_two_logs():
    text = ("Some words before.\r\n```\r\n0: kd> !wdflogdump mydrv\r\n"
            "There are 2 log entries for mydrv\r\n--- start of log ---\r\n"
            "1: FxPkgPnp::PnpEnterNewState - WDFDEVICE 0x0000587CCCC6DB88 !devobj 0xFFFFA783333F8DF0 entering PnP State\r\n"
            "WdfDevStatePnpStarted from WdfDevStatePnpEnableInterfaces\r\n"
            "2: 07/11/2024-19:49:33.5124745 FxIoQueue::QueueRequest - Queuing WDFREQUEST 0x00001111AAAA0000 on WDFQUEUE 0x00002222BBBB0000\r\n"
            "---- end of log ----\r\n```\r\n\u00e9\u00e8 \u2014 noise\r\n"
            "1: kd> !wdflogdump otherdrv\r\n"
            "7 : FxPkgPnp::PowerEnterNewState - WDFDEVICE 0x0000000000001230 !devobj 0xFFFFA78300000000 entering Power State WdfDevStatePowerD0 from WdfDevStatePowerDecideD0State\r\n")
    logset = read_log_text(text, "paste.txt")
    typed = [m for m in logset.messages if m.catalog_id]
    assert [m.log for m in typed] == ["mydrv", "mydrv", "otherdrv"]
    assert typed[0].args[2:] == ("WdfDevStatePnpStarted", "WdfDevStatePnpEnableInterfaces") and typed[0].ref.line == 6
    assert typed[1].timestamp.isoformat().startswith("2024-07-11T19:49:33.512474") and typed[2].sequence == 7
    assert len(logset.messages) == len(text.splitlines()) - 1  # the wrapped continuation joined its record


def test_unrecognizable_text_is_a_clear_error():
    with pytest.raises(EvidenceError) as exc:
        read_report_text("Dear team,\nmy laptop is slow.\n", "letter.txt")
    assert exc.value.source == "letter.txt" and "!analyze" in exc.value.message


def test_a_log_dump_that_printed_no_records_is_named_with_what_the_debugger_said():
    """A failed !wdflogdump session (vadimgrn/usbip-win2 #34: the extension took the driver for a WDM driver and
    could not load its image): the error names the command, quotes the debugger's warnings after it (not those of
    other commands) and points at the crash dump's own copy of the log."""
    with pytest.raises(EvidenceError) as exc:
        _read(REAL / "vadimgrn_usbip-win2_34_1_failed_wdflogdump.txt")
    message = exc.value.message
    assert message.startswith("nothing recognized: ") and "\n" not in message
    assert "its !wdfkd.wdflogdump usbip2_ude printed no log records" in message
    assert '"Warning: It looks like you\'re using the WDF debugger extension on a WDM"' in message
    assert "Win32 error 0n2" in message and "wdftriage triage DUMP" in message
    assert "Trace searchpath" not in message  # printed before the command, by another one


def test_an_object_view_paste_is_not_said_to_hold_a_failed_log_dump():
    with pytest.raises(EvidenceError) as exc:
        _read(REAL / "msdocs" / "msdocs_wdfrequest_1.txt")
    assert "printed no log records" not in exc.value.message


def test_logdump_of_a_paste_prints_only_log_records():
    from click.testing import CliRunner

    from analyzer.cli import main
    run = CliRunner().invoke(main, ["logdump", str(REAL / "OpenVPN_ovpn-dco-win_25_2_wdfcrashdump.txt")])
    assert run.exit_code == 0
    lines = run.output.splitlines()
    assert lines[0] == "Log of ovpn-dco" and "kd>" not in run.output
    assert lines[3].startswith("11903: FxPowerIdleMachine::ProcessEventLocked - WDFDEVICE 0x000030F06D2DDFC8")


@pytest.mark.parametrize("prose", ["There are many reasons the driver hangs.\nLog at noon.\n",
                                   "Meeting notes: 1: coffee\n2: tea\n"])
def test_prose_that_mentions_logs_is_not_a_log(prose):
    with pytest.raises(EvidenceError):
        read_report_text(prose, "notes.txt")


@pytest.mark.parametrize("path", LOGS + ANALYZE + MSDOCS, ids=lambda p: p.name)
def test_function_prefixes_of_real_logs_are_the_catalog_functions(path):
    """The function wdfkd prints before each framework message is the one the catalog derives from the
    framework source for that call site (tools/wdf_functions.py: imp_ for WDFEXPORT, Vf_ for verifiers)."""
    from parsers.catalog import load

    catalog = load()
    lines = [m for m in read_log_text(path.read_text(encoding="utf-8", errors="replace"), str(path)).messages
             if m.catalog_id and m.function]
    for m in lines:
        assert catalog.entry(m.catalog_id).function == m.function, (m.function, m.text)


def test_the_same_format_at_two_call_sites_is_typed_by_its_function():
    """'WDFREQUEST 0x%p' is a requeue in FxIoQueue::Requeue but a new request entering the pipeline in
    FxPkgIo::EnqueueRequest (drivers with EvtIoInCallerContext): only the first marks the request requeued."""
    text = ("1: FxPkgIo::EnqueueRequest - WDFREQUEST 0x00003CF5E4D3F578\n"
            "2: FxIoQueue::QueueRequest - Queuing WDFREQUEST 0x00003CF5E4D3F578 on WDFQUEUE 0x00003CF5E4D3F818\n"
            "3: FxIoQueue::DispatchRequestToDriver - Calling driver EvtIoRead for WDFREQUEST 0x00003CF5E4D3F578\n"
            "4: FxIoQueue::Requeue - WDFREQUEST 0x00003CF5E4D3F578\n")
    result = analyze([read_log_text(text, "paste.txt")])
    kinds = [e.kind.value for e in result.events]
    assert kinds == ["framework", "request_queued", "request_presented", "request_requeued"]
    assert [e.catalog_id for e in result.events][0] == "fxpkgio.cpp:630"
    [row] = result.timelines.requests.to_dict("records")
    assert row["requeued"] and row["first_index"] == 1


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_file_is_read_as_a_stream_the_same_as_the_text(tmp_path, encoding):
    """Text evidence is read line by line (no whole-file size limit): CRLF, blank lines, a BOM and an
    over-long line give what the same text read at once gives."""
    from parsers.evidence import load

    text = (REAL / "nefarius_BthPS3_12_1.txt").read_text(encoding="utf-8").replace("\n", "\r\n")
    text += "\r\n\r\n" + "x" * 70_000 + "\r\n1311: FxPkgPnp::PowerPolicyEnterNewState - tail\r\n"
    path = tmp_path / "paste.txt"
    path.write_bytes(text.encode(encoding))  # Python's utf-16 codec writes a BOM
    streamed = load(str(path)).logset
    whole = read_report_text(text, str(path))
    assert [(m.ref.line, m.text, m.catalog_id) for m in streamed.messages] == \
        [(m.ref.line, m.text, m.catalog_id) for m in whole.messages]
    assert streamed.warnings == whole.warnings and len(streamed.warnings) == 1
