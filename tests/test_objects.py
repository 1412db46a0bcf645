"""Object views over the sample snapshot (the evtiostop-not-acked scenario's objects laid out from the
clang-built PDB): offline, through the fake pykd, capture -> triage, layouts from each source, bad memory."""
from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from analyzer import debugger
from analyzer.cli import main
from analyzer.object_views import run_view
from analyzer.objects.commands import ObjectTarget, walk_all
from analyzer.objects.findings import object_findings
from analyzer.objects.layout import Layout, resolve_layout
from analyzer.objects.walk import Walker, to_handle
from paths import SAMPLES
from parsers.enums import value_of
from parsers.memory import ImageMemory
from parsers.pdb_types import profile_from_pdb
from parsers.snapshot import read_snapshot

sys.path.insert(0, str(Path(__file__).parent / "fakes"))
import pykd  # noqa: E402  (the fake)

SNAPSHOT = SAMPLES / "objects" / "evtiostop-not-acked.wdfsnap"
PDB = SAMPLES / "objects" / "wdf_objects.pdb"
DEVICE, QUEUE, REQUEST = 0x3CF5E4D3FD58, 0x3CF5E4D3F818, 0x3CF5E4D3E5B8


def _cli(*args) -> str:
    done = CliRunner().invoke(main, [str(a) for a in args])
    assert done.exit_code == 0, done.output
    return done.output


def test_devicequeues_shows_the_stuck_queue_and_its_unacknowledged_request():
    text = _cli("devicequeues", SNAPSHOT, f"{DEVICE:x}")
    assert f"Queue: 1 (!wdfqueue 0x{QUEUE:x})" in text
    assert "Sequential, Power-managed, PowerStoppingDriverNotified, Can accept, Can dispatch" in text
    assert "EvtIoStop called, not acknowledged or completed (m_PowerDriverNotified): 1" in text
    assert f"!wdfrequest 0x{REQUEST:x}  IRP 0xffffc30a1b304000  presented: yes  EvtIoStop: not acknowledged" in text
    assert "unavailable" not in text


def test_device_histories_are_the_logs_last_eight_transitions():
    text = _cli("device", SNAPSHOT, f"{DEVICE:x}")
    log = _cli("logdump", SAMPLES / "scenarios" / "evtiostop-not-acked.ifr", "--tmf", SAMPLES / "tmf")
    entered = [line.split("entering Power State ")[1].split(" from")[0] for line in log.splitlines()
               if "entering Power State" in line]
    history = next(line for line in text.splitlines()[text.splitlines().index("  Power state: WdfDevStatePowerGotoDx"):]
                   if "history" in line)
    assert history.split(": ", 1)[1].split(", ") == (["WdfDevStatePowerObjectCreated"] + entered)[-8:]


def _fake_over_snapshot():
    snap = read_snapshot(SNAPSHOT)
    pykd.output.clear()
    pykd.memory, pykd.symbols = snap.memory, dict(snap.memory.symbols)
    pykd.bugcheck = (snap.bugcheck.code, *snap.bugcheck.parameters)
    return pykd


@pytest.mark.parametrize("view, handle", [("driverinfo", None), ("devicequeues", DEVICE), ("device", DEVICE),
                                          ("queue", QUEUE), ("request", REQUEST), ("handle", DEVICE)])
def test_the_debugger_prints_what_the_command_line_prints(view, handle):
    fake = _fake_over_snapshot()
    args = [view] + ([f"{handle:x}"] if handle else []) + ["--pdb", str(PDB)]
    assert debugger.run(args, fake) == 0
    offline = _cli(view, SNAPSHOT, *([f"{handle:x}"] if handle else []), "--pdb", PDB)
    assert "".join(fake.output) == offline


