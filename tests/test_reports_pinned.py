"""Every report format and every timeline export of every bundled and real input, pinned byte for byte.

The expectations (tests/data/report-outputs.json.gz) were written by the renderers of main at 14c50b6, before
the renderers' per-call costs were cut: a renderer change that alters one character of any output fails here
and shows the first differing lines. Parquet is compared as read back (schema, pandas metadata without the
library versions, every value), not as bytes.

A deliberate output change rewrites the file: ``.venv/bin/python tests/test_reports_pinned.py --write`` (from
the repository root), reviewed and committed with the change that explains it.
"""
from __future__ import annotations

import difflib
import gzip
import io
import json
import os
import sys
from datetime import datetime, timezone

import pytest

from paths import DATA, ROOT
from stress_logs import stress_log

EXPECTED = DATA / "report-outputs.json.gz"
REPORTS = ("text", "md", "json", "html")
TIMELINES = ("requests", "queues", "states")
EXPORTS = ("table", "csv", "json", "parquet")


def _cases() -> dict[str, tuple]:
    """name -> (input paths relative to the repository root, decode with the sample TMFs, combine), or
    (pasted log text,) for the logs written here to reach the renderers' bounds."""
    found = {}
    for folder, ext in (("samples/scenarios", "ifr"), ("samples/ifr", "ifr"), ("samples/dumps", "dmp")):
        for p in sorted((ROOT / folder).glob(f"*.{ext}")):
            found[f"{folder}/{p.name}"] = ([f"{folder}/{p.name}"], True, False)
    for p in sorted((DATA / "real-logs").rglob("*.txt")):
        rel = p.relative_to(ROOT).as_posix()
        found[rel] = ([rel], False, False)
    two = ["samples/scenarios/evtiostop-not-acked.ifr", "samples/ifr/healthy-x64.ifr"]
    found["two inputs"] = (two, True, False)
    found["two inputs combined"] = (two, True, True)
    found["hostile text"] = (_hostile_log(),)
    found["long stress log"] = (_stress_log(),)
    return found


def _hostile_log() -> str:
    """Script, quotes, bidi, control characters, tabs and a long line in driver name, messages and states."""
    evil = '<script>x</script> "q" \u202eevil\u202c nul\x00 tab\there `|` ' + "A" * 3000
    return "\n".join([
        f"0: kd> !wdflogdump {evil}",
        "1: FxPkgPnp::PnpEnterNewState - WDFDEVICE 0x0000587CCCC6DB88 !devobj 0xFFFFA783333F8DF0 entering PnP State "
        "WdfDevStatePnpInitStarting from WdfDevStatePnpInit",
        "2: FxIoQueue::QueueRequest - Queuing WDFREQUEST 0x0000587CCCC6DC00 on WDFQUEUE 0x00003FFF8B6DA5C8",
        f"3: Evil::Func - {evil}",
        "4: FxPkgPnp::PnpEnterNewState - WDFDEVICE 0x0000587CCCC6DB88 !devobj 0xFFFFA783333F8DF0 entering PnP State "
        f"Evil{evil[:40]} from WdfDevStatePnpInitStarting"])


def _stress_log() -> str:
    """2,000 PnP transitions (drawn as dense bands), 130 requests (more than a chart draws, 30 never completed:
    more WDF003 findings than a human-facing report shows)."""
    return stress_log(2000, 130, 30)


def _result(case: tuple):
    from analyzer.triage import analyze, triage
    from parsers.decode import DecodeOptions
    from parsers.logtext import read_log_text

    if len(case) == 1:
        result = analyze([read_log_text(case[0], "pasted.txt")])
    else:
        paths, tmf, combine = case
        result = triage(paths, DecodeOptions(tmf=["samples/tmf"] if tmf else []), combine=combine)
    result.created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)  # the only values a run sets itself
    result.tool_version = "pinned"
    return result


def _parquet_read_back(data: bytes) -> str:
    """A Parquet file as read back: its schema, the pandas metadata (library versions left out) and every value."""
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    pandas_meta = json.loads(table.schema.metadata[b"pandas"])
    pandas_meta.pop("creator"), pandas_meta.pop("pandas_version")
    return "\n".join([table.schema.to_string(show_schema_metadata=False), json.dumps(pandas_meta, sort_keys=True),
                      json.dumps(table.to_pydict(), default=repr)])


def outputs(case: tuple) -> dict[str, str]:
    """Every report and export of one case, by name ('report html', 'export states csv', ...)."""
    from parsers.errors import EvidenceError
    from reports import render
    from reports.tables import export_frame

    try:
        result = _result(case)
    except EvidenceError as exc:
        return {"error": str(exc)}
    found = {f"report {fmt}": render(result, fmt) for fmt in REPORTS}
    for name in TIMELINES:
        frame = getattr(result.timelines, name)
        for fmt in EXPORTS:
            out = export_frame(frame, fmt)
            found[f"export {name} {fmt}"] = _parquet_read_back(out) if fmt == "parquet" else out
    return found


@pytest.fixture(scope="module")
def expected() -> dict[str, dict[str, str]]:
    return json.loads(gzip.decompress(EXPECTED.read_bytes()))


@pytest.mark.parametrize("case", list(_cases()))
def test_every_output_is_as_pinned(case, expected, monkeypatch):
    monkeypatch.chdir(ROOT)
    got, want = outputs(_cases()[case]), expected[case]
    assert list(got) == list(want)
    for name in want:
        if got[name] != want[name]:
            diff = difflib.unified_diff(want[name].splitlines(), got[name].splitlines(), "pinned", "now", lineterm="")
            pytest.fail(f"{case}: {name} differs:\n" + "\n".join(list(diff)[:40]))


def test_every_case_is_pinned(expected):
    assert sorted(expected) == sorted(_cases())


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    pinned = {name: outputs(case) for name, case in _cases().items()}
    EXPECTED.write_bytes(gzip.compress(json.dumps(pinned, indent=0, sort_keys=False).encode(), mtime=0))
    print(f"{EXPECTED}: {len(pinned)} cases, {EXPECTED.stat().st_size} bytes")
