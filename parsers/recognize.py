"""Recognizing the framework's key IFR messages with no TMF, by payload shape, value ranges and context.

An IFR record carries only (message GUID, number) and raw argument bytes; without Wdf01000.pdb nothing
says what it means. But the messages that matter have shapes of their own: a state transition is two
pointers and two 32-bit values inside one state machine's enum range; a queue power transition is a
pointer and a value in 1..12; a completion is two pointers, a 64-bit and a 32-bit value. Those are
recognized first, which tells which handles are devices and queues and what power state each queue
is in; the messages of identical shape (two handles, one handle) are then told apart by that context.
A (GUID, number) pair is claimed only when every record of it fits the same message; everything else
stays unknown. The learned map is saved per GUID (``--tmf-cache``) and reused. Every recognized
message is marked ``inferred``.
"""
from __future__ import annotations

import json
import struct
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from parsers import enums, messages
from parsers.catalog import Catalog, CatalogEntry, load, render_entry
from parsers.errors import EvidenceError, EvidenceWarning
from parsers.jsondoc import parse_json
from parsers.ifr import IfrLog, IfrRecord
from parsers.numbers import int_or_none

STATE_FORMATS = messages.state_formats()
_SMALL = {machine: messages.by_name(f"state.{machine}").enums()[0] for machine in ("idle", "selfio", "wakeint", "pwrreq")}
QUEUE_STATE = messages.fmt("queue.power_state")
PERFORM = messages.fmt("device.queues_power_action")
RESUME_ALL = messages.fmt("device.queues_resume")
COMPLETE = messages.fmt("request.completing_irp")
ACK = messages.fmt("request.acknowledging")
QUEUING = messages.fmt("request.queuing")
WAITING_COUNT = messages.fmt("queue.waiting_count")
NOTIFY = {"StoppingNotifyingDriver": messages.fmt("queue.notify_stop"),
          "PurgeNotifyingDriver": messages.fmt("queue.notify_purge"),
          "RestartingNotifyingDriver": messages.fmt("queue.notify_resume")}
WITH_IN_FLIGHT = messages.fmt("queue.stop_with_in_flight")
WITHOUT_IN_FLIGHT = messages.fmt("queue.stop_without_in_flight")
PURGE_WITH = messages.fmt("queue.purge_with_in_flight")
PURGE_WITHOUT = messages.fmt("queue.purge_without_in_flight")
WAITING_DRIVER = messages.fmt("queue.waiting_driver")
POWERED_OFF = messages.fmt("queue.powered_off")
POWERED_ON = messages.fmt("queue.powered_on")
_NOT_OWNER_ONLY = {"WdfDevStatePwrPolGotoDx", "WdfDevStatePwrPolGotoDxInDx", "WdfDevStatePwrPolDx",
                   "WdfDevStatePwrPolGotoD0", "WdfDevStatePwrPolGotoD0InD0"}


@dataclass(frozen=True)
class Recognition:
    """What one (GUID, number) pair was recognized as, and why. ``general`` marks the general form of a
    family of messages that share the payload and differ only in trailing words (the dropped-event
    reasons): the text is true but says less than the exact message would."""

    entry_id: str
    format: str
    reason: str
    general: bool = False


