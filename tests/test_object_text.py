"""Object views pasted into a bug report (!wdfdevice, !wdfdevicequeues, !wdfqueue, !wdfdriverinfo): read into
devices and queues (parsers.objecttext), checked by the object rules (analyzer.objects.findings.pasted_findings).
The msdocs files are the wdfkd example output of Microsoft's debugger documentation (tests/data/real-logs/msdocs,
source line in each); the others follow that format with the values a stalled device shows."""
from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.triage import triage
from reports.text import render_text
from parsers.errors import EvidenceError
from parsers.logtext import read_report_text
from parsers.objecttext import ViewedDevice, ViewedQueue

MSDOCS = Path(__file__).parent / "data" / "real-logs" / "msdocs"

STALLED = """\
0: kd> !wdfdevice 0x00001ffe8a6f2fd8 f

Dumping WDFDEVICE 0x00001ffe8a6f2fd8
=================================

WDM PDEVICE_OBJECTs:  self ffffe00175a0ce10, attached ffffe0017419e060, pdo ffffe0017419e060

Pnp state:  119 ( WdfDevStatePnpStarted )
Power state:  31f ( WdfDevStatePowerDx )
Power Pol state:  508 ( WdfDevStatePwrPolWaitingUnarmed )

Parent WDFDEVICE 1ffe8b0a1fd8
Parent states:
   Pnp state:  119 ( WdfDevStatePnpStarted )
   Power state:  31a ( WdfDevStatePowerGotoDx )
   Power Pol state:  565 ( WdfDevStatePwrPolStarted )

Power state history:
[0] WdfDevStatePowerD0 (0x307)
[1] WdfDevStatePowerGotoDx (0x31a)
[2] WdfDevStatePowerGotoDxIoStopped (0x31c)
[3] WdfDevStatePowerDx (0x31f)

0: kd> !wdfdevicequeues 0x00001ffe8a6f2fd8

Dumping queues of WDFDEVICE 0x00001ffe8a6f2fd8
=====================================
Number of queues: 2
----------------------------------
Queue: 1 (!wdfqueue 0x00001ffe8a5c4fd8)
    Parallel, Power-managed, PowerOff, Can accept, Can dispatch, ExecutionLevelDispatch, SynchronizationScopeNone
    Number of driver owned requests: 0
    Number of waiting requests: 3
    EvtIoRead: (0xfffff80a1e2b1c30) mydriver!EvtIoRead
----------------------------------
Queue: 2 (!wdfqueue 0x00001ffe8a5c2fd8)
    Manual, Not power-managed, PowerOn, Can accept, Can dispatch, ExecutionLevelDispatch, SynchronizationScopeNone
    Number of driver owned requests: 0
    Number of waiting requests: 5
"""


def _objects(text: str) -> list:
    return read_report_text(text, "paste.txt").objects


def test_the_documented_device_view_gives_its_own_states_and_histories_not_its_parents():
    [device] = _objects((MSDOCS / "msdocs_wdfdevice_1.txt").read_text(encoding="utf-8"))
    assert isinstance(device, ViewedDevice) and device.handle == 0x7CAD31C8
    assert device.states == {"pnp": 0x119, "power": 0x31F, "pwrpol": 0x508}  # the parent's 0x307/0x565 left out
    assert device.histories["pnp"][0] == 0x100 and device.histories["pnp"][-1] == 0x119
    assert len(device.histories["power"]) == len(device.histories["pwrpol"]) == 8


def test_the_documented_queue_views_give_each_queue_and_its_device():
    queues = _objects((MSDOCS / "msdocs_wdfdevicequeues_1.txt").read_text(encoding="utf-8"))
    assert [(q.handle, q.device, q.dispatch_type, q.power_managed, q.power_state) for q in queues] == [
        (0x7D67D1E8, 0x7CAD31C8, 3, False, 1), (0x7CE7D1E8, 0x7CAD31C8, 2, True, 2), (0x7CD671E8, 0x7CAD31C8, 2, True, 2)]
    assert all(q.counts == {"m_DriverOwned": 0, "m_Queue": 0} for q in queues)
    [alone] = _objects((MSDOCS / "msdocs_wdfqueue_1.txt").read_text(encoding="utf-8"))
    assert isinstance(alone, ViewedQueue) and alone.device is None and alone.can_accept and alone.can_dispatch


def test_driverinfo_lists_devices_with_their_state_names():
    objects = _objects((MSDOCS / "msdocs_acxkd_wdflogdump_wdfdevice_1.txt").read_text(encoding="utf-8"))
    states = {o.handle: o.states for o in objects if isinstance(o, ViewedDevice)}
    assert states[0x49F6BFFBA488] == {"pnp": 0x119, "power": 0x307, "pwrpol": 0x531}  # PnpStarted, PowerD0, StartedWakeCapable