def test_capture_then_triage_reproduces_the_findings(tmp_path):
    fake = _fake_over_snapshot()
    out = tmp_path / "capture.wdfsnap"
    assert debugger.run(["capture", "-o", str(out), "--pdb", str(PDB)], fake) == 0
    assert "1 driver(s), 1 log(s)" in "".join(fake.output)
    result = json.loads(_cli("triage", out, "--tmf", SAMPLES / "tmf", "--json"))
    schema = json.loads(resources.files("reports").joinpath("schema/triage-result.v2.json").read_text())
    jsonschema.validate(result, schema)
    found = {(f["rule"], f["facts"].get("found_in")) for f in result["findings"]}
    assert ("WDF002", "log+objects") in found and ("WDF004", "log+objects") in found
    assert result["bugcheck"]["code"] in (0x9F, "0x9f")
    captured = read_snapshot(out)
    assert captured.objects["drivers"][0]["devices"][0]["queues"][0]["lists"]["m_PowerDriverNotified"] == [hex(REQUEST)]
    assert _cli("devicequeues", out, f"{DEVICE:x}") == _cli("devicequeues", SNAPSHOT, f"{DEVICE:x}")


def test_text_report_shows_the_object_view_a_finding_rests_on():
    text = _cli("triage", SNAPSHOT, "--tmf", SAMPLES / "tmf")
    wdf002 = text[text.index("WDF002"):text.index("SUGGESTED FIX", text.index("WDF002"))]
    assert "FOUND IN: log+objects" in wdf002 and "OBJECTS IN MEMORY:" in wdf002
    assert f"!wdfrequest 0x{REQUEST:x}" in wdf002


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_markdown_and_html_reports_show_the_object_view_too(fmt, tmp_path):
    out = tmp_path / f"report.{fmt}"
    _cli("report", SNAPSHOT, "--tmf", SAMPLES / "tmf", "--format", fmt, "-o", out)
    page = out.read_text(encoding="utf-8")
    assert "Objects in memory" in page and "found in: log+objects" in page
    assert f"!wdfrequest 0x{REQUEST:x}" in page


def test_g_wdftriageinfo_alone_gives_lists_but_not_power_state():
    """No PDB: the framework's offset tables give the request lists they cover; the rest is unavailable."""
    fake = _fake_over_snapshot()
    assert debugger.run(["queue", f"{QUEUE:x}"], fake) == 0
    text = "".join(fake.output)
    assert text.splitlines()[2].startswith("unavailable, unavailable, unavailable")
    assert "cancelled, driver not yet notified (m_Cancelled)" not in text  # walked (empty), so not unavailable
    assert "Number of waiting requests: 0" in text  # m_Queue: FxIrpQueue and IRP offsets are in the tables
    assert "EvtIoStop called, not acknowledged or completed (m_PowerDriverNotified): unavailable" in text
    assert "FxIoQueue.m_PowerState" in text.splitlines()[-1]


def test_layout_profile_equals_the_pdb(tmp_path):
    profile = tmp_path / "profile.json"
    _cli("layout", "extract", PDB, "-o", profile)
    fake = _fake_over_snapshot()
    assert debugger.run(["devicequeues", f"{DEVICE:x}", "--layout", str(profile)], fake) == 0
    assert "".join(fake.output) == _cli("devicequeues", SNAPSHOT, f"{DEVICE:x}", "--pdb", PDB)


def _walker_over(memory: ImageMemory) -> Walker:
    return Walker(memory, resolve_layout(memory, profile_from_pdb(PDB)))


def test_a_looping_request_list_stops_with_a_warning():
    snap = read_snapshot(SNAPSHOT)
    walker = _walker_over(snap.memory)
    queue = walker.object_of_handle(QUEUE)
    request = walker.object_of_handle(REQUEST)
    entry = request + walker.layout.offset("FxRequest", "m_OwnerListEntry2")
    base = max(b for b in snap.memory.regions if b <= entry)
    region = bytearray(snap.memory.regions[base])
    region[entry - base: entry - base + 8] = entry.to_bytes(8, "little")  # Flink to itself: the list never ends
    snap.memory.regions[base] = bytes(region)
    view = walker.queue(queue)
    assert [r.handle for r in view.lists["m_PowerDriverNotified"]] == [REQUEST]
    assert any("loops or is broken" in w for w in walker.warnings)


def test_handles_and_objects():
    walker = _walker_over(read_snapshot(SNAPSHOT).memory)
    device = walker.object_of_handle(DEVICE)
    assert device == 0xFFFFC30A1B2C02A0 and to_handle(device, 8) == DEVICE
    assert walker.object_type(device) == value_of("FX_TYPE_DEVICE")
    assert to_handle(0x8A1B02A0, 4) == 0x75E4FD58
    # FxHandleFlagIsOffset: the handle names a WDFOBJECT_OFFSET (USHORT) embedded 0x40 bytes into the object
    embedded = device + 0x40
    memory = ImageMemory({embedded: (0x40).to_bytes(2, "little")})
    assert Walker(memory, walker.layout).object_of_handle(to_handle(embedded, 8) | 1) == device


