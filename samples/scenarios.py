"""The labeled scenario corpus: KMDF behaviour from samples/kmdf_model.py with one bug injected per
variant, and the findings triage must report for it.

| scenario | what happens | expected findings |
|---|---|---|
| healthy-start-stop | start, requests completed, orderly removal | none |
| healthy-sx-cycle | request in flight across sleep: EvtIoStop acknowledges with requeue, resumes, completes | none |
| healthy-idle-wake | idles to Dx, a request powers it back up, completes, idle timer restarts | none |
| healthy-surprise-removal | surprise removal with a request in flight; the purge cancels it | none |
| evtiostop-not-acked | sleep with a request in flight; EvtIoStop never acknowledges it; 10 min later (0x9F watchdog) | WDF002 request/queue/device, WDF001 queue/device (stop never finished), WDF004 device (power GotoDx, power policy SleepingNoWakePowerDown) |
| request-leaked | a request acknowledged without requeue across a sleep is never completed; later I/O works | WDF003 request |
| power-ref-never-released | idle-capable device takes a power reference and never drops it: idle machine busy for 15 min with no I/O | WDF004 device |
| double-completion | a request is completed twice; the framework reports it | WDF005 request |
| state-machine-stuck | EvtDeviceSelfManagedIoInit never returns: power machine left in D0StartingStartSelfManagedIo | WDF004 device |
| dropped-event | the power policy machine drops an event | WDF006 device |
| wrapped-mid-scenario | a one-page ring wraps during heavy I/O, then the EvtIoStop hang; the start of the log is overwritten | as evtiostop-not-acked |
| d0exit-failed | on removal the driver's EvtDeviceD0Exit fails with STATUS_DEVICE_NOT_CONNECTED | WDF008 device (with TMF) |
| pool-leak-at-unload | removal, then at driver unload KMDF verifier dumps a leaked framework pool allocation | WDF008 (with TMF) |
| verifier-forward-error | the driver forwards a request to another device's queue; the verifier refuses | WDF008 (with TMF) |

"with TMF": the message is identified only by its format (its payload has the shape of many others), so
without a TMF the finding is not expected (``needs_formats`` in the expectation).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from samples.kmdf_model import STATUS_DEVICE_NOT_CONNECTED, STATUS_INVALID_DEVICE_REQUEST, Device, Handles, Log, Request


@dataclass
class Scenario:
    name: str
    description: str
    bug: str
    log: Log
    expected: list[dict] = field(default_factory=list)
    pages: int = 4


def _device(log: Log, handles: Handles) -> Device:
    return Device(log, handles.handle(), handles.pointer(), handles.handle())


def _request(handles: Handles, callback: str = "EvtIoRead") -> Request:
    return Request(handles.handle(), handles.pointer(), callback)


def _traffic(d: Device, handles: Handles, count: int) -> None:
    for i in range(count):
        r = _request(handles, ("EvtIoRead", "EvtIoWrite", "EvtIoDeviceControl")[i % 3])
        d.arrive(r)
        d.complete(r)


def _started(traffic: int, idle: bool = False, arch: str = "x64") -> tuple[Log, Handles, Device]:
    """A new log with a device that was added, started and completed ``traffic`` requests."""
    log, h = Log(), Handles(arch)
    d = _device(log, h)
    d.add_and_start(idle=idle)
    _traffic(d, h, traffic)
    return log, h, d


def _hex(value: int) -> str:
    return f"0x{value:x}"


def healthy_start_stop(arch: str = "x64") -> Scenario:
    log, h, d = _started(6, arch=arch)
    d.remove()
    return Scenario("healthy-start-stop", "Device starts, completes six requests, is removed.", "none", log)


def healthy_sx_cycle() -> Scenario:
    log, h, d = _started(3)
    pending = _request(h)
    d.arrive(pending)
    log.wait(2)
    d.sleep()
    log.wait(30)
    d.wake()
    d.complete(pending)
    _traffic(d, h, 2)
    return Scenario("healthy-sx-cycle", "A read is in flight when the system sleeps; EvtIoStop acknowledges it "
                    "with requeue; after resume it is presented again and completed.", "none", log)


def healthy_idle_wake() -> Scenario:
    log, h, d = _started(2, idle=True)
    log.wait(10)
    d.idle_out()
    log.wait(20)
    r = _request(h)
    d.arrive(r, present=False)
    d.wake_for_io()
    d.present(r)
    d.complete(r)
    d.io_done_idle_again()
    return Scenario("healthy-idle-wake", "The device idles to Dx; a read powers it back up and completes.", "none", log)


def healthy_surprise_removal() -> Scenario:
    log, h, d = _started(2)
    d.arrive(_request(h))
    log.wait(5)
    d.surprise_remove()
    return Scenario("healthy-surprise-removal", "Surprise removal with a read in flight; the purge cancels it.",
                    "none", log)


def busy_device() -> Scenario:
    """Not a scenario of the corpus: a healthy device with enough I/O to wrap a one-page ring."""
    log, h, d = _started(40)
    return Scenario("busy-device", "A started device completing forty requests.", "none", log, pages=1)


def _evtiostop_hang(log: Log, h: Handles, traffic: int) -> tuple[Device, Request]:
    d = _device(log, h)
    d.add_and_start()
    _traffic(d, h, traffic)
    stuck = _request(h)
    d.arrive(stuck)
    log.wait(3)
    d.sleep(acknowledge=False)
    log.wait(600)  # the power watchdog fires after 10 minutes
    return d, stuck


def _hang_expectations(d: Device, stuck: Request) -> list[dict]:
    return [
        {"rule": "WDF002", "device": _hex(d.handle), "queue": _hex(d.queue), "request": _hex(stuck.handle)},
        {"rule": "WDF001", "device": _hex(d.handle), "queue": _hex(d.queue)},
        {"rule": "WDF004", "device": _hex(d.handle)},
    ]


def evtiostop_not_acked() -> Scenario:
    log, h = Log(), Handles()
    d, stuck = _evtiostop_hang(log, h, 3)
    # the log's newest record: the stop-notify wait is the last thing the framework logged
    return Scenario("evtiostop-not-acked", "System sleep with a read in flight; the driver's EvtIoStop never "
                    "acknowledges or completes it, so the queue never powers off (the 0x9F hang).",
                    "EvtIoStop without acknowledgement", log, _hang_expectations(d, stuck))


def request_leaked() -> Scenario:
    log, h, d = _started(2)
    leaked = _request(h, "EvtIoDeviceControl")
    d.arrive(leaked)
    d.sleep(requeue=False)
    log.wait(30)
    d.wake()
    _traffic(d, h, 4)
    log.wait(120)
    _traffic(d, h, 2)
    return Scenario("request-leaked", "An IOCTL acknowledged without requeue in EvtIoStop stays with the driver "
                    "and is never completed; later I/O works.", "request never completed", log,
                    [{"rule": "WDF003", "request": _hex(leaked.handle)}])


def power_ref_never_released() -> Scenario:
    log, h = Log(), Handles()
    d = _device(log, h)
    d.add_and_start(idle=True)
    d.go("idle", "CancelTimer", "Busy")  # WdfDeviceStopIdle: the reference is never given back
    _traffic(d, h, 2)
    log.wait(900)
    _traffic(d, h, 1)
    return Scenario("power-ref-never-released", "WdfDeviceStopIdle without WdfDeviceResumeIdle: the idle machine "
                    "stays busy with no I/O for 15 minutes, the device never idles.", "power reference never released",
                    log, [{"rule": "WDF004", "device": _hex(d.handle)}])


def double_completion() -> Scenario:
    log, h, d = _started(2)
    twice = _request(h, "EvtIoWrite")
    d.arrive(twice)
    d.complete(twice)
    # KMDF verifier: the second WdfRequestComplete finds the request no longer driver-owned
    log.emit("WDFREQUEST 0x%p is not owned by the driver, %!STATUS!", twice.handle, STATUS_INVALID_DEVICE_REQUEST)
    _traffic(d, h, 1)
    return Scenario("double-completion", "A write is completed twice; with KMDF verifier on, the second "
                    "WdfRequestComplete is refused because the request is no longer owned by the driver.",
                    "completion twice", log, [{"rule": "WDF005", "request": _hex(twice.handle)}])


def state_machine_stuck() -> Scenario:
    log, h = Log(), Handles()
    d = _device(log, h)
    d.go("pnp", "Init", "InitStarting", "HardwareAvailable")
    d.go("pwrpol", "Starting")
    d.go("power", "CheckDeviceType", "D0Starting", "D0StartingConnectInterrupt", "D0StartingDmaEnable",
         "D0StartingStartSelfManagedIo")
    log.wait(300)
    log.emit("Power resume all queues of WDFDEVICE 0x%p", d.handle)  # another device thread logs later
    return Scenario("state-machine-stuck", "EvtDeviceSelfManagedIoInit never returns during start: the power machine "
                    "stays in D0StartingStartSelfManagedIo.", "state machine stuck", log,
                    [{"rule": "WDF004", "device": _hex(d.handle)}])


def dropped_event() -> Scenario:
    log, h, d = _started(2)
    log.emit("WDFDEVICE 0x%p !devobj 0x%p current pwr pol state %!WDF_DEVICE_POWER_POLICY_STATE! dropping event "
             "%!FxPowerPolicyEvent! because of a closed queue", d.handle, d.devobj, "WdfDevStatePwrPolStarted",
             "PwrPolWakeArrived")
    _traffic(d, h, 1)
    return Scenario("dropped-event", "The power policy machine drops a wake event (closed queue).",
                    "dropped state-machine event", log, [{"rule": "WDF006", "device": _hex(d.handle)}])


def wrapped_mid_scenario() -> Scenario:
    log, h = Log(), Handles()
    d, stuck = _evtiostop_hang(log, h, 40)
    return Scenario("wrapped-mid-scenario", "Heavy I/O wraps a one-page ring (the device's start is overwritten), "
                    "then the EvtIoStop hang; the surviving records still show it.",
                    "EvtIoStop without acknowledgement, log wrapped", log, _hang_expectations(d, stuck), pages=1)


def d0exit_failed() -> Scenario:
    log, h, d = _started(3)
    d.remove(d0exit_status=STATUS_DEVICE_NOT_CONNECTED)
    return Scenario("d0exit-failed", "On removal the driver's EvtDeviceD0Exit returns STATUS_DEVICE_NOT_CONNECTED "
                    "(the hardware is gone); the framework reports the failed callback.", "callback failed", log,
                    [{"rule": "WDF008", "device": _hex(d.handle), "needs_formats": True}])


def pool_leak_at_unload() -> Scenario:
    log, h, d = _started(2)
    d.remove()
    d.unload(leaked=[(h.pointer(), h.pointer(), h.pointer())])
    return Scenario("pool-leak-at-unload", "The driver never deletes a WDFMEMORY it created; at unload KMDF verifier "
                    "dumps the framework pool and reports the leaked allocation.", "framework pool leaked", log,
                    [{"rule": "WDF008", "needs_formats": True}])


def verifier_forward_error() -> Scenario:
    log, h, d = _started(2)
    other = h.handle()
    log.emit("Cannot forward a request to a different WDFDEVICE 0x%p", other)
    _traffic(d, h, 1)
    return Scenario("verifier-forward-error", "The driver forwards a request to a queue of another device; KMDF "
                    "verifier refuses (WdfRequestForwardToIoQueue).", "verifier error", log, [{"rule": "WDF008", "needs_formats": True}])


ALL = (healthy_start_stop, healthy_sx_cycle, healthy_idle_wake, healthy_surprise_removal, evtiostop_not_acked,
       request_leaked, power_ref_never_released, double_completion, state_machine_stuck, dropped_event,
       wrapped_mid_scenario, d0exit_failed, pool_leak_at_unload, verifier_forward_error)
