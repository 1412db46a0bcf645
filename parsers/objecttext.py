"""Framework object views as people paste them: the output of ``!wdfdevice``, ``!wdfdevicequeues`` and
``!wdfqueue`` (wdfkd), read line by line into what they show of each device and queue.

A device view gives the device's handle and its PnP, power and power policy states (``Pnp state:  119 (
WdfDevStatePnpStarted )``), with their histories when printed (``[3] WdfDevStatePnpHardwareAvailable (0x108)``);
the parent's states printed under ``Parent states:`` are not the device's and are left out; ``!wdfdriverinfo``
lists each device (``!wdfdevice 0x...``) with its three state names (``Pnp/Power State: ...``). A queue view gives
the queue's handle (``Dumping WDFQUEUE 0x...``, or ``Queue: 2 (!wdfqueue 0x...)`` in a device's list, which
also gives its device), its summary line (dispatch type, power-managed or not, power state, can accept, can
dispatch) and its request counts, and the requests listed under a count (``!wdfrequest 0x...``). What a view
does not print stays unknown (None), never a default.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from parsers.enums import machine_of_state, value_of
from parsers.numbers import int_or_none

_HEX = r"(?:0x)?([0-9A-Fa-f`]{1,17})"
_DEVICE = re.compile(rf"^[#\s]*Dumping WDFDEVICE {_HEX}\s*$")
_DEVICE_QUEUES = re.compile(rf"^[#\s]*Dumping queues of WDFDEVICE {_HEX}\s*$")
_QUEUE = re.compile(rf"^[#\s]*Dumping WDFQUEUE {_HEX}\s*$")
_LISTED_QUEUE = re.compile(rf"^\s*Queue:\s*\d+\s*\(!wdfqueue {_HEX}\)\s*$", re.IGNORECASE)
_LISTED_DEVICE = re.compile(rf"^\s*!wdfdevice {_HEX}\b")  # a device in !wdfdriverinfo's list
_STATE_NAMES = re.compile(r"^\s*Pnp/Power State:\s*(WdfDevState\w+),\s*(WdfDevState\w+),\s*(WdfDevState\w+)\s*$")
_STATE = re.compile(r"^\s*(Pnp|Power|Power Pol) state:\s+(?:0x)?([0-9A-Fa-f]{1,8})\s+\(\s*(WdfDevState\w+)\s*\)\s*$")
_HISTORY_TITLE = re.compile(r"^\s*(Pnp|Power|Power policy) state history:\s*$")
_HISTORY_ENTRY = re.compile(r"^\s*\[\d+\]\s+(WdfDevState\w+)\s+\((?:0x)?([0-9A-Fa-f]{1,8})\)\s*$")
_SUMMARY = re.compile(r"^\s*(Sequential|Parallel|Manual),\s*(Power-managed|Not power-managed),\s*(\w+),\s*"
                      r"(Can accept|Cannot accept),\s*(Can dispatch|Cannot dispatch)\b")
_COUNT = re.compile(r"^\s*Number of (driver owned|waiting) requests:\s*(\d{1,9})\s*$")
_REQUEST = re.compile(rf"!wdfrequest {_HEX}(?:\s+!irp {_HEX})?", re.IGNORECASE)
_MACHINE = {"Pnp": "pnp", "Power": "power", "Power Pol": "pwrpol", "Power policy": "pwrpol"}
_DISPATCH = {"Sequential": 1, "Parallel": 2, "Manual": 3}
_LISTS = {"driver owned": "m_DriverOwned", "waiting": "m_Queue"}
_MAX_OBJECTS = 10_000  # devices and queues kept from one paste (bounds a hostile one)
_MAX_HISTORY = 64
_MAX_LISTED = 4096  # requests kept per list


@dataclass
class ViewedDevice:
    """A device as a pasted view shows it: states (machine -> WDF_DEVICE_*_STATE value) and their histories."""

    handle: int
    states: dict[str, int] = field(default_factory=dict)
    histories: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class ViewedQueue:
    """A queue as a pasted view shows it (None: not printed). ``power_state`` is an FXIOQUEUE_POWER_STATE value;
    ``counts`` and ``requests`` are per list (``m_DriverOwned``, ``m_Queue``); requests as (handle, IRP)."""

    handle: int
    device: int | None = None
    dispatch_type: int | None = None
    power_managed: bool | None = None
    power_state: int | None = None
    can_accept: bool | None = None
    can_dispatch: bool | None = None
    counts: dict[str, int] = field(default_factory=dict)
    requests: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict)


def _handle(text: str) -> int | None:
    return int_or_none(text.replace("`", ""), 16)


class ObjectViewReader:
    """Reads pasted object views line by line; :attr:`devices` and :attr:`queues` are what they showed, in the
    order the paste first showed them (a device or queue shown twice is one object, its later view filling in)."""

    def __init__(self) -> None:
        self.devices: dict[int, ViewedDevice] = {}
        self.queues: dict[int, ViewedQueue] = {}
        self._device: ViewedDevice | None = None  # the device whose view is being read
        self._queue: ViewedQueue | None = None
        self._owner: int | None = None  # the device of a !wdfdevicequeues list
        self._history: str | None = None  # the machine whose history lines follow
        self._parent = False  # inside "Parent states:" (another device's states)
        self._list: str | None = None  # the list whose requests follow a count line

    def feed(self, line: str) -> None:
        """Read one line."""
        if not line.strip():
            self._parent = False  # (the parent's states end at a blank line)
            return
        if "WDF" not in line and "wdf" not in line and "state" not in line and "Queue" not in line and \
                "request" not in line and "[" not in line and "," not in line:
            return
        if (m := _DEVICE.match(line) or _LISTED_DEVICE.match(line)) is not None:
            self._device, self._queue, self._owner, self._parent = self._device_of(m.group(1)), None, None, False
            self._history = None
        elif (m := _DEVICE_QUEUES.match(line)) is not None:
            self._device, self._queue, self._owner = None, None, _handle(m.group(1))
        elif (m := _QUEUE.match(line) or _LISTED_QUEUE.match(line)) is not None:
            self._queue = self._queue_of(m.group(1), self._owner if _LISTED_QUEUE.match(line) else None)
            self._device, self._list = None, None
        elif self._device is not None:
            self._device_line(self._device, line)
        elif self._queue is not None:
            self._queue_line(self._queue, line)

    def shown(self) -> list:
        """The devices whose states and the queues whose summary or counts the views printed."""
        return [d for d in self.devices.values() if d.states] + \
            [q for q in self.queues.values() if q.power_state is not None or q.counts]

    def _device_of(self, text: str) -> ViewedDevice | None:
        handle = _handle(text)
        if handle is None or (handle not in self.devices and len(self.devices) >= _MAX_OBJECTS):
            return None
        return self.devices.setdefault(handle, ViewedDevice(handle))

    def _queue_of(self, text: str, device: int | None) -> ViewedQueue | None:
        handle = _handle(text)
        if handle is None or (handle not in self.queues and len(self.queues) >= _MAX_OBJECTS):
            return None
        queue = self.queues.setdefault(handle, ViewedQueue(handle))
        queue.device = device if device is not None else queue.device
        return queue

    def _device_line(self, device: ViewedDevice, line: str) -> None:
        if line.strip().startswith("Parent"):
            self._parent = True
            return
        if (m := _STATE_NAMES.match(line)) is not None:
            for name in m.groups():
                value = value_of(name)
                if value is not None and machine_of_state(value) is not None:
                    device.states[machine_of_state(value)] = value
            return
        if (m := _STATE.match(line)) is not None:
            value = int(m.group(2), 16)
            if not self._parent and machine_of_state(value) == _MACHINE[m.group(1)]:
                device.states[_MACHINE[m.group(1)]] = value
            return
        if (m := _HISTORY_TITLE.match(line)) is not None:
            self._history = _MACHINE[m.group(1)]
            device.histories[self._history] = []
        elif self._history is not None and (m := _HISTORY_ENTRY.match(line)) is not None:
            value = int(m.group(2), 16)
            history = device.histories.setdefault(self._history, [])
            if machine_of_state(value) == self._history and len(history) < _MAX_HISTORY:
                history.append(value)

    def _queue_line(self, queue: ViewedQueue, line: str) -> None:
        if (m := _SUMMARY.match(line)) is not None:
            dispatch, managed, power, accept, dispatching = m.groups()
            queue.dispatch_type = _DISPATCH[dispatch]
            queue.power_managed = managed == "Power-managed"
            queue.power_state = value_of(f"FxIoQueue{power}")
            queue.can_accept, queue.can_dispatch = accept == "Can accept", dispatching == "Can dispatch"
        elif (m := _COUNT.match(line)) is not None:
            self._list = _LISTS[m.group(1)]
            queue.counts[self._list] = int(m.group(2))
        elif self._list is not None and (m := _REQUEST.search(line)) is not None:
            handle = _handle(m.group(1))
            listed = queue.requests.setdefault(self._list, [])
            if handle is not None and len(listed) < _MAX_LISTED:
                listed.append((handle, _handle(m.group(2)) if m.group(2) else None))