def test_wrong_handle_type_is_one_line_exit_2():
    done = CliRunner().invoke(main, ["queue", str(SNAPSHOT), f"{DEVICE:x}"])
    assert done.exit_code == 2 and "is a WDFDEVICE, not a WDFQUEUE" in done.output


def test_object_rules_on_a_removed_device():
    snap = read_snapshot(SNAPSHOT)
    target = ObjectTarget(snap.memory, resolve_layout(snap.memory, stored_profile=snap.layout), str(SNAPSHOT))
    drivers, walker = walk_all(target)
    rules = sorted(f.rule for f in object_findings(drivers, 0x9F))
    assert rules == ["WDF002", "WDF004"]
    device = walker.object_of_handle(DEVICE)
    state_at = device + walker.layout.offset("FxDevice", "m_CurrentPnpState")
    base = max(b for b in snap.memory.regions if b <= state_at)
    region = bytearray(snap.memory.regions[base])
    region[state_at - base: state_at - base + 4] = value_of("WdfDevStatePnpRemoved").to_bytes(4, "little")
    snap.memory.regions[base] = bytes(region)
    drivers, _ = walk_all(target)
    leaked = [f for f in object_findings(drivers) if f.rule == "WDF003"]
    assert [(f.request, f.facts["list"]) for f in leaked] == [(REQUEST, "m_PowerDriverNotified")]


def test_run_view_names_unreadable_memory_instead_of_inventing():
    memory = ImageMemory({}, 8)
    text = run_view("driverinfo", ObjectTarget(memory, resolve_layout(memory, profile_from_pdb(PDB)), "empty"))
    assert "No KMDF drivers found" in text


