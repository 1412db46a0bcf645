"""The sample kernel crash dumps and their ground truth (written by ``python -m samples.generate``).

samples/dumps/kmdf-9f-full.dmp       full dump, DRIVER_POWER_STATE_FAILURE (0x9F): three KMDF drivers' logs in
                                     pool (the blamed one 4 pages, scattered out of order; one wrapped), the
                                     blamed driver's secondary-data copy, the driver list, a decoy page and a
                                     stale unmapped copy of a header
samples/dumps/kmdf-10d-bitmap.dmp    bitmap kernel dump (SDMP), WDF_VIOLATION (0x10D) whose parameter 4 is the
                                     guilty driver's FX_DRIVER_GLOBALS; two drivers' logs, the driver list, a decoy
samples/dumps/<name>.truth.json      what a reader must find: bugcheck, drivers, each log's address, physical
                                     pages and surviving record sequence numbers
samples/dumps/evtiostop-9f.dmp       a small memory dump (DumpType 4): header, then the secondary data stream
                                     holding the blamed driver's log (flat-scan path)

Every log is a KMDF behaviour-model log (samples/kmdf_model.py) written by samples/ifr_writer.py; each driver
gets its own handle range so no two drivers share a handle.
"""
from __future__ import annotations

import json
import struct
from typing import Callable

from parsers.dump import DRIVER_INFO_X64
from parsers.dumpformat import PAGE
from parsers.ifr import WDF_DUMP_GUID, WDF_DUMP_GUID2, WDF_TRACE_GUID
from samples import scenarios
from samples.dump_writer import DumpImage, DumpSpec, blob_stream, dump_bytes, header_bytes
from samples.kmdf_model import Device, Handles, Log, Request
from samples.tmf_writer import SampleTmf

FRAMEWORK = ("Wdf01000", (1, 31, 19041))
POOL = 0xFFFFB30C4A000000  # non-paged pool addresses of the logs
GLOBALS = 0xFFFFB30C49000000  # FX_DRIVER_GLOBALS of each driver (one page apart)


def _handles(base: int) -> Handles:
    h = Handles()
    h.next = base
    return h


def busy_log(base: int, requests: int = 40) -> Log:
    """A started device completing ``requests`` requests (wraps a one-page log)."""
    log, h = Log(), _handles(base)
    d = Device(log, h.handle(), h.pointer(), h.handle())
    d.add_and_start()
    for i in range(requests):
        r = Request(h.handle(), h.pointer(), ("EvtIoRead", "EvtIoWrite", "EvtIoDeviceControl")[i % 3])
        d.arrive(r)
        d.complete(r)
    return log


def _driver_info(entries: list[tuple[str, tuple[int, int, int], int]]) -> bytes:
    return b"".join(DRIVER_INFO_X64.build(dict(FxDriverGlobals=g, Version=list(v), DriverName=n.encode().ljust(32, b"\0")))
                    for n, v, g in entries)


def _decoy() -> bytes:
    """A page that starts with WdfTraceGuid but is no header: Size and Base hold no log's values."""
    return WDF_TRACE_GUID.bytes_le + struct.pack("<QI", 0x4141414141414141, 0x0BADF00D) + bytes(range(256)) * 15


def build_image(kind: str, bugcheck: tuple[int, tuple[int, int, int, int]], drivers: list[dict],
                write_log: Callable, image: DumpImage) -> tuple[DumpSpec, dict]:
    """Place the drivers' logs (dicts: name, log, pages, version, blamed), a decoy page, a freed copy of a header
    and the secondary data in ``image``; returns the dump spec to write it with and the ground truth."""
    secondary, listed, truth_logs = [], [("Wdf01000", FRAMEWORK[1], 0)], {}
    for i, drv in enumerate(drivers):
        address = POOL + i * 0x100000 + 0x1000
        blob, records = write_log(drv["log"], drv["name"], drv["pages"], address)
        image.map(address, blob)
        pfns = [image.page_for(address + p * PAGE) for p in range(drv["pages"])]
        globals_address = GLOBALS + i * PAGE
        listed.append((drv["name"], drv["version"], globals_address))
        if drv.get("blamed"):
            secondary.append((WDF_DUMP_GUID, blob))
        truth_logs[drv["name"]] = {"address": f"0x{address:x}", "pages": drv["pages"], "pfns": pfns,
                                   "globals": f"0x{globals_address:x}", "secondary": bool(drv.get("blamed")),
                                   "wrapped": records["wrapped"], "sequences": records["sequences"]}
    decoy_va = POOL + 0xF00000
    image.map(decoy_va, _decoy())
    stale = image.free_pfn()
    first = drivers[-1]["name"]
    image.put_physical(stale, image.pages[truth_logs[first]["pfns"][0]][:0x48])  # a freed copy of a header
    secondary.append((WDF_DUMP_GUID2, _driver_info(listed)))
    code, parameters = bugcheck
    if code == 0x10D:
        guilty = next(d for d in drivers if d.get("blamed"))
        parameters = parameters[:3] + (int(truth_logs[guilty["name"]]["globals"], 16),)
    truth = {"bugcheck": [f"0x{code:x}"] + [f"0x{p:x}" for p in parameters], "kind": kind,
             "framework": {"name": FRAMEWORK[0], "version": list(FRAMEWORK[1])},
             "drivers": [{"name": n, "version": list(v), "globals": f"0x{g:x}"} for n, v, g in listed[1:]],
             "blamed": next(d["name"] for d in drivers if d.get("blamed")), "decoy_va": f"0x{decoy_va:x}",
             "stale_pfn": stale, "logs": truth_logs}
    return DumpSpec(code, parameters, kind, secondary=secondary), truth


