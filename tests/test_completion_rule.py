"""WDF005 on the completion paths KMDF really logs: the WdfRequestComplete trace followed by the framework's
own completion line is one completion, a zero-length read the queue completes itself is a new request (even
when the lookaside list hands it the handle of one just completed), and with no TMF an unknown record
naming a completed request is evidence only when nothing decoded later explains it."""
from __future__ import annotations

import pytest

from parsers.decode import DecodeOptions
from tmf_builds import other_build
from analyzer.triage import triage
from samples.generate import _write_log
from samples.kmdf_model import Handles, Log, Request
from samples.scenarios import _device, _request
from samples.tmf_writer import SampleTmf

ZERO_LENGTH = "Zero length WDFREQUEST 0x%p completed automatically by WDFQUEUE 0x%p"
COMPLETING = "Completing WDFREQUEST 0x%p for IRP 0x%p with Information 0x%I64x, %!STATUS!"
API_COMPLETE = "Completing WDFREQUEST 0x%p, %!STATUS!"


# a framework build with one more trace call in the middle of fxioqueue.cpp (after the request arrival
# messages, before the queue power ones): the messages recognized in that file disagree on the numbering,
# so no-TMF recognition leaves its rarer messages (the arrivals completed on the spot) unknown
_OTHER_BUILD = other_build("fxioqueue.cpp", 2900)


def _decode(tmp_path, log: Log, with_tmf: bool, build: type[SampleTmf] = SampleTmf):
    """Write the model log as an IFR buffer (+ its TMF) and triage it with or without the TMF."""
    tmf = build()
    blob, _ = _write_log(log, tmf)
    path = tmp_path / "log.ifr"
    path.write_bytes(blob)
    tmf.write(tmp_path / "tmf")
    options = DecodeOptions(tmf=[str(tmp_path / "tmf")] if with_tmf else [])
    return triage([str(path)], options)


def _wdf005(result):
    return [f for f in result.findings if f.rule == "WDF005"]


def _started():
    log, handles = Log(), Handles()
    device = _device(log, handles)
    device.add_and_start()
    return log, handles, device


NOT_ACCEPTING = ("WDFQUEUE 0x%p is not accepting requests, state is %!WDF_IO_QUEUE_STATE!, %scompleting "
                 "WDFREQUEST 0x%p %!STATUS!")
STATUS_INVALID_DEVICE_STATE = 0xC0000184


@pytest.mark.parametrize("with_tmf", [True, False])
@pytest.mark.parametrize("arrival", ["zero-length read", "queue not accepting"])
def test_reused_handle_completed_on_arrival_is_not_a_double_completion(tmp_path, arrival, with_tmf):
    log, handles, device = _started()
    first = _request(handles)
    device.arrive(first)
    device.complete(first)
    reused = Request(first.handle, handles.pointer())  # lookaside memory handed to the next IRP
    if arrival == "zero-length read":
        log.emit(ZERO_LENGTH, reused.handle, device.queue)
        log.emit(COMPLETING, reused.handle, reused.irp, 0, 0)
    else:
        log.emit(NOT_ACCEPTING, device.queue, "WdfIoQueueDispatchRequests", "", reused.handle,
                 STATUS_INVALID_DEVICE_STATE)
        log.emit(COMPLETING, reused.handle, reused.irp, 0, STATUS_INVALID_DEVICE_STATE)
    result = _decode(tmp_path, log, with_tmf, _OTHER_BUILD)
    unknown_arrival = any(e.text.startswith("Unknown(") and first.handle in e.mentions for e in result.events)
    assert unknown_arrival == (not with_tmf)  # the case the guard is for
    assert _wdf005(result) == []
    assert list(result.timelines.requests["request"]).count(first.handle) == (1 if unknown_arrival else 2)


@pytest.mark.parametrize("with_tmf", [True, False])
def test_framework_completing_twice_is_found_with_or_without_tmf(tmp_path, with_tmf):
    log, handles, device = _started()
    twice = _request(handles, "EvtIoWrite")
    device.arrive(twice)
    device.complete(twice)
    device.complete(twice)  # no verifier: CompleteInternal runs again
    [finding] = _wdf005(_decode(tmp_path, log, with_tmf))
    assert finding.request == twice.handle and "completed twice" in finding.summary
    assert [line.role for line in finding.evidence] == ["first completion", "completed again"]


def test_api_trace_and_completion_line_are_one_completion_and_a_second_call_is_found(tmp_path):
    log, handles, device = _started()
    once, twice = _request(handles), _request(handles, "EvtIoWrite")
    for request in (once, twice):
        device.arrive(request)
        log.emit(API_COMPLETE, request.handle, 0)  # FX_VERBOSE_TRACE builds trace WdfRequestComplete itself
        device.complete(request)
    log.emit(API_COMPLETE, twice.handle, 0)
    [finding] = _wdf005(_decode(tmp_path, log, with_tmf=True))
    assert finding.request == twice.handle and finding.summary.endswith("completed twice")


def test_unknown_record_naming_a_completed_request_is_inferred_evidence(tmp_path):
    log, handles, device = _started()
    done = _request(handles)
    device.arrive(done)
    device.complete(done)
    log.emit("WDFREQUEST 0x%p is not owned by the driver, %!STATUS!", done.handle, 0xC0000010)
    with_tmf = _wdf005(_decode(tmp_path, log, with_tmf=True))
    without = _wdf005(_decode(tmp_path, log, with_tmf=False))
    assert with_tmf[0].severity.name == "ERROR" and "used after completion" in with_tmf[0].summary
    assert without[0].severity.name == "WARNING" and without[0].facts["inferred"] is True
    assert without[0].evidence[-1].text.startswith("Unknown(")
    # the same unknown record followed by a decoded arrival of that handle is a reuse, not evidence
    log.emit("Queuing WDFREQUEST 0x%p on WDFQUEUE 0x%p", done.handle, device.queue)
    log.emit("Calling driver EvtIoRead for WDFREQUEST 0x%p", done.handle)
    device.complete(done)
    assert _wdf005(_decode(tmp_path, log, with_tmf=False)) == []
