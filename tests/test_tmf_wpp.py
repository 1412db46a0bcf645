"""TMF files (real tracepdb output and the sample TMF) and WPP decoding/rendering."""
from __future__ import annotations

import struct
import uuid
from pathlib import Path

import pytest

from paths import SAMPLES
from parsers.catalog import load
from parsers.errors import EvidenceError
from parsers.ifr import parse_ifr
from parsers.tmf import TmfDatabase, parse_tmf_file, parse_tmf_lines
from parsers.wpp import WppError, decode_args, messages_from_ifr, render
from reports.logdump import format_line

TMF_DATA = Path(__file__).parent / "data" / "tmf"  # copies of the real TMFs (see README there)


def _message(db, guid, number):
    m = db.lookup(uuid.UUID(guid), number)
    assert m is not None
    return m


def test_every_real_tmf_loads():
    files = sorted(TMF_DATA.glob("*.tmf"))
    assert len(files) == 90
    total = sum(len(parse_tmf_file(f)) for f in files)
    assert total == 3865


def test_real_tmf_quotes_repeated_sections_and_enums():
    db = TmfDatabase.from_paths([TMF_DATA])
    quoted = [m for p in TMF_DATA.glob("*.tmf") for m in parse_tmf_file(p) if '"%10!s!"' in m.format]
    assert quoted and quoted[0].format.endswith('RHS: "%11!s!"')
    irql = next(m for p in TMF_DATA.glob("*.tmf") for m in parse_tmf_file(p) if any(a.item_type == "ItemListByte" for a in m.args))
    arg = next(a for a in irql.args if a.item_type == "ItemListByte")
    assert arg.enum_names == ((0, "Low"), (1, "APC"), (2, "DPC"))
    assert len(db) == 0  # a directory is a search path: nothing read until a lookup


def test_decode_real_messages_from_hand_built_payloads():
    db = TmfDatabase.from_paths([TMF_DATA])
    status = _message(db, "01e9b841-7d67-315a-7b92-23b2033356de", 14)
    assert render(status, decode_args(status, struct.pack("<I", 0xC0000001), 8)) == \
        "[L2CAP_PS3_ControlConnectResponseCompleted] ERROR:HID Control Channel connection failed with status 0xc0000001(STATUS_UNSUCCESSFUL)"
    assert render(status, decode_args(status, struct.pack("<I", 0), 8)).endswith("with status STATUS_SUCCESS")
    strings = next(m for p in TMF_DATA.glob("*.tmf") for m in parse_tmf_file(p) if '"%10!s!"' in m.format)
    lhs, rhs = "PLAYSTATION(R)3".encode("utf-16-le"), "SIXAXIS".encode("utf-16-le")
    payload = struct.pack("<H", len(lhs)) + lhs + struct.pack("<H", len(rhs)) + rhs  # UNICODE_STRING: byte length
    assert 'LHS: "PLAYSTATION(R)3" RHS: "SIXAXIS"' in render(strings, decode_args(strings, payload, 8))
    irql = next(m for p in TMF_DATA.glob("*.tmf") for m in parse_tmf_file(p) if any(a.item_type == "ItemListByte" for a in m.args))
    assert "DPC" in render(irql, decode_args(irql, b"\x02", 8))


def test_pointer_width_follows_the_writer(sample_tmf):
    lines = ["00000000-1111-2222-3333-444444444444 mod // SRC=x.c MJ= MN=",
             '#typev x_c1 10 "%0 [%!FUNC!] obj %10!p! id %11!I64x! v %12!08X! g %13!s! w %14!s! u %15!s!" //   LEVEL=TRACE_LEVEL_ERROR FLAGS=F FUNC=Fn',
             "{", "obj, ItemPtr -- 10", "id, ItemLongLongX -- 11", "v, ItemLong -- 12", "g, ItemGuid -- 13",
             "w, ItemWString -- 14", "u, ItemPWString -- 15", "}"]
    m = parse_tmf_lines(lines, "inline")[0]
    guid = uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")
    wide = "Bthps3".encode("utf-16-le")
    tail = struct.pack("<qI", 0x1234ABCD, 0xBEEF) + guid.bytes_le + wide + b"\0\0" + struct.pack("<H", len(wide)) + wide
    x64 = render(m, decode_args(m, struct.pack("<Q", 0xFFFFA783333F8DF0) + tail, 8))
    x86 = render(m, decode_args(m, struct.pack("<I", 0x8A1B2C30) + tail, 4), 4)
    assert x64 == f"[Fn] obj FFFFA783333F8DF0 id 1234abcd v 0000BEEF g {guid} w Bthps3 u Bthps3"
    assert x86.startswith("[Fn] obj 8A1B2C30 id")
    with pytest.raises(WppError, match="%13"):
        decode_args(m, struct.pack("<Q", 1) + tail[:20], 8)


def test_framework_message_from_ifr_gets_catalog_id_and_the_same_args_as_text(sample_tmf):
    blob = (SAMPLES / "ifr" / "healthy-x64.ifr").read_bytes()
    messages = messages_from_ifr(parse_ifr(blob, "h"), sample_tmf, "h")
    catalog = load()
    assert all(m.known and m.catalog_id for m in messages)
    for m in messages:
        entry, args = catalog.match_text(m.text)
        assert entry.format == catalog.entry(m.catalog_id).format and args == m.args


def test_record_without_format_stays_with_hex_arguments():
    blob = (SAMPLES / "ifr" / "healthy-x64.ifr").read_bytes()
    messages = messages_from_ifr(parse_ifr(blob, "h"), TmfDatabase(), "h")
    assert len(messages) == 60 and not any(m.known for m in messages)
    assert "(No Format Information found)" in messages[0].text and messages[0].sequence == 1
    assert format_line(messages[0]).startswith("1:  - Unknown( ")


def test_bad_tmf_reports_the_line():
    with pytest.raises(EvidenceError) as exc:
        parse_tmf_lines(["00000000-1111-2222-3333-444444444444 m // SRC=a.c", '#typev a 10 "%0x %10!d!" //   LEVEL=L', "{", "garbage", "}"], "bad.tmf")
    assert exc.value.line == 4
