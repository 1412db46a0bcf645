"""wdftriage batch: each input triaged on its own into Parquet tables, failure buckets, resume, bad inputs as rows,
the same results from local processes and from a Dask LocalCluster."""
from __future__ import annotations

import shutil

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from analyzer.batch import OptionKey, buckets, output_paths, run_batch, triage_input
from analyzer.cli import main
from analyzer.triage import triage
from paths import DATA, SAMPLES
from parsers.decode import DecodeOptions

TMF = str(SAMPLES / "tmf")
KEY = OptionKey(tmf=(TMF,))


@pytest.fixture
def lab(tmp_path):
    """A folder like a test lab's: the same 0x9F hang as a dump and as two copies of its IFR log, an !analyze
    paste, a real !wdflogdump paste, a corrupt IFR log and a file that is no evidence, in subfolders."""
    root = tmp_path / "lab"
    (root / "dumps").mkdir(parents=True)
    (root / "logs" / "deep").mkdir(parents=True)
    shutil.copy(SAMPLES / "dumps" / "evtiostop-9f.dmp", root / "dumps" / "machine1.dmp")
    shutil.copy(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr", root / "logs" / "run1.ifr")
    shutil.copy(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr", root / "logs" / "deep" / "run2.ifr")
    shutil.copy(DATA / "real-logs" / "analyze" / "nefarius_BthPS3_41_9f_1.txt", root / "logs" / "bthps3.txt")
    shutil.copy(SAMPLES / "ifr" / "corrupt-bad-guid.ifr", root / "logs" / "bad.ifr")
    (root / "logs" / "photo.bin").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(64))
    return root


def _comparable(run):
    """Rows without the timing column, for comparing two runs."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in run.inputs], run.findings


def test_batch_triages_each_input_on_its_own_into_parquet(lab, tmp_path):
    out = str(tmp_path / "out" / "results.parquet")
    run = run_batch([str(lab)], out, KEY, workers=0)  # spawned workers: the test below and bench/batch.py
    files = output_paths(out)
    inputs = pq.read_table(files["inputs"]).to_pylist()
    findings = pq.read_table(files["findings"]).to_pylist()
    assert [r["path"] for r in inputs] == sorted(str(p) for p in lab.rglob("*") if p.is_file())
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in inputs}
    assert by_name["machine1.dmp"]["kind"] == "dump" and by_name["machine1.dmp"]["bugcheck"] == 0x9F
    assert by_name["run1.ifr"]["drivers"] == ["wdfsample"] and by_name["run1.ifr"]["status"] == "ok"
    for bad in ("bad.ifr", "photo.bin"):  # a row with its error, and the batch went on
        assert by_name[bad]["status"] == "error" and bad in by_name[bad]["error"] and by_name[bad]["sha256"]
    # each input alone: the findings of one input are exactly what `triage` of that input alone finds
    alone = triage([by_name["run2.ifr"]["path"]], DecodeOptions([TMF]))
    assert sorted(f["rule"] for f in findings if f["input"].endswith("run2.ifr")) == sorted(f.rule for f in alone.findings)
    assert all(f["bucket"] and f["objects"] for f in findings)
    assert run.triaged == len(inputs) and run.skipped == 0


def test_the_same_bug_is_one_bucket(lab, tmp_path):
    run = run_batch([str(lab)], str(tmp_path / "r.parquet"), KEY, workers=0)
    table = {b["bucket"]: b for b in pq.read_table(output_paths(str(tmp_path / "r.parquet"))["buckets"]).to_pylist()}
    wdf002 = [b for b in table.values() if b["rule"] == "WDF002"]
    # the two copies of the log share a bucket; the dump of the same hang carries the bugcheck, so it has its own
    no_bugcheck = next(b for b in wdf002 if "NOBUGCHECK" in b["bucket"])
    assert no_bugcheck["inputs"] == 2 and sorted(p.rsplit("/", 1)[-1] for p in no_bugcheck["examples"]) == ["run1.ifr", "run2.ifr"]
    assert no_bugcheck["bucket"].startswith("WDF002_NOBUGCHECK_wdfsample!")
    assert any(b["bucket"].startswith("WDF002_0x9F_3_wdfsample!") and b["inputs"] == 1 for b in wdf002)
    assert no_bugcheck["first_seen"] is not None and no_bugcheck["first_seen"] <= no_bugcheck["last_seen"]
    assert "0x" not in no_bugcheck["bucket"].split("NOBUGCHECK")[1]  # no handle in a bucket name
    assert table == {b["bucket"]: b for b in buckets(run.inputs, run.findings)}


def test_batch_resumes_by_sha256(lab, tmp_path):
    out = str(tmp_path / "r.parquet")
    first = run_batch([str(lab / "logs")], out, KEY, workers=0)
    again = run_batch([str(lab)], out, KEY, workers=0)  # only the dump folder is new
    assert again.triaged == 1 and again.skipped == first.triaged
    assert len(again.inputs) == first.triaged + 1
    assert [r["path"] for r in again.inputs if r["kind"] == "dump"] == [str(lab / "dumps" / "machine1.dmp")]
    renamed = lab / "logs" / "run1-copy.ifr"  # same content under another name is already triaged
    shutil.copy(lab / "logs" / "run1.ifr", renamed)
    assert run_batch([str(lab)], out, KEY, workers=0).triaged == 0


def test_internal_errors_are_rows_too(tmp_path):
    row, findings = triage_input(str(tmp_path / "vanished.ifr"), KEY)
    assert row["status"] == "error" and "vanished.ifr" in row["error"] and row["sha256"] is None and findings == []


def test_dask_cluster_gives_the_local_results(lab, tmp_path):
    from distributed import LocalCluster

    local = run_batch([str(lab)], str(tmp_path / "local.parquet"), KEY, workers=0)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as cluster:
        distributed = run_batch([str(lab)], str(tmp_path / "dask.parquet"), KEY, scheduler=cluster.scheduler_address)
    assert _comparable(distributed) == _comparable(local)
    assert distributed.triaged == len(local.inputs)


def test_batch_command_summary_and_html_report(tmp_path):
    hostile = tmp_path / "in" / '<script>alert(1)<"x">.txt'
    hostile.parent.mkdir()
    hostile.write_text((DATA / "real-logs" / "analyze" / "nefarius_BthPS3_41_9f_1.txt").read_text(encoding="utf-8"),
                       encoding="utf-8")
    shutil.copy(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr", tmp_path / "in" / "hang.ifr")
    page = tmp_path / "batch.html"
    run = CliRunner().invoke(main, ["batch", str(tmp_path / "in"), "-o", str(tmp_path / "r.parquet"), "--tmf", TMF,
                                    "--workers", "0", "--report", str(page)])
    assert run.exit_code == 0, run.output
    assert "2 input(s): 2 triaged now, 0 already in the output; 2 ok" in run.output
    assert "WDF002_NOBUGCHECK_wdfsample!" in run.output
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;&quot;x&quot;&gt;.txt" in html
    assert html.count("<tr>") >= 1 + 2 and "WDF002_NOBUGCHECK_wdfsample!" in html


def test_an_input_that_kills_its_worker_is_an_error_row(lab, tmp_path, monkeypatch):
    """A worker process that dies (killed for memory, a crash) costs only the input it was triaging."""
    import analyzer.batch as batch

    killer = lab / "logs" / "killer.ifr"
    shutil.copy(lab / "logs" / "run1.ifr", killer)
    monkeypatch.setattr(batch, "triage_input", _dies_on_killer)
    rows = {row["path"].rsplit("/", 1)[-1]: row for row, _ in batch.run_local([str(killer), str(lab / "logs" / "bthps3.txt")],
                                                                               KEY, 2)}
    assert rows["killer.ifr"]["status"] == "internal error" and "worker process died" in rows["killer.ifr"]["error"]
    assert rows["killer.ifr"]["sha256"] == batch.file_sha256(str(killer))
    assert rows["bthps3.txt"]["status"] == "ok" and rows["bthps3.txt"]["bugcheck"] == 0x9F


def _dies_on_killer(path, key):
    import os

    if path.endswith("killer.ifr"):
        os._exit(9)  # what an out-of-memory kill looks like to the pool
    return triage_input(path, key)


def test_the_summary_names_a_bad_input_once(tmp_path):
    """The error column of the printed summary does not repeat the path its row already shows."""
    bad = tmp_path / "in" / "notes.txt"
    bad.parent.mkdir()
    bad.write_text("nothing a debugger printed\n", encoding="utf-8")
    run = CliRunner().invoke(main, ["batch", str(bad.parent), "-o", str(tmp_path / "r.parquet"), "--workers", "0"],
                             terminal_width=400)
    row = next(line for line in run.output.splitlines() if "notes.txt" in line)
    assert row.count("notes.txt") == 1 and "nothing recognized" in row
    [stored] = pq.read_table(str(tmp_path / "r.parquet")).to_pylist()
    assert stored["error"].startswith(str(bad) + ": nothing recognized")  # the Parquet keeps the whole line
