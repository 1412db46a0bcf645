"""Write every sample deterministically: ``python -m samples.generate [--check]``.

samples/tmf/<guid>.tmf          the project's TMF for the framework messages the samples use
samples/ifr/<name>.ifr          basic IFR buffers (+ <name>.truth.json: the records a decoder must return)
samples/scenarios/<name>.ifr    the labeled scenario corpus (+ <name>.expected.json)
samples/dumps/                  kernel crash dumps (full, bitmap, small memory dump) + truth (samples/dump_samples.py)
samples/objects/evtiostop-not-acked.wdfsnap  the scenario's framework objects and log as capture writes them
``--check`` rebuilds everything in memory and exits 1 if a committed file differs.
"""
from __future__ import annotations

import json
import struct
import sys
import tempfile
from pathlib import Path

from samples import dump_samples, scenarios
from samples.ifr_writer import IfrWriter
from samples.kmdf_model import Log
from parsers.catalog import render_entry
from samples.tmf_writer import SampleTmf, encode_args

HERE = Path(__file__).resolve().parent
DRIVER = "wdfsample"


def _write_log(log: Log, tmf: SampleTmf, arch: str = "x64", pages: int = 4, timestamps: bool = True,
               extra: dict | None = None, driver: str = DRIVER, address: int | None = None) -> tuple[bytes, list[dict]]:
    """The IFR blob for a model log (header at ``address`` when given), and the ground truth of every record
    that survives."""
    writer = IfrWriter(driver, arch=arch, pages=pages, timestamps=timestamps, header_address=address)
    truth = []
    for i, message in enumerate(log.messages):
        guid, number = tmf.key(message.entry)
        args = encode_args(message.entry, message.args, arch)
        if extra and i in extra:
            args = extra[i]
        placed = writer.write(guid, number, args, message.filetime if timestamps else 0)
        if placed is None:
            continue
        offset, sequence = placed
        truth.append({"sequence": sequence, "offset": offset, "guid": str(guid), "number": number,
                      "catalog_id": message.entry.id,
                      "args": [a if isinstance(a, str) else a for a in message.args],
                      "text": render_entry(message.entry, message.args, 8 if arch == "x64" else 4)})
    return writer.blob(), _surviving(writer, truth)


def _surviving(writer: IfrWriter, truth: list[dict]) -> list[dict]:
    """Records a correct walker returns: after a wrap, only those not overwritten by newer ones."""
    survivors, covered = [], []
    for rec in reversed(truth):
        length = 0x24 if writer.timestamps else 0x1C
        end = rec["offset"] + length
        if any(rec["offset"] < c_end and c_start < end for c_start, c_end in covered):
            break
        covered.append((rec["offset"], _record_end(writer, rec)))
        survivors.append(rec)
    return list(reversed(survivors))


def _record_end(writer: IfrWriter, rec: dict) -> int:
    (length,) = struct.unpack_from("<H", writer.area, rec["offset"] + 2)
    return rec["offset"] + length


def _basic(tmf: SampleTmf) -> dict[str, bytes | str]:
    files: dict[str, bytes | str] = {}

    def add(name: str, blob: bytes, truth: list[dict], facts: dict) -> None:
        files[f"ifr/{name}.ifr"] = blob
        files[f"ifr/{name}.truth.json"] = json.dumps({"driver_name": DRIVER, **facts, "records": truth}, indent=1) + "\n"

    healthy = scenarios.healthy_start_stop().log
    blob, truth = _write_log(healthy, tmf, pages=2)
    add("healthy-x64", blob, truth, {"arch": "x64", "wrapped": False, "dropped": 0})
    busy = scenarios.busy_device().log
    blob, truth = _write_log(busy, tmf, pages=1)
    add("wrapped-x64", blob, truth, {"arch": "x64", "wrapped": True, "dropped": 0})
    blob, truth = _write_log(scenarios.healthy_start_stop("x86").log, tmf, arch="x86", pages=2)
    add("x86", blob, truth, {"arch": "x86", "wrapped": False, "dropped": 0})
    blob, truth = _write_log(healthy, tmf, pages=2, timestamps=False)
    add("v1-records", blob, truth, {"arch": "x64", "wrapped": False, "dropped": 0, "record_version": 1})
    oversized = Log()
    oversized.messages = list(healthy.messages[:10])
    oversized.emit("-----> Replaying IFR for driver service %s", "x" * 300)
    oversized.messages += healthy.messages[10:20]
    blob, truth = _write_log(oversized, tmf, pages=2)
    add("dropped-size", blob, truth, {"arch": "x64", "wrapped": False, "dropped": 1, "dropped_after_sequence": 10})
    good, good_truth = _write_log(healthy, tmf, pages=2)
    files.update(_corrupt(good, good_truth))
    return files