class RecognitionMap:
    """(GUID, number) -> Recognition, savable per GUID as ``<guid>.json``."""

    def __init__(self) -> None:
        self.pairs: dict[tuple[uuid.UUID, int], Recognition] = {}
        self.warnings: list[EvidenceWarning] = []  # what :meth:`load` skipped

    def get(self, guid: uuid.UUID, number: int) -> Recognition | None:
        return self.pairs.get((guid, number))

    def save(self, directory: str | Path) -> None:
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        by_guid: dict[uuid.UUID, dict] = defaultdict(dict)
        for (guid, number), r in self.pairs.items():
            by_guid[guid][str(number)] = {"entry": r.entry_id, "format": r.format, "reason": r.reason,
                                          "general": r.general}
        for guid, numbers in by_guid.items():
            (out / f"{guid}.json").write_text(json.dumps(numbers, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path, catalog: Catalog | None = None) -> "RecognitionMap":
        """The maps saved in ``directory``. A file that is not a map of ours (not named after a GUID, not a
        JSON object of message number -> recognition naming a catalog message) is skipped with a warning
        in ``warnings``; so is each entry that does not check out."""
        catalog = catalog or load()
        rmap = cls()
        for path in sorted(Path(directory).glob("*.json")):
            problem = rmap._load_file(path, catalog)
            if problem:
                rmap.warnings.append(EvidenceWarning(str(path), f"recognition cache {problem}; ignored"))
        return rmap

    def _load_file(self, path: Path, catalog: Catalog) -> str | None:
        """Add one cache file's entries; what is wrong with it, None when nothing is."""
        try:
            guid = uuid.UUID(path.stem)
        except ValueError:
            return "file not named <guid>.json"
        try:
            if path.stat().st_size > MAX_CACHE_BYTES:
                return f"file larger than {MAX_CACHE_BYTES} bytes"
            document = parse_json(path.read_bytes(), str(path), "file")
        except OSError as exc:
            return f"not readable ({exc.strerror or exc})"
        except EvidenceError as exc:
            return exc.message
        if not isinstance(document, dict):
            return f"top level is a JSON {type(document).__name__}, not an object"
        bad = 0
        for number, r in document.items():
            recognition = _checked(number, r, catalog)
            if recognition is None:
                bad += 1
            else:
                self.pairs[(guid, recognition[0])] = recognition[1]
        return f"{bad} of {len(document)} entries do not name a catalog message" if bad else None


MAX_CACHE_BYTES = 16 * 1024 * 1024


def _checked(number: str, r, catalog: Catalog) -> tuple[int, Recognition] | None:
    """(message number, Recognition) of one cache entry, None unless every field checks out: a USHORT
    number, a catalog entry id, that entry's exact format, a reason string, a boolean ``general``."""
    value = int_or_none(number, bits=16)
    if value is None or not isinstance(r, dict):
        return None
    entry_id, fmt, reason, general = r.get("entry"), r.get("format"), r.get("reason"), r.get("general", False)
    entry = catalog.by_id.get(entry_id) if isinstance(entry_id, str) else None
    if entry is None or fmt != entry.format or not isinstance(reason, str) or not isinstance(general, bool):
        return None
    return value, Recognition(entry_id, fmt, reason, general)


def _layout(entry: CatalogEntry) -> list[str]:
    """Per argument: 'ptr', 'u32', 'u64' or 'str' (the WPP encoding of each printf/WPP hole)."""
    out = []
    for hole in entry.holes:
        if hole == "p":
            out.append("ptr")
        elif hole.startswith("I64"):
            out.append("u64")
        elif hole in ("s",):
            out.append("str")
        else:
            out.append("u32")
    return out


def decode(entry: CatalogEntry, payload: bytes, pointer_size: int) -> tuple | None:
    """Argument values (enum names for enum holes) if ``payload`` has exactly this entry's shape."""
    values, pos = [], 0
    for hole, kind in zip(entry.holes, _layout(entry)):
        if kind == "str":
            end = payload.find(b"\0", pos)
            if end < 0:
                return None
            values.append(payload[pos:end].decode("latin-1"))
            pos = end + 1
            continue
        size = {"ptr": pointer_size, "u32": 4, "u64": 8}[kind]
        if pos + size > len(payload):
            return None
        value = int.from_bytes(payload[pos:pos + size], "little")
        pos += size
        if kind == "u32" and hole not in ("d", "u", "x", "X", "STATUS"):
            name = enums.name_of(hole, value)
            if name is None:
                return None
            value = name
        values.append(value)
    if len(payload) - pos > 3 or any(payload[pos:]):
        return None  # only the writer's padding may follow
    return tuple(values)


class _Learner:
    def __init__(self, log: IfrLog, catalog: Catalog, unknown: list[IfrRecord]):
        self.catalog = catalog
        self.ptr = 8 if log.header.arch == "x64" else 4
        self.by_format = {}
        for e in catalog.entries:
            self.by_format.setdefault(e.format, e)
        self.groups: dict[tuple, list[IfrRecord]] = defaultdict(list)
        for r in unknown:
            self.groups[(r.message_guid, r.message_number)].append(r)
        self.found: dict[tuple, Recognition] = {}
        self.values: dict[int, tuple] = {}  # record sequence -> decoded args of its recognized message

    def claim(self, key, fmt: str, reason: str, general: bool = False) -> bool:
        entry = self.by_format[fmt]
        decoded = [decode(entry, r.payload, self.ptr) for r in self.groups[key]]
        if any(d is None for d in decoded):
            return False
        self.found[key] = Recognition(entry.id, fmt, reason, general)
        for r, d in zip(self.groups[key], decoded):
            self.values[r.sequence] = d
        return True

    def handles(self, fmt: str, position: int) -> set[int]:
        """The values at ``position`` of every record recognized as ``fmt`` (e.g. the devices)."""
        return {self.values[r.sequence][position] for key, recs in self.groups.items()
                if key in self.found and self.found[key].format == fmt for r in recs}


def _state_machine(values: list[tuple]) -> str | None:
    """The one state machine all (state, state) pairs belong to, by enum membership."""
    names = [v for pair in values for v in pair]
    for machine, enum in (("pnp", "WDF_DEVICE_PNP_STATE"), ("power", "WDF_DEVICE_POWER_STATE"),
                          ("pwrpol", "WDF_DEVICE_POWER_POLICY_STATE")):
        members = set(enums.tables()[enum].values())
        if all(n in members or (n.endswith("NP") and n[:-2] in members) for n in names):
            if machine == "pwrpol" and any(n in _NOT_OWNER_ONLY for n in names):
                return "notpwrpolowner"
            return machine
    return None


def learn(log: IfrLog, unknown: list[IfrRecord], catalog: Catalog | None = None,
          known: RecognitionMap | None = None) -> RecognitionMap:
    """Recognize the (GUID, number) pairs of ``unknown`` records; ``known`` pairs are kept as they are."""
    catalog = catalog or load()
    learner = _Learner(log, catalog, unknown)
    log.warnings += known.warnings if known else []
    for key, recognition in (known.pairs.items() if known else ()):
        if key in learner.groups:  # what an earlier log taught is context for this one
            learner.claim(key, recognition.format, recognition.reason, recognition.general)
    ptr = learner.ptr
    # 1. state transitions: two pointers + two 32-bit values of one machine's enum, all records alike
    for key, records in list(learner.groups.items()):
        if key in learner.found or any(len(r.payload) != 2 * ptr + 8 for r in records):
            continue
        pairs = []
        for r in records:
            a, b = struct.unpack_from("<II", r.payload, 2 * ptr)
            pairs.append((a, b))
        names = [(_any_state(a), _any_state(b)) for a, b in pairs]
        if any(None in n for n in names):
            continue
        machine = _state_machine(names)
        if machine is not None:
            learner.claim(key, STATE_FORMATS[machine], f"2 pointers + 2 {machine} states in every record")
    devices = learner.handles(STATE_FORMATS["pnp"], 0) | learner.handles(STATE_FORMATS["power"], 0) | \
        learner.handles(STATE_FORMATS["pwrpol"], 0)
    _small_machines(learner, devices)
    # 2. distinctive shapes
    for key, records in list(learner.groups.items()):
        if key in learner.found:
            continue
        for fmt, reason in ((COMPLETE, "2 pointers + 64-bit information + NTSTATUS"),
                            (ACK, "2 handles + 'with'/'without' requeue string"),
                            (QUEUE_STATE, "handle + FxIoQueuePowerState value"),
                            (PERFORM, "FxIoStopProcessingForPowerAction value + a known WDFDEVICE")):
            entry = learner.by_format[fmt]
            decoded = [decode(entry, r.payload, ptr) for r in records]
            if any(d is None for d in decoded):
                continue
            if fmt == ACK and any(d[2] not in ("with", "without") for d in decoded):
                continue
            if fmt == QUEUE_STATE and any(d[0] in devices for d in decoded):
                continue
            if fmt == PERFORM and any(d[1] not in devices for d in decoded):
                continue
            if fmt == COMPLETE and any(not d[0] or not is_kernel_address(d[1], ptr) for d in decoded):
                continue
            learner.claim(key, fmt, reason)
            break
    queues = learner.handles(QUEUE_STATE, 0)
    _context(learner, devices, queues)
    _dropped_events(learner)
    _by_numbering(learner)
    rmap = RecognitionMap()
    rmap.pairs.update(known.pairs if known else {})
    rmap.pairs.update(learner.found)
    return rmap


def _small_machines(learner: _Learner, devices: set[int]) -> None:
    """Idle / self-managed I/O / wake-interrupt / power-requirement transitions have small enum values
    that overlap; a pair is claimed for a machine only when its values are all that machine's states,
    its device is a known WDFDEVICE, and every record's 'from' state is the previous record's 'to'
    state for that device, for exactly one machine."""
    ptr = learner.ptr
    for key, records in list(learner.groups.items()):
        if key in learner.found or any(len(r.payload) != 2 * ptr + 8 for r in records):
            continue
        fits = []
        for machine, enum in _SMALL.items():
            names = enums.tables()[enum]
            last: dict[int, int] = {}
            ok = True
            for r in records:
                device = int.from_bytes(r.payload[:ptr], "little")
                new, old = struct.unpack_from("<II", r.payload, 2 * ptr)
                if device not in devices or new not in names or old not in names or last.get(device, old) != old:
                    ok = False
                    break
                last[device] = new
            if ok:
                fits.append(machine)
        if len(fits) == 1:
            learner.claim(key, STATE_FORMATS[fits[0]], f"2 pointers + chained {fits[0]} states of a known WDFDEVICE")


def is_kernel_address(value: int, pointer_size: int) -> bool:
    """A system-space address (an IRP, a DEVICE_OBJECT): the canonical upper half on x64, 2 GiB and up
    on x86. WDF handles are complemented object addresses and so never look like one."""
    if pointer_size == 8:
        return value >> 47 == 0x1FFFF
    return value >= 0x80000000


def _any_state(value: int) -> str | None:
    for enum in ("WDF_DEVICE_PNP_STATE", "WDF_DEVICE_POWER_STATE", "WDF_DEVICE_POWER_POLICY_STATE"):
        name = enums.name_of(enum, value)
        if name:
            return name
    return None


def _context(learner: _Learner, devices: set[int], queues: set[int]) -> None:
    """Two-handle and one-handle messages, told apart by the roles of their handles and queue states."""
    ptr = learner.ptr
    timeline = sorted(((r.sequence, r) for recs in learner.groups.values() for r in recs), key=lambda x: x[0])
    queue_state: dict[int, str] = {}
    proposals: dict[tuple, set[str]] = defaultdict(set)
    seen_handles: set[int] = set()
    windows: dict[int, list[IfrRecord]] = defaultdict(list)  # queue -> single-handle records since its last state
    for seq, r in timeline:
        key = (r.message_guid, r.message_number)
        rec = learner.found.get(key)
        if rec is not None and rec.format == QUEUE_STATE:
            queue, state = learner.values[seq]
            state = state.replace("FxIoQueuePower", "")
            _close_window(windows.pop(queue, []), queue_state.get(queue), state, proposals)
            queue_state[queue] = state
            continue
        if rec is not None:
            seen_handles.update(v for v in learner.values[seq] if isinstance(v, int))
            continue
        if len(r.payload) == 2 * ptr:
            a, b = struct.unpack_from("<QQ" if ptr == 8 else "<II", r.payload)
            if a in queues and b not in queues | devices and queue_state.get(a) in NOTIFY:
                proposals[key].add(NOTIFY[queue_state[a]])
            elif b in queues and a not in queues | devices and a not in seen_handles:
                proposals[key].add(QUEUING)
            else:
                proposals[key].add("?")
            seen_handles.update((a, b))
        elif len(r.payload) == ptr:
            (a,) = struct.unpack_from("<Q" if ptr == 8 else "<I", r.payload)
            if a in queues:
                windows[a].append(r)
            elif a in devices:
                proposals[key].add("device?")
            else:
                proposals[key].add("?")
        elif len(r.payload) == 4 + ptr:
            count, queue = struct.unpack_from("<IQ" if ptr == 8 else "<II", r.payload)
            proposals[key].add(WAITING_COUNT if queue in queues else "?")
    for queue, records in windows.items():
        _close_window(records, queue_state.get(queue), None, proposals)
    _device_messages(learner, proposals)
    for key, fmts in proposals.items():
        if len(fmts) == 1 and key not in learner.found:
            (fmt,) = fmts
            if fmt in learner.by_format:
                learner.claim(key, fmt, "handle roles and queue power state around every record")


def _dropped_events(learner: _Learner) -> None:
    """'WDFDEVICE D !devobj O current <machine> state S dropping event E [because ...]': two pointers and
    two 32-bit values, like a transition, but D/O is a known device and its device object, S is the state
    that machine of D is in at that moment (from the recognized transitions) and E one of the machine's
    events. The variants (full queue, closed queue, not handled, already enqueued) share this payload and
    differ only in trailing words, so a pair is claimed as the general form, marked ``general``."""
    ptr = learner.ptr
    current: dict[tuple[int, str], str] = {}  # (device, machine) -> state it is in
    devobjs: set[tuple[int, int]] = set()
    fits: dict[tuple, set[str]] = defaultdict(set)
    machine_of = {STATE_FORMATS[m]: m for m in _DROPPED}
    layout = "<QQII" if ptr == 8 else "<IIII"
    for r in sorted((r for recs in learner.groups.values() for r in recs), key=lambda r: r.sequence):
        key = (r.message_guid, r.message_number)
        found = learner.found.get(key)
        if found is not None and found.format in machine_of:
            device, devobj, state, _ = learner.values[r.sequence]
            current[(device, machine_of[found.format])] = state
            devobjs.add((device, devobj))
            continue
        if found is not None or len(r.payload) != 2 * ptr + 8:
            continue
        device, devobj, state, event = struct.unpack(layout, r.payload)
        matches = {m for m, (state_enum, event_enum, _) in _DROPPED.items()
                   if (device, devobj) in devobjs and current.get((device, m)) == enums.name_of(state_enum, state)
                   and enums.name_of(event_enum, event) is not None}
        fits[key].add(next(iter(matches)) if len(matches) == 1 else "?")
    for key, machines in fits.items():
        if len(machines) == 1 and "?" not in machines:
            (machine,) = machines
            learner.claim(key, _DROPPED[machine][2], f"a known WDFDEVICE, its {machine} machine's current state and "
                          f"one of its events (general form: the reason is not in the payload)", general=True)


_DROPPED = {  # machine -> (state enum, event enum, general dropped-event format: the "not handled" variant)
    machine: (*messages.by_name(f"dropped.{machine}").enums()[:2], messages.fmt(f"dropped.{machine}"))
    for machine in ("pnp", "power", "pwrpol")}


def _window_formats(before: str | None, after: str | None, n: int) -> list[str]:
    """Formats of the n single-queue-handle records logged between two queue power states (in order),
    following the order the framework logs them in a stop, purge or resume; '?' where it is ambiguous."""
    driver_notified = before in ("StoppingDriverNotified", "PurgeDriverNotified")
    if before == "Stopping" and after == "StoppingNotifyingDriver" and n == 1:
        return [WITH_IN_FLIGHT]
    if before == "Purge" and after == "PurgeNotifyingDriver" and n == 1:
        return [PURGE_WITH]
    if before in ("Stopping", "Purge") and after == "Off" and n == 2:
        return [WITHOUT_IN_FLIGHT if before == "Stopping" else PURGE_WITHOUT, POWERED_OFF]
    if driver_notified and after == "Off" and n == 2:
        return [WAITING_DRIVER, POWERED_OFF]
    if driver_notified and after is None and n == 1:
        return [WAITING_DRIVER]
    if before == "Restarting" and after == "On" and n == 1:
        return [POWERED_ON]
    return ["?"] * n


def _close_window(records: list[IfrRecord], before: str | None, after: str | None, proposals) -> None:
    """Label the single-queue-handle records between two queue power states."""
    for r, fmt in zip(records, _window_formats(before, after, len(records))):
        proposals[(r.message_guid, r.message_number)].add(fmt)


def _device_messages(learner: _Learner, proposals) -> None:
    """A device-handle message right before its queues go to Restarting is 'Power resume all queues'."""
    ordered = sorted((r for recs in learner.groups.values() for r in recs), key=lambda r: r.sequence)
    for i, r in enumerate(ordered):
        key = (r.message_guid, r.message_number)
        if "device?" not in proposals.get(key, ()):
            continue
        nxt = next((o for o in ordered[i + 1:] if learner.found.get((o.message_guid, o.message_number)) is not None
                    and learner.found[(o.message_guid, o.message_number)].format == QUEUE_STATE), None)
        ok = nxt is not None and learner.values[nxt.sequence][1] == "FxIoQueuePowerRestarting"
        proposals[key].discard("device?")
        proposals[key].add(RESUME_ALL if ok else "?")


def _by_numbering(learner: _Learner) -> None:
    """tracewpp numbers a source file's messages from 10 in line order, one GUID per file. Where every
    message already recognized under a GUID sits at the same offset between its number and its rank
    among the file's call sites (the build matches the catalog's source), the numbers between the first
    and the last of those anchors name their call sites too. Only between: a call site added or removed
    before the first anchor or after the last would shift the numbers there unnoticed. A GUID whose
    anchors disagree (another framework build) is left alone."""
    catalog = learner.catalog
    offsets: dict[uuid.UUID, set] = defaultdict(set)
    spans: dict[uuid.UUID, list[int]] = defaultdict(list)
    for (guid, number), found in learner.found.items():
        file = found.entry_id.split(":")[0]
        sites = [e.id for e in catalog.sites_in_file(file)]
        offsets[guid].add((file, number - sites.index(found.entry_id)) if found.entry_id in sites else None)
        spans[guid].append(number)
    for key in [k for k in learner.groups if k not in learner.found]:
        anchors = offsets.get(key[0], set())
        if len(anchors) != 1 or None in anchors or not min(spans[key[0]]) < key[1] < max(spans[key[0]]):
            continue
        ((file, offset),) = anchors
        sites = catalog.sites_in_file(file)
        learner.claim(key, sites[key[1] - offset].format,
                      f"numbered in line order of {file}, between recognized messages of it that agree")


def recognized_text(recognition: Recognition, values: tuple, pointer_size: int, catalog: Catalog | None = None) -> str:
    """The message text as wdfkd would print it."""
    catalog = catalog or load()
    return render_entry(catalog.entry(recognition.entry_id), values, pointer_size)