def _sample(name: str, kind: str, bugcheck, drivers: list[dict], write_log: Callable, seed: int,
            memory: dict[int, bytes] | None = None) -> dict[str, bytes | str]:
    """A sample dump and its truth; ``memory`` ({virtual address: bytes}, e.g. framework objects) is mapped
    after :func:`build_image` placed the logs (so the logs' physical pages do not depend on it)."""
    image = DumpImage(seed=seed)
    spec, truth = build_image(kind, bugcheck, drivers, write_log, image)
    for address, data in sorted((memory or {}).items()):
        image.map(address, data)
    return {f"dumps/{name}.dmp": dump_bytes(image, spec), f"dumps/{name}.truth.json": json.dumps(truth, indent=1) + "\n"}


def blamed_9f_drivers() -> list[dict]:
    """The 0x9F sample's drivers: the hang (blamed, 4 pages), a busy one (wrapped), a quiet one."""
    return [
        {"name": "hangdrv", "log": scenarios.evtiostop_not_acked().log, "pages": 4, "version": (1, 15, 19041),
         "blamed": True},
        {"name": "busydrv", "log": busy_log(0xFFFFC30A2B000000), "pages": 1, "version": (1, 31, 19041)},
        {"name": "okdrv", "log": busy_log(0xFFFFC30A3C000000, requests=6), "pages": 2, "version": (1, 9, 19041)},
    ]


def _objects_9f(drivers: list[dict]) -> dict[int, bytes]:
    """The framework objects of the 0x9F machine (samples/objects/image.py, laid out from the sample PDB): the hang
    driver's device, its stuck queue and the request EvtIoStop never acknowledged; the other drivers' globals. Each
    FX_DRIVER_GLOBALS sits where the driver list says and points at the driver's log, as build_image places them."""
    from analyzer.objects.layout import WALKED_TYPES
    from parsers.pdb_types import profile_from_pdb
    from samples.objects import image

    profile = profile_from_pdb(image.PDB, list(WALKED_TYPES))
    memory: dict[int, bytes] = {}
    for i, drv in enumerate(drivers):
        globals_address, log = GLOBALS + i * PAGE, POOL + i * 0x100000 + 0x1000
        if drv.get("blamed"):
            memory.update(image.object_regions(scenarios.evtiostop_not_acked(), profile, globals_at=globals_address,
                                               log_header=log, driver_name=drv["name"]))
        else:
            memory.update(image.driver_globals_region(profile, globals_address, log, drv["name"]))
    return memory


BUGCHECK_9F = (0x9F, (0x3, 0xFFFFAA06B8BAB840, 0xFFFFF8055A272750, 0xFFFFAA06AFB99560))


def small_memory_dump(blob: bytes, bugcheck: int, parameters: tuple[int, int, int, int]) -> bytes:
    """A DumpType 4 (triage) dump: a real DUMP_HEADER64, a page standing for the triage data (not modelled), then
    the secondary data stream holding ``blob`` tagged WdfDumpGuid."""
    header = header_bytes(DumpImage(runs=[(1, 1)]), DumpSpec(bugcheck, parameters), 4)
    return header + bytes(PAGE) + blob_stream([(WDF_DUMP_GUID, blob)])


def all_dumps(tmf: SampleTmf, write_log: Callable) -> dict[str, bytes | str]:
    """Every sample dump; ``write_log(log, driver, pages, address) -> (blob, {"wrapped", "sequences"})``."""
    drivers = blamed_9f_drivers()
    files = _sample("kmdf-9f-full", "full", BUGCHECK_9F, drivers, write_log, seed=13, memory=_objects_9f(drivers))
    double = scenarios.double_completion()
    twice = int(double.expected[0]["request"], 16)
    files.update(_sample("kmdf-10d-bitmap", "bitmap-kernel", (0x10D, (0x5, twice, 0, 0)), [
        {"name": "dblcomp", "log": double.log, "pages": 3, "version": (1, 33, 19041), "blamed": True},
        {"name": "busydrv", "log": busy_log(0xFFFFC30A2B000000), "pages": 1, "version": (1, 31, 19041)},
    ], write_log, seed=21))
    hang = scenarios.evtiostop_not_acked()
    blob, _ = write_log(hang.log, "wdfsample", hang.pages, POOL + 0x1000)
    files["dumps/evtiostop-9f.dmp"] = small_memory_dump(blob, *BUGCHECK_9F)
    return files
