"""WDF008 on real logs: what the framework itself reports (a failed driver callback with its NTSTATUS name,
leaked framework pool at unload, a verifier break or error, other error-level messages) becomes a finding
with its evidence line and a fix hint."""
from __future__ import annotations

from pathlib import Path

from analyzer.triage import triage

REAL = Path(__file__).parent / "data" / "real-logs"


def _wdf008(name: str):
    return [f for f in triage([str(REAL / name)]).findings if f.rule == "WDF008"]


def test_failed_d0exit_is_named_with_its_status():
    [finding] = _wdf008("nefarius_BthPS3_12_1.txt")
    assert finding.severity.name == "ERROR" and finding.device == 0x187710D0E5F8
    assert finding.summary == "the driver's EvtDeviceD0Exit failed with 0xc000009d (STATUS_DEVICE_NOT_CONNECTED)"
    assert finding.evidence[0].ref.line == 21 and "EvtDeviceD0Exit" in finding.suggested_fix


def test_leaked_pool_and_verifier_break_at_unload():
    findings = {f.facts["kind"]: f for f in _wdf008("OpenVPN_ovpn-dco-win_25_1.txt")}
    assert set(findings) == {"leak", "verifier break"}
    leak = findings["leak"]
    assert [e.role for e in leak.evidence] == ["pool totals at unload", "leaked allocation"]
    assert "FX_POOL 0xFFFFCF0F92C95E48 leaked non-paged memory" in leak.evidence[1].text
    assert "WdfObjectDelete" in leak.suggested_fix
    assert "FxVerifierDbgBreakPoint" in findings["verifier break"].evidence[0].text


def test_verifier_error_and_error_messages_by_severity():
    [verifier] = _wdf008("nefarius_ViGEmBus_7_1.txt")
    assert verifier.severity.name == "ERROR" and verifier.facts["kind"] == "verifier error"
    [probing] = _wdf008("nefarius_DsHidMini_311_1.txt")  # IOCTL output buffer length zero: a caller probing a size
    assert probing.severity.name == "INFO" and probing.facts["count"] == 8 and len(probing.evidence) == 5
    [collection] = _wdf008("analyze/msdocs_hlk_kmdf_fault_injection_1.txt")  # output pasted onto the prompt line
    assert collection.severity.name == "WARNING" and "STATUS_NOT_FOUND" in collection.summary


def test_a_callback_failing_on_every_cycle_is_one_finding(tmp_path):
    """A stress test fails the same callback of the same device again and again: one finding counting them
    (evidence: the first five), another device's failure its own finding."""
    line = (REAL / "nefarius_BthPS3_12_1.txt").read_text(encoding="utf-8").splitlines()[20]
    other = line.replace("0x0000187710D0E5F8", "0x0000187710D0AAA8")
    paste = tmp_path / "stress.txt"
    paste.write_text("\n".join([line.replace("1311:", f"{n}:") for n in range(1, 8)] + [other.replace("1311:", "8:")]))
    findings = [f for f in triage([str(paste)]).findings if f.rule == "WDF008"]
    assert sorted((f.device, f.facts["count"], len(f.evidence)) for f in findings) == [
        (0x187710D0AAA8, 1, 1), (0x187710D0E5F8, 7, 5)]
    repeated = next(f for f in findings if f.facts["count"] == 7)
    assert repeated.summary.endswith("(STATUS_DEVICE_NOT_CONNECTED) x7") and repeated.evidence[0].ref.line == 1


def test_a_failure_the_drivers_own_trace_reports():
    """nefarius/BthPS3 #123 ("Waking from sleep/hibernation fails with STATUS_ALREADY_COMMITTED"): the TraceView
    paste holds one framework-less line that says so; it is the finding."""
    [finding] = _wdf008("nefarius_BthPS3_123_1_traceview.txt")
    assert finding.facts["kind"] == "driver failure" and finding.facts["status"] == "0xc0000021 (STATUS_ALREADY_COMMITTED)"
    assert finding.evidence[0].ref.line == 3 and "BRB_REGISTER_PSM failed" in finding.summary


def test_driver_failures_grouped_per_message_and_status_and_only_error_statuses(tmp_path):
    """The chain of forderud/HidBattery PR #72, as a driver's trace prints it, plus what is not a failure: a
    success or informational status, a failure word without a status, debugger output saying 'failed'."""
    lines = ["kd> !wdflogdump HidBattFilt"]
    lines += [f"{n}: EvtDeviceAdd - WdfIoQueueCreate failed 0xc0000184 (STATUS_INVALID_DEVICE_STATE) queue 0x{n:x}"
              for n in range(1, 4)]
    lines += ["4: EvtDeviceAdd - WdfIoTargetOpen failed STATUS_NO_SUCH_DEVICE",
              "5: EvtDeviceAdd - WdfIoQueueCreate failed 0xc020020b",
              "6: EvtIoRead - read failed with 0x80000005 (STATUS_BUFFER_OVERFLOW)",
              "7: EvtIoRead - request 0xc0001000 completed",
              "8: EvtDeviceAdd - retry after failure",
              "Unable to read memory at 0xc0000005: failed"]
    path = tmp_path / "driver.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    found = [f for f in triage([str(path)]).findings if f.rule == "WDF008"]
    assert [(f.facts["status"], f.facts["count"]) for f in found] == [
        ("0xc0000184 (STATUS_INVALID_DEVICE_STATE)", 3), ("0xc000000e (STATUS_NO_SUCH_DEVICE)", 1), ("0xc020020b", 1)]
    path.write_text(path.read_text(encoding="utf-8").replace("0xc020020b", "0xc020020b (STATUS_WDF_NO_CALLBACK)"),
                    encoding="utf-8")
    named = [f.facts["status"] for f in triage([str(path)]).findings if f.rule == "WDF008"]
    assert named[2] == "0xc020020b (STATUS_WDF_NO_CALLBACK)"  # the table does not hold it: the name the trace printed


def test_a_driver_line_traceview_printed_at_error_level(tmp_path):
    """TraceView's level column (provider, function, cpu, thread, time, level, message) is kept for a driver's own
    line: one at TRACE_LEVEL_ERROR is a reported failure even without a status; one at another level is not."""
    rows = [("TRACE_LEVEL_ERROR", "[BthPS3_EvtDeviceAdd] ERROR: no free PSM"),
            ("TRACE_LEVEL_INFORMATION", "[BthPS3_EvtDeviceAdd] retrying after failed attempt"),
            ("TRACE_LEVEL_ERROR", "[BthPS3_EvtDeviceAdd] ERROR: no free PSM")]
    text = "\n".join(f"BthPS3\tBthPS3_EvtDeviceAdd\t4\t17632\t2025/04/28-20:43:18.10{n}\t{level}\t {message}"
                     for n, (level, message) in enumerate(rows))
    path = tmp_path / "traceview.txt"
    path.write_text(text, encoding="utf-8")
    [finding] = [f for f in triage([str(path)]).findings if f.rule == "WDF008"]
    assert (finding.facts["status"], finding.facts["count"]) == ("no status", 2)
    assert "at TRACE_LEVEL_ERROR" in finding.probable_cause and [e.ref.line for e in finding.evidence] == [1, 3]
