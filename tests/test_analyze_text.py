"""Bugchecks in every form a bug report carries them, and nothing invented: a parameter the evidence does not
hold is None, shown as "not in the evidence" (null in JSON); every hex value the text report prints is in the
input; KMDF involvement is stated only with evidence."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from analyzer.bugcheck import NOT_IN_EVIDENCE, decode, parse_cli
from analyzer.cli import main
import parsers.analyze_text as analyze_text
from analyzer.triage import analyze, triage
from parsers.analyze_text import read_analyze_text
from parsers.errors import EvidenceError
from parsers.logtext import read_report_text
from parsers.records import LogSet
from reports.html import render_html
from reports.json_report import render_json
from reports.markdown import render_markdown
from reports.text import render_text

REAL = Path(__file__).parent / "data" / "real-logs"
INPUTS = sorted(REAL.rglob("*.txt"))
D1 = (0xFFFF9885EFD17B50, 0x2, 0x0, 0xFFFFF80651F5CDD2)

FORMS = {
    "kd banner": ("*** Fatal System Error: 0x000000d1\n"
                  "                       (0xFFFF9885EFD17B50,0x0000000000000002,0x0000000000000000,0xFFFFF80651F5CDD2)\n"
                  "\nDriver at fault:\n***  usbip2_ude.sys - Address FFFFF80651F5CDD2 base at FFFFF80651F50000\n",
                  0xD1, D1, None),
    "kd banner, one line": ("*** Fatal System Error: 0x000000d1 (0xFFFF9885EFD17B50,0x0000000000000002,"
                            "0x0000000000000000,0xFFFFF80651F5CDD2)\n", 0xD1, D1, None),
    "BugCheck line": ("BugCheck D1, {ffff9885efd17b50, 2, 0, fffff80651f5cdd2}\n\nProbably caused by : usbip2_ude.sys\n",
                      0xD1, D1, None),
    "analyze -show": ("0: kd> !analyze -show\nDRIVER_IRQL_NOT_LESS_OR_EQUAL (d1)\nAn attempt was made to access a pageable "
                      "address at an IRQL that is too high.\nArguments:\nArg1: ffff9885efd17b50, memory referenced\n"
                      "Arg2: 0000000000000002, IRQL\nArg3: 0000000000000000, value 0 = read operation, 1 = write operation\n"
                      "Arg4: fffff80651f5cdd2, address which referenced memory\n", 0xD1, D1,
                      "DRIVER_IRQL_NOT_LESS_OR_EQUAL"),
    "Bugcheck Analysis without arguments": ("*" * 79 + "\n*" + " " * 24 + "Bugcheck Analysis" + " " * 36 + "*\n" + "*" * 79
                                            + "\n\nDRIVER_POWER_STATE_FAILURE (9f)\nA driver has failed to complete a "
                                            "power IRP within a specific time.\n", 0x9F, (None,) * 4,
                                            "DRIVER_POWER_STATE_FAILURE"),
    ".bugcheck": ("0: kd> .bugcheck\nBugcheck code 0000009F\nArguments 00000000`00000003 ffffaa06`b8bab840 "
                  "fffff805`5a272750 ffffaa06`afb99560\n", 0x9F,
                  (0x3, 0xFFFFAA06B8BAB840, 0xFFFFF8055A272750, 0xFFFFAA06AFB99560), None),
    "Markdown bullets": ("### Crash\n- **Stop code:** `DRIVER_POWER_STATE_FAILURE (0x9F)`\n- **Arg1:** `0000000000000003`\n"
                         "- **Arg4:** `ffffaa06afb99560` (the blocked IRP)\n", 0x9F, (0x3, None, None, 0xFFFFAA06AFB99560),
                         "DRIVER_POWER_STATE_FAILURE"),
    "Markdown table": ("| Field | Value |\n|---|---|\n| Bug check code | 0x9F |\n| Arg1 | 0x3 | blocking an IRP |\n",
                       0x9F, (0x3, None, None, None), None),
    "blue screen text": ("Your device ran into a problem and needs to restart.\nStop code: DRIVER_POWER_STATE_FAILURE\n"
                         "What failed: BthPS3.sys\n", 0x9F, (None,) * 4, "DRIVER_POWER_STATE_FAILURE"),
    "summary sentence": ("After resume the machine crashed with bug check 0x0000009F (DRIVER_POWER_STATE_FAILURE).\n",
                         0x9F, (None,) * 4, "DRIVER_POWER_STATE_FAILURE"),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_gives_code_parameters_and_name(form):
    text, code, params, name = FORMS[form]
    bug = read_analyze_text(text, "paste.txt")
    assert (bug.code, bug.parameters, bug.name) == (code, params, name)


def test_debug_break_is_not_a_bugcheck_and_plain_text_holds_none():
    assert read_analyze_text("Unknown bugcheck code (0)\nUnknown bugcheck description\nArguments:\nArg1: 00000000\n", "x") is None
    assert read_analyze_text("The driver bugchecks 3 times a day.\nArguments (4) were given.\n", "x") is None


def test_a_paste_cut_mid_argument_leaves_the_rest_unknown():
    bug = read_report_text((REAL / "analyze" / "vadimgrn_usbip-win2_164_10d_1.txt").read_text(encoding="utf-8"), "x").bugcheck
    assert bug.code == 0x10D and bug.parameters == (0x6, None, None, None)  # "Arg2: 000" is where the paste ends


def test_bugcheck_option_without_parameters_is_unknown_not_zero():
    bug = parse_cli("9f")
    assert bug.parameters == (None, None, None, None) and bug.name == "DRIVER_POWER_STATE_FAILURE"
    assert parse_cli("9f,3").parameters == (3, None, None, None)
    with pytest.raises(ValueError, match="does not fit 32 bits"):  # a code is a ULONG (never a JSON number > 2**53)
        parse_cli("100000000009f")
    result = analyze([], bugcheck=bug)
    text = render_text(result)
    assert text.count(f"Arg2: {NOT_IN_EVIDENCE}") == 1 and "0000000000000000" not in text
    assert json.loads(render_json(result))["bugcheck"]["parameters"] == [None] * 4


def test_names_for_every_code_and_meanings_from_the_paste_else_the_docs():
    d1 = decode(read_analyze_text(FORMS["analyze -show"][0], "x"))
    assert d1["name"] == "DRIVER_IRQL_NOT_LESS_OR_EQUAL"
    assert d1["parameters"][2]["meaning"] == "value 0 = read operation, 1 = write operation"  # the paste's own
    banner = decode(read_analyze_text(FORMS["kd banner"][0], "x"))
    assert banner["parameters"][1]["meaning"] == "IRQL at time of reference."  # the reference page's
    assert decode(parse_cli("1e"))["name"] == "KMODE_EXCEPTION_NOT_HANDLED"


def test_details_and_stack_frames_are_kept_and_shown():
    path = REAL / "analyze" / "nefarius_BthPS3_106_10d_1.txt"
    result = triage([str(path)])
    bug = result.bugcheck
    assert bug.symbol_name == "BthPS3PSM!BthPS3PSM_EvtDeviceContextCleanup+375" and bug.module_name == "BthPS3PSM"
    assert bug.faulting_source["FAULTING_SOURCE_LINE_NUMBER"] == "599"
    roles = {f["frame"].split("+")[0]: f["role"] for f in result.bugcheck_analysis["frames"]}
    assert roles["Wdf01000!FxVerifierBugCheckWorker"] == "framework" and roles["nt!KeBugCheckEx"] == "os"
    assert roles["BthPS3PSM!BthPS3PSM_EvtDeviceContextCleanup"] == "driver"
    text = render_text(result)
    assert "SYMBOL_NAME: BthPS3PSM!BthPS3PSM_EvtDeviceContextCleanup+375" in text
    assert "Wdf01000!FxObjectHandleGetPtr+0x47  [framework]" in text
    markdown = render_markdown(result)
    assert "- **FAILURE_BUCKET_ID**: 0x10D_5_VRF_BthPS3PSM!BthPS3PSM_EvtDeviceContextCleanup" in markdown
    assert "BthPS3PSM!BthPS3PSM_EvtDeviceContextCleanup+0x375  [driver]" in markdown
    page = render_html(result)
    assert "<td>FAILURE_BUCKET_ID</td><td>0x10D_5_VRF_BthPS3PSM!BthPS3PSM_EvtDeviceContextCleanup</td>" in page
    assert "<td class=mono>Wdf01000!FxObjectHandleGetPtr+0x47</td><td>framework</td>" in page


def test_kmdf_advice_only_with_kmdf_evidence():
    virtio = triage([str(REAL / "analyze" / "virtio-win_kvm-guest-drivers-windows_27_9f_1.txt")])
    [finding] = [f for f in virtio.findings if f.rule == "WDF007"]
    assert not finding.facts["kmdf_shown"] and "not show that the driver is a KMDF driver" in finding.probable_cause
    assert "wdfkd" not in finding.suggested_fix and "EvtIoStop" not in finding.suggested_fix
    assert "!irp 0xfffffa8004cbb250" in finding.suggested_fix
    usbdk = triage([str(REAL / "analyze" / "daynix_UsbDk_115_10d_1.txt")])
    [finding] = [f for f in usbdk.findings if f.rule == "WDF007"]
    assert finding.facts["kmdf_shown"] and "wdflogdump" in finding.suggested_fix
    assert any("framework stack frame" in e for e in finding.facts["kmdf_evidence"])
    dump = triage([str(Path(__file__).parent.parent / "samples" / "dumps" / "kmdf-9f-full.dmp")])
    [finding] = [f for f in dump.findings if f.rule == "WDF007"]
    assert "the blamed driver hangdrv has a KMDF log" in finding.probable_cause and "wdflogdump" in finding.suggested_fix


def _wdf_9f_paste(reason_end: str) -> str:
    """!analyze -v of a 0x9F whose "Debugging Details" hold the debugger's WDF analysis, in the form public reports
    show (OpenVPN/ovpn-dco-win #49: bucket 0x9F_3_POWER_DOWN_WDF_WAIT_TIMEOUT); values of this test's own."""
    return "\n".join([
        "3: kd> !analyze -v", "DRIVER_POWER_STATE_FAILURE (9f)",
        "A driver has failed to complete a power IRP within a specific time.", "Arguments:",
        "Arg1: 0000000000000003, A device object has been blocking an IRP for too long a time",
        "Arg2: ffffb3015a2c1e20, Physical Device Object of the stack",
        "Arg3: ffff8a8e3d3ef7d8, nt!TRIAGE_9F_POWER on Win7 and higher, otherwise the Functional Device Object of the stack",
        "Arg4: ffffb30163a81010, The blocked IRP", "", "Debugging Details:", "------------------", "",
        "Implicit thread is now ffffb301`5c0a1080",
        "   This is a bugcheck caused by a WDF driver timing out. ",
        "   Reason: waiting for all threads to stop dispatching requests so that queue can be powered off, WDFQUEUE "
        + reason_end, "", "", "KEY_VALUES_STRING: 1", "", "IMAGE_NAME:  mydrv.sys", "MODULE_NAME: mydrv",
        "FAILURE_BUCKET_ID:  0x9F_3_POWER_DOWN_WDF_WAIT_TIMEOUT_IMAGE_mydrv.sys", ""])


def test_the_debuggers_wdf_analysis_shows_kmdf_and_names_the_queue_waited_on():
    bug = read_analyze_text(_wdf_9f_paste("0x00004cfe9c5e7fd8"), "9f.txt")
    assert bug.framework_analysis == ("This is a bugcheck caused by a WDF driver timing out.",
                                      "Reason: waiting for all threads to stop dispatching requests so that queue can "
                                      "be powered off, WDFQUEUE 0x00004cfe9c5e7fd8")
    result = analyze([read_report_text(_wdf_9f_paste("0x00004cfe9c5e7fd8"), "9f.txt")])
    [finding] = [f for f in result.findings if f.rule == "WDF007"]
    assert finding.facts["kmdf_shown"] and finding.queue == 0x4CFE9C5E7FD8
    assert "not show that the driver is a KMDF driver" not in finding.probable_cause
    assert "gives the reason: waiting for all threads to stop dispatching requests" in finding.probable_cause
    assert finding.suggested_fix.startswith("!wdfkd.wdfqueue 0x4cfe9c5e7fd8 ") and "wdflogdump" in finding.suggested_fix
    assert "FAILURE_BUCKET_ID 0x9F_3_POWER_DOWN_WDF_WAIT_TIMEOUT_IMAGE_mydrv.sys" in finding.facts["kmdf_evidence"]
    assert "WDF_ANALYSIS: This is a bugcheck caused by a WDF driver timing out. Reason: " in render_text(result)
    document = json.loads(render_json(result))
    assert document["findings"][0]["queue"] == "0x4cfe9c5e7fd8"


def test_a_wdf_analysis_whose_handle_is_cut_leaves_the_queue_unknown():
    result = analyze([read_report_text(_wdf_9f_paste(""), "9f.txt")])
    [finding] = [f for f in result.findings if f.rule == "WDF007"]
    assert finding.facts["kmdf_shown"] and finding.queue is None
    assert "(the WDFQUEUE handle is not in the evidence)" in finding.probable_cause
    assert "!wdfkd.wdfqueue" not in finding.suggested_fix


def test_a_wdf_bucket_alone_shows_kmdf():
    """Only the bucket of the debugger's WDF analysis survived the paste: still evidence of KMDF."""
    paste = "BugCheck 9F, {3, ffffb3015a2c1e20, ffff8a8e3d3ef7d8, ffffb30163a81010}\n" \
            "FAILURE_BUCKET_ID:  0x9F_3_POWER_DOWN_WDF_WAIT_TIMEOUT_IMAGE_mydrv.sys\n"
    [finding] = [f for f in analyze([read_report_text(paste, "9f.txt")]).findings if f.rule == "WDF007"]
    assert finding.facts["kmdf_shown"] and "wdflogdump" in finding.suggested_fix
    plain = "BugCheck 9F, {3, ffffb3015a2c1e20, ffff8a8e3d3ef7d8, ffffb30163a81010}\n" \
            "FAILURE_BUCKET_ID:  0x9F_3_POWER_DOWN_MYWDFX_IMAGE_mywdf.sys\n"  # WDF inside other words: none
    [finding] = [f for f in analyze([read_report_text(plain, "9f.txt")]).findings if f.rule == "WDF007"]
    assert not finding.facts["kmdf_shown"]


_PRINTED_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b|\b[0-9a-fA-F]{8}(?:`?[0-9a-fA-F]{8})?\b")  # how reports print values
_ANY_HEX = re.compile(r"\b(?:0x)?[0-9a-fA-F]+(?:`[0-9a-fA-F]+)?\b")  # how an input may hold them
_COMMAND_FLAGS = re.compile(r"<\w+> 0x[0-9a-fA-F]+")  # advice like "!wdfkd.wdfdriverinfo <driver> 0x10"


def _values(text: str, pattern: re.Pattern) -> set[int]:
    return {int(v.replace("`", ""), 16) for v in pattern.findall(text)}


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_every_printed_hex_value_is_in_the_input(path):
    try:
        result = triage([str(path)])
    except EvidenceError:
        return  # nothing recognized: nothing printed
    shown = _COMMAND_FLAGS.sub("", render_text(result).split("\nINPUTS:")[0])
    invented = _values(shown, _PRINTED_HEX) - _values(path.read_text(encoding="utf-8", errors="replace"), _ANY_HEX)
    assert not invented, sorted(hex(v) for v in invented)


def test_logdump_of_an_analyze_paste_says_there_is_no_framework_log():
    path = REAL / "analyze" / "nefarius_BthPS3_41_9f_1.txt"
    run = CliRunner().invoke(main, ["logdump", str(path)])
    assert run.exit_code == 2 and "no framework log in this file" in run.output and "holds a bugcheck" in run.output
    assert json.loads(CliRunner().invoke(main, ["triage", "--json", str(path)]).output)["bugcheck"]["code"] == 0x9F


def test_a_bugcheck_code_wider_than_a_ulong_is_no_code():
    """KeBugCheckEx's first argument slot with garbage above the code (found by the fuzzer: it reached the JSON
    report as a number above 2**53): not a bug check code; a later well-formed line still gives one."""
    frame = ("ffff8385`1bc3f778 fffff807`7acee3d7 : {code} 00000000`00000003 ffff9505`a1c67060 ffff8385`1bc3f7b0 : "
             "nt!KeBugCheckEx")
    assert read_analyze_text(frame.format(code="00200000`0000009f"), "x.txt") is None
    bug = read_analyze_text(frame.format(code="00200000`0000009f") + "\n" + frame.format(code="00000000`0000009f"), "x.txt")
    assert bug.code == 0x9F and bug.parameters[0] == 3


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from(["STACK_TEXT", "call SITE", "Child-SP", "childebp", "Stack Trace", "CALL stack",
                                 "kd>", " k", "kD> K", "ſtack_text", "Kd>", "  ", ":", "x", "\u212a"]), max_size=6))
def test_the_stack_header_prefilter_never_hides_a_header(words):
    text = "".join(words)
    assert analyze_text._may_be_stack_header(text) or not analyze_text._STACK_HEADER.search(text)


def test_a_request_fatal_error_names_its_request():
    """0x10D Arg1 0x6 (WDF_REQUEST_FATAL_ERROR), Arg2 0x3 (REQUEST_ALREADY_SENT): Arg3 is the WDFREQUEST handle
    (bug check reference); the finding names it and says which command shows it."""
    result = triage([str(REAL / "analyze" / "imbushuo_mac-precision-touchpad_92_10d_1.txt")])
    [finding] = [f for f in result.findings if f.rule == "WDF007"]
    assert finding.request == 0x24F58130F798
    assert finding.suggested_fix.startswith("!wdfkd.wdfrequest 0x24f58130f798 shows the request.")
    fatal = read_analyze_text("BugCheck 10D, {6, 1, ffffe00012345678, 0}\n", "paste.txt")  # Arg3: an IRP address
    [other] = [f for f in analyze([LogSet("paste.txt")], bugcheck=fatal).findings if f.rule == "WDF007"]
    assert other.request is None and "wdfrequest" not in other.suggested_fix