def _corrupt(blob: bytes, truth: list[dict]) -> dict[str, bytes | str]:
    """Damaged copies of a good x64 blob, each with what a decoder must say and salvage."""
    out: dict[str, bytes | str] = {}
    header = 0x48

    def add(name: str, data: bytes, expect: dict) -> None:
        out[f"ifr/{name}.ifr"] = data
        out[f"ifr/{name}.truth.json"] = json.dumps(expect, indent=1) + "\n"

    bad_guid = bytearray(blob)
    bad_guid[0] ^= 0xFF
    add("corrupt-bad-guid", bytes(bad_guid), {"error": "not a WDF IFR log", "offset": 0, "salvaged": []})
    past = bytearray(blob)
    size = int.from_bytes(past[0x18:0x1C], "little")
    past[0x1C:0x1E] = (size + 0x100).to_bytes(2, "little")
    add("corrupt-offset-past-size", bytes(past), {"error": "past Size", "offset": 0x1C, "salvaged": []})
    loop = bytearray(blob)
    middle = truth[len(truth) // 2]
    newer = truth[len(truth) // 2 + 5]
    loop[header + middle["offset"] + 8: header + middle["offset"] + 10] = newer["offset"].to_bytes(2, "little")
    add("corrupt-prevoffset-loop", bytes(loop),
        {"warning": "loop", "salvaged": [r["sequence"] for r in truth if r["sequence"] >= middle["sequence"]]})
    last = truth[-1]
    cut = header + truth[len(truth) // 3]["offset"] + 10
    add("corrupt-truncated", blob[:cut],
        {"warning": "truncated", "salvaged": [r["sequence"] for r in truth if header + r["offset"] + 0x24 <= cut
                                              and r["sequence"] <= last["sequence"]]})
    return out


def _scenarios(tmf: SampleTmf) -> dict[str, bytes | str]:
    files: dict[str, bytes | str] = {}
    for build in scenarios.ALL:
        s = build()
        blob, _ = _write_log(s.log, tmf, pages=s.pages)
        files[f"scenarios/{s.name}.ifr"] = blob
        files[f"scenarios/{s.name}.expected.json"] = json.dumps(
            {"description": s.description, "bug": s.bug, "expected": s.expected}, indent=1) + "\n"
    return files


def dump_log_writer(tmf: SampleTmf):
    """``write_log(log, driver, pages, address) -> (blob, {"wrapped", "sequences"})`` for samples/dump_samples.py."""
    def write_log(log: Log, driver: str, pages: int, address: int) -> tuple[bytes, dict]:
        blob, truth = _write_log(log, tmf, pages=pages, driver=driver, address=address)
        wrapped = any(r["offset"] == 0 and r["sequence"] > 1 for r in truth)
        return blob, {"wrapped": wrapped, "sequences": [r["sequence"] for r in truth]}

    return write_log


def _dumps(tmf: SampleTmf) -> dict[str, bytes | str]:
    return dump_samples.all_dumps(tmf, dump_log_writer(tmf))


def _objects(tmf: SampleTmf) -> dict[str, bytes | str]:
    """The evtiostop-not-acked scenario's objects in memory (laid out from samples/objects/wdf_objects.pdb)."""
    from samples.objects import image

    scenario = scenarios.evtiostop_not_acked()
    blob, _ = _write_log(scenario.log, tmf, pages=scenario.pages)
    return {"objects/evtiostop-not-acked.wdfsnap": image.build(scenario, blob)}


def build_all() -> dict[str, bytes | str]:
    """Every sample file, path relative to samples/ -> content."""
    tmf = SampleTmf()
    files = _scenarios(tmf)
    files.update(_basic(tmf))
    files.update(_dumps(tmf))
    files.update(_objects(tmf))
    with tempfile.TemporaryDirectory() as tmp:
        for path in tmf.write(Path(tmp)):
            files[f"tmf/{path.name}"] = path.read_text(encoding="utf-8")
    return files


def main(argv: list[str]) -> int:
    files = build_all()
    if "--check" in argv:
        stale = [name for name, content in files.items()
                 if not (HERE / name).exists() or (HERE / name).read_bytes() !=
                 (content if isinstance(content, bytes) else content.encode("utf-8"))]
        for name in stale:
            print(f"out of date: samples/{name}")
        return 1 if stale else 0
    for name, content in sorted(files.items()):
        path = HERE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    print(f"wrote {len(files)} files under {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