@pytest.mark.parametrize("name", ["msdocs_wdfdevice_1", "msdocs_wdfdevicequeues_1", "msdocs_wdfqueue_1"])
def test_documented_views_of_a_healthy_device_are_read_and_give_no_finding(name):
    result = triage([str(MSDOCS / f"{name}.txt")])
    assert result.findings == []


def test_a_powered_off_power_managed_queue_with_waiting_requests_is_reported(tmp_path):
    path = tmp_path / "stalled.txt"
    path.write_text(STALLED, encoding="utf-8")
    [finding] = triage([str(path)]).findings
    assert (finding.rule, finding.device, finding.queue, finding.facts["waiting"]) == \
        ("WDF001", 0x1FFE8A6F2FD8, 0x1FFE8A5C4FD8, 3)  # not queue 2: not power-managed
    assert "power state Dx" in finding.summary and finding.input == str(path)
    assert finding.facts["objects_from"] == "pasted views"
    report = render_text(triage([str(path)]))
    assert "OBJECTS IN THE PASTED VIEWS:" in report and "Number of waiting requests: 3" in report
    assert finding.object_view[0].machines[1].history == [0x307, 0x31A, 0x31C, 0x31F]


def test_a_device_stuck_in_a_transitional_state_and_a_queue_pasted_alone(tmp_path):
    text = STALLED.replace("31f ( WdfDevStatePowerDx )", "31c ( WdfDevStatePowerGotoDxIoStopped )").replace(
        "Queue: 1 (!wdfqueue 0x00001ffe8a5c4fd8)", "Dumping WDFQUEUE 0x00001ffe8a5c4fd8")
    path = tmp_path / "stuck.txt"
    path.write_text(text, encoding="utf-8")
    findings = {f.rule: f for f in triage([str(path)]).findings}
    assert findings["WDF004"].device == 0x1FFE8A6F2FD8 and "GotoDxIoStopped" in findings["WDF004"].summary
    assert findings["WDF001"].device is None and "an unknown device" in findings["WDF001"].summary


def test_requests_listed_under_a_count_become_the_queues_list_only_when_all_are_listed():
    text = STALLED.replace("    Number of waiting requests: 3\n", "    Number of waiting requests: 2\n"
                           "        !wdfrequest 0x00001ffe8a6b1fd8  !irp 0xffffe00174a1b010\n"
                           "        !wdfrequest 0x00001ffe8a6b2fd8  !irp 0xffffe00174a1c010\n")
    queue = next(o for o in _objects(text) if isinstance(o, ViewedQueue))
    assert queue.requests["m_Queue"] == [(0x1FFE8A6B1FD8, 0xFFFFE00174A1B010), (0x1FFE8A6B2FD8, 0xFFFFE00174A1C010)]


def test_a_view_without_states_or_counts_is_still_nothing_recognized():
    with pytest.raises(EvidenceError, match="no object view"):
        read_report_text("0: kd> !wdfdevice 0x1234\nDumping WDFDEVICE 0x1234\n=====\nWDM PDEVICE_OBJECTs: self 81fb00e8\n",
                         "paste.txt")


def test_a_pasted_views_finding_in_json(tmp_path):
    import json
    from importlib import resources

    import jsonschema

    from reports.json_report import render_json
    path = tmp_path / "stalled.txt"
    path.write_text(STALLED, encoding="utf-8")
    doc = json.loads(render_json(triage([str(path)])))
    jsonschema.validate(doc, json.loads(resources.files("reports").joinpath("schema/triage-result.v2.json").read_text()))
    [finding] = doc["findings"]
    assert (finding["device"], finding["queue"], finding["facts"]["objects_from"]) == \
        ("0x1ffe8a6f2fd8", "0x1ffe8a5c4fd8", "pasted views")
    assert "Number of waiting requests: 3" in finding["facts"]["object_view"]


def test_a_history_is_the_devices_whose_view_printed_it():
    """Fuzz seed 10 (bench/campaign-seed10): a history title, another device's view starting, then a history
    entry raised KeyError. The entry belongs to no history of the new device; the first keeps its own."""
    text = ("Dumping WDFDEVICE 0x1000\nPower state:  31f ( WdfDevStatePowerDx )\nPower state history:\n"
            "[0] WdfDevStatePowerD0 (0x307)\n    !wdfdevice 0x2000 ff (PDO)\n"
            "        Pnp/Power State: WdfDevStatePnpStarted, WdfDevStatePowerD0, WdfDevStatePwrPolStartedWakeCapable\n"
            "[1] WdfDevStatePowerDx (0x31f)\n")
    first, second = _objects(text)
    assert first.histories == {"power": [0x307]} and second.histories == {}
    assert _objects(text.replace("31f ( WdfDevStatePowerDx )", "0x31f ( WdfDevStatePowerDx )"))[0].states == {"power": 0x31F}
    with pytest.raises(EvidenceError):  # the minimal input the fuzzer saved: no state, nothing recognized
        read_report_text("Dumping WDFDEVICE 8\nPower state history:\n!wdfdevice 0  d\n[7] WdfDevStatePw (08)\n", "min.txt")