@pytest.mark.parametrize("seed", range(12))
def test_corrupt_object_memory_never_crashes_or_hangs(seed, tmp_path):
    """Seeded corruption of the sample's object bytes: every view and triage end in output or one error line."""
    import random

    from analyzer.object_views import VIEWS
    from analyzer.objects.commands import open_file
    from parsers.errors import WdfTriageError
    from parsers.snapshot import write_snapshot

    rng = random.Random(seed)
    snap = read_snapshot(SNAPSHOT)
    regions = {}
    for base, data in snap.memory.regions.items():
        data = bytearray(data)
        if base != 0xFFFFB30C4A2F1000:  # leave the IFR log alone: the object walk is under test
            for _ in range(len(data) // 16):
                at = rng.randrange(len(data))
                data[at] = rng.choice([0, 0xFF, rng.randrange(256)])
        regions[base] = bytes(data)
    path = tmp_path / "corrupt.wdfsnap"
    write_snapshot(path, regions, 8, symbols=snap.memory.symbols, bugcheck=snap.bugcheck, logs=snap.logs,
                   layout=snap.layout, objects={}, created_by="test")
    target = open_file(str(path))
    for view in VIEWS:
        handle = None if view == "driverinfo" else {"queue": QUEUE, "request": REQUEST}.get(view, DEVICE)
        try:
            assert isinstance(run_view(view, target, handle), str)
        except WdfTriageError as exc:
            assert exc.one_line()
    done = CliRunner().invoke(main, ["triage", str(path), "--tmf", str(SAMPLES / "tmf")])
    assert done.exit_code == 0, done.output


def test_pending_irps_lead_to_their_requests_through_the_csq_context():
    """A request waiting on the queue: its IRP is on m_Queue (Tail.Overlay.ListEntry) and DriverContext[3]
    points at the request's m_CsqContext."""
    from samples.objects.image import Memory

    snap = read_snapshot(SNAPSHOT)
    mem = Memory(profile_from_pdb(PDB))
    mem.regions = {base: bytearray(data) for base, data in snap.memory.regions.items()}
    queue = 0x3CF5E4D3F818 ^ ((1 << 64) - 8)
    irp, request = mem.place("_IRP", 0xFFFFC30A1B3A0000), mem.place("FxRequest", 0xFFFFC30A1B3A1000)
    mem.set(request, "FxObject", "m_Type", value_of("FX_TYPE_REQUEST"))
    mem.set(request, "FxRequest", "m_IoQueue", queue)
    mem.set(request, "FxRequest", "m_Irp.m_Irp", irp)
    mem.set(irp, "_IRP", "Tail.Overlay.DriverContext", request + mem.offset("FxRequest", "m_CsqContext"), 3)
    mem.link(queue + mem.offset("FxIoQueue", "m_Queue.m_Queue"), [irp + mem.offset("_IRP", "Tail.Overlay.ListEntry")])
    memory = ImageMemory({b: bytes(r) for b, r in mem.regions.items()}, 8, snap.memory.symbols)
    view = _walker_over(memory).queue(queue)
    assert [(r.handle, r.irp, r.list_name) for r in view.lists["m_Queue"]] == [(to_handle(request, 8), irp, "m_Queue")]
    text = run_view("queue", ObjectTarget(memory, resolve_layout(memory, profile_from_pdb(PDB)), "test"), QUEUE)
    assert "Number of waiting requests: 1" in text and "pending (queued, not yet presented) (m_Queue): 1" in text


def test_x86_objects_laid_out_from_the_x86_pdb():
    """The same objects on a 32-bit target: layouts from the i686 build of the same declarations, 4-byte
    pointers and handles (pointer ^ 0xFFFFFFF8), g_WdfTriageInfo tables of 4-byte pointers."""
    from types import SimpleNamespace

    from analyzer.objects.layout import WALKED_TYPES
    from samples import scenarios
    from samples.objects.image import object_regions, symbols_at

    profile = profile_from_pdb(SAMPLES / "objects" / "wdf_objects_x86.pdb", list(WALKED_TYPES))
    assert profile["pointer_size"] == 4 and profile["types"]["_IRP"]["fields"]["Tail.Overlay.ListEntry"]["offset"] == 0x58
    device, queue, request = 0x8A1B02A0, 0x8A1B07E0, 0x8A1B1A40
    handles = {k: to_handle(v, 4) for k, v in (("device", device), ("queue", queue), ("request", request))}
    scenario = SimpleNamespace(log=scenarios.evtiostop_not_acked().log,
                               expected=[{"rule": "WDF002", **{k: hex(v) for k, v in handles.items()}}])
    regions = object_regions(scenario, profile, globals_at=0x8A300000, log_header=0x8A2F1000, driver_name="wdfsample",
                             others=0x8A300000, wdf01000=0x82200000)
    memory = ImageMemory(regions, 4, symbols_at(0x82200000))
    target = ObjectTarget(memory, resolve_layout(memory, profile), "x86")
    text = run_view("devicequeues", target, None)
    assert f"Queue: 1 (!wdfqueue 0x{handles['queue']:x})" in text
    assert (f"!wdfrequest 0x{handles['request']:x}  IRP 0x8a304000  presented: yes  EvtIoStop: not acknowledged"
            in text)
    only_tables = ObjectTarget(memory, resolve_layout(memory), "x86")  # g_WdfTriageInfo alone, 4-byte pointers
    assert "Number of waiting requests: 0" in run_view("queue", only_tables, handles["queue"])
    drivers, _ = walk_all(target)
    assert sorted(f.rule for f in object_findings(drivers)) == ["WDF002", "WDF004"]


def test_logdump_by_driver_name_finds_the_log_through_the_driver_list():
    fake = _fake_over_snapshot()
    assert debugger.run(["logdump", "wdfsample", "--pdb", str(PDB), "--tmf", str(SAMPLES / "tmf")], fake) == 0
    offline = _cli("logdump", SAMPLES / "scenarios" / "evtiostop-not-acked.ifr", "--tmf", SAMPLES / "tmf")
    assert "".join(fake.output).splitlines()[1:] == offline.splitlines()[1:]
    fake.output.clear()
    assert debugger.run(["logdump", "otherdrv", "--pdb", str(PDB)], fake) == 2
    assert "".join(fake.output) == "wdftriage: error: debugger: no KMDF driver named 'otherdrv' (drivers: wdfsample)\n"


def test_an_unreadable_list_is_unavailable_not_empty():
    snap = read_snapshot(SNAPSHOT)
    queue = QUEUE ^ ((1 << 64) - 8)
    snap.memory.regions[queue] = snap.memory.regions[queue][:0x100]  # the tail of the queue object is not in memory
    target = ObjectTarget(snap.memory, resolve_layout(snap.memory, profile_from_pdb(PDB)), "partial")
    text = run_view("queue", target, QUEUE)
    assert "PowerStoppingDriverNotified" in text  # m_PowerState is in the readable part
    assert "EvtIoStop called, not acknowledged or completed (m_PowerDriverNotified): unavailable" in text
    assert "warning: unreadable:" in text


DUMP_9F = SAMPLES / "dumps" / "kmdf-9f-full.dmp"


def test_the_9f_dump_shows_the_stuck_queue_like_the_snapshot():
    """The full 0x9F sample dump holds the same objects (read through its page tables); the driver list comes
    from its WdfDumpGuid2 secondary data, the layouts from --pdb (a dump carries no symbols)."""
    text = _cli("devicequeues", DUMP_9F, f"{DEVICE:x}", "--pdb", PDB)
    assert text == _cli("devicequeues", SNAPSHOT, f"{DEVICE:x}")
    assert "Driver: hangdrv  (FX_DRIVER_GLOBALS 0xffffb30c49000000)" in _cli("driverinfo", DUMP_9F, "--pdb", PDB)
    result = json.loads(_cli("triage", DUMP_9F, "--pdb", PDB, "--tmf", SAMPLES / "tmf", "--json"))
    found = {(f["rule"], f["facts"].get("found_in")) for f in result["findings"]}
    assert ("WDF002", "log+objects") in found and ("WDF004", "log+objects") in found


def test_a_dump_without_layouts_is_one_line_exit_2():
    done = CliRunner().invoke(main, ["devicequeues", str(DUMP_9F)])
    assert done.exit_code == 2 and "a crash dump carries no symbols" in done.output


def test_the_debugger_over_the_dump_prints_what_the_command_line_prints():
    """The fake pykd reading the 0x9F dump's memory (as WinDbg would with the dump open)."""
    from parsers.dump import CrashDump

    with CrashDump(DUMP_9F) as dump:
        pykd.output.clear()
        pykd.memory, pykd.symbols, pykd.bugcheck = dump, {}, (0x9F, *dump.bugcheck.parameters)
        assert debugger.run(["devicequeues", f"{DEVICE:x}", "--pdb", str(PDB)], pykd) == 0
        assert "".join(pykd.output) == _cli("devicequeues", DUMP_9F, f"{DEVICE:x}", "--pdb", PDB)


def test_a_snapshot_without_logs_gives_objects_only_findings(tmp_path):
    from parsers.snapshot import write_snapshot

    snap = read_snapshot(SNAPSHOT)
    regions = {b: d for b, d in snap.memory.regions.items() if b != 0xFFFFB30C4A2F1000}  # no IFR log captured
    path = tmp_path / "nolog.wdfsnap"
    write_snapshot(path, regions, 8, symbols=snap.memory.symbols, bugcheck=snap.bugcheck, logs=[],
                   layout=snap.layout, objects=snap.objects, created_by="test")
    text = _cli("triage", path)
    wdf002 = text[text.index("WDF002"):]
    assert "FOUND IN: objects" in wdf002.split("SUGGESTED FIX")[0]
    assert f"WDFREQUEST 0x{REQUEST:x} on WDFQUEUE 0x{QUEUE:x} of WDFDEVICE 0x{DEVICE:x} sits on m_PowerDriverNotified" in text


def test_array_element_of_a_field_with_no_type_is_unknown():
    """A field known only by its offset (g_WdfTriageInfo gives no type, so no element count; fuzz class
    "TypeError @ analyzer/objects/layout.py:_array_count" on a mutated snapshot): an element's offset is
    unknown, the field's own offset still known."""
    layout = Layout()
    layout.add({"FxPkgPnp": {"size": None, "fields": {"m_PnpMachine.m_States.History": {
        "offset": 0x40, "size": 8, "type": None}}}}, "triage info")
    assert layout.offset("FxPkgPnp", "m_PnpMachine.m_States.History") == 0x40
    assert layout.offset("FxPkgPnp", "m_PnpMachine.m_States.History[3]") is None
