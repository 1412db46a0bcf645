"""Batch triage: many inputs (files and folders, any mix of dumps, IFR blobs and pasted text), each triaged on its
own, results as Parquet, findings grouped into failure buckets.

Output (``-o results.parquet``), three Parquet files side by side:

- ``results.parquet`` — one row per input: ``path, sha256, size, modified`` (file mtime, UTC), ``kind``
  (ifr/dump/text; null when unreadable), ``bugcheck`` (code) and ``bugcheck_name``, ``drivers`` (names of the
  logs read), ``findings`` (count), ``worst`` (severity), ``status`` (``ok``, ``error`` = bad input,
  ``internal error`` = a bug of ours), ``error`` (one line), ``seconds``.
- ``results.findings.parquet`` — one row per finding: ``input`` (path), ``sha256, rule, severity, driver,
  objects`` (``WDFDEVICE 0x.. WDFQUEUE 0x..``), ``bucket, summary, time`` (of the finding's evidence, null when
  the evidence has no times).
- ``results.buckets.parquet`` — one row per failure bucket: ``bucket, rule, severity`` (worst), ``driver,
  inputs`` (distinct inputs), ``findings, first_seen, last_seen`` (evidence time, else the input's mtime),
  ``examples`` (up to three input paths).

A bucket is named in the spirit of ``!analyze``'s FAILURE_BUCKET_ID: ``RULE_BUGCHECK_driver!Function_qualifier``
(the rule, the bugcheck code and subcode or NOBUGCHECK, the driver whose log holds the evidence (else the
bugcheck's IMAGE_NAME), the framework
function that printed the finding's key evidence line, and what distinguishes the case: the callback, the stop
action, the state machine and state...). Handles, times and counts never enter a bucket name, so the same bug
in 400 dumps is one bucket.

Work is spread over local processes (spawned, one input at a time, replaced every ``MAX_TASKS_PER_CHILD``
inputs so memory stays bounded), or over a Dask distributed cluster given its scheduler address; each worker
process builds its :class:`~parsers.decode.DecodeOptions` once. Runs are resumable: inputs whose sha256 (of the
whole file, dumps included) is already in the output are skipped (a file with the path, size and mtime of a row
is not even hashed again), and results are saved every ``CHECKPOINT_EVERY`` inputs.
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

MAX_TASKS_PER_CHILD = 500  # inputs a local worker process triages (about) before it is replaced (bounds its memory)
CHECKPOINT_EVERY = 200  # results between two saves of the output files
EXAMPLES = 3  # example inputs kept per bucket
_QUALIFIERS = ("case", "callback", "stop_action", "machine", "state", "event", "reason", "problems")

_options_lock = threading.Lock()
_options_cache: dict = {}  # (tmf, arch, tmf_cache) -> DecodeOptions, one per worker process


@dataclass(frozen=True)
class OptionKey:
    """What a worker needs to build its DecodeOptions (picklable; the TMF database is built in the worker)."""

    tmf: tuple[str, ...] = ()
    arch: str | None = None
    tmf_cache: str | None = None


def collect_inputs(paths: Iterable[str]) -> list[str]:
    """The files named and every regular file under the folders named (recursively, sorted, hidden files
    and folders skipped), each once."""
    out: dict[str, None] = {}
    for path in paths:
        p = Path(path)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                if f.is_file() and not any(part.startswith(".") for part in rel):
                    out[str(f)] = None
        else:
            out[str(p)] = None
    return list(out)


def file_sha256(path: str) -> str | None:
    """SHA-256 of a file read in chunks; None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def _options(key: OptionKey):
    from parsers.decode import DecodeOptions

    with _options_lock:
        if key not in _options_cache:
            _options_cache[key] = DecodeOptions(list(key.tmf), key.arch, key.tmf_cache)
        return _options_cache[key]


def triage_input(path: str, key: OptionKey) -> tuple[dict, list[dict]]:
    """Triage one input on its own: (its input row, its finding rows). Never raises for a bad input."""
    from analyzer.triage import triage
    from parsers.errors import WdfTriageError

    start = time.perf_counter()
    row = _new_row(path)
    findings: list[dict] = []
    try:
        result = triage([path], _options(key))
    except WdfTriageError as exc:
        row.update(status="error", error=exc.one_line())
    except Exception as exc:  # a bug of ours must not stop the batch: the row says what happened
        row.update(status="internal error", error=f"{type(exc).__name__}: {exc}")
    else:
        source = result.inputs[0]
        b = result.bugcheck
        sha256 = source.sha256 or file_sha256(path)  # a dump is not hashed whole by triage (its read_digest is not this)
        row.update(sha256=sha256, size=source.size, kind=source.kind,
                   drivers=sorted({log["name"] for log in result.logs if log["name"]}),
                   bugcheck=b.code if b else None, bugcheck_name=(result.bugcheck_analysis or {}).get("name"),
                   findings=len(result.findings), worst=_severity(result.worst_severity()))
        findings = [_finding_row(path, sha256, result, f) for f in result.findings]
    if row["sha256"] is None:
        row["sha256"] = file_sha256(path)
        row["size"] = _size(path)
    row["seconds"] = time.perf_counter() - start
    return row, findings


def _new_row(path: str) -> dict:
    """The input row before triage: nothing known but the path and the file's time."""
    return {"path": path, "sha256": None, "size": None, "modified": _mtime(path), "kind": None, "bugcheck": None,
            "bugcheck_name": None, "drivers": [], "findings": 0, "worst": None, "status": "ok", "error": None}


def _severity(severity) -> str | None:
    return None if severity is None else severity.name.lower()


def _mtime(path: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(os.stat(path).st_mtime, timezone.utc)
    except OSError:
        return None


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _finding_row(path: str, sha256: str, result, finding) -> dict:
    from reports.common import objects

    return {"input": path, "sha256": sha256, "rule": finding.rule, "severity": _severity(finding.severity),
            "driver": _driver(result, finding), "objects": objects(finding), "bucket": bucket(result, finding),
            "summary": finding.summary, "time": finding.at_time}


def _driver(result, finding) -> str | None:
    """The driver whose log holds the finding's evidence, else the bugcheck's IMAGE_NAME or MODULE_NAME."""
    b = result.bugcheck
    return finding.log or (b and (b.image_name or b.module_name)) or None


def bucket(result, finding) -> str:
    """The failure bucket of a finding: ``RULE_BUGCHECK_driver!Function_qualifier`` (see the module doc)."""
    b = result.bugcheck
    subcode = b.parameters[0] if b is not None and b.code in (0x9F, 0x10D) and b.parameters else None
    if b is None:
        bugcheck = "NOBUGCHECK"
    elif subcode is not None:
        bugcheck = f"0x{b.code:X}_{subcode:X}"  # Arg1 is the subcode of both
    else:
        bugcheck = f"0x{b.code:X}"
    driver = _driver(result, finding) or "unknown_driver"
    function = _function(result, finding)
    parts = [finding.rule, bugcheck, f"{driver}!{function}" if function else driver]
    parts += [str(finding.facts[k]) for k in _QUALIFIERS if isinstance(finding.facts.get(k), (str, int))]
    return re.sub(r"[^\w!:.~-]+", "_", "_".join(parts))


def _function(result, finding) -> str | None:
    """The framework function that printed the finding's key evidence line."""
    from parsers.catalog import load

    index = finding.at_index if finding.at_index is not None else next(
        (e.index for e in reversed(finding.evidence) if e.index is not None), None)
    if index is None or not 0 <= index < len(result.events):
        return None
    catalog_id = result.events[index].catalog_id
    return load().entry(catalog_id).function if catalog_id else None


# --- running the work ---------------------------------------------------------------------------------------

def run_local(paths: list[str], key: OptionKey, workers: int) -> Iterator[tuple[dict, list[dict]]]:
    """Triage ``paths`` in ``workers`` spawned processes (in this process when ``workers`` is 0), results in
    completion order. The processes are replaced after MAX_TASKS_PER_CHILD inputs each (a new pool per slice
    of inputs: the executor's own ``max_tasks_per_child`` can hang on Python 3.11 when many tasks are queued).
    When a worker process dies (killed for memory, a crash), the inputs of its pool that were not finished are
    run again one per process, so only the input that kills a process becomes an error row."""
    if workers == 0:
        for path in paths:
            yield triage_input(path, key)
        return
    step = workers * MAX_TASKS_PER_CHILD
    for start in range(0, len(paths), step):
        chunk = paths[start:start + step]
        finished: set[str] = set()
        try:
            for path, result in _pool_map(chunk, key, workers):
                finished.add(path)
                yield result
        except BrokenProcessPool:
            for path in chunk:
                if path not in finished:
                    yield _isolated(path, key)


def _pool_map(paths: list[str], key: OptionKey, workers: int) -> Iterator[tuple[str, tuple[dict, list[dict]]]]:
    """(path, triage_input result) from one pool of spawned processes, in completion order."""
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(triage_input, path, key): path for path in paths}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()


def _isolated(path: str, key: OptionKey) -> tuple[dict, list[dict]]:
    """One input in a process of its own; an error row naming the input when that process dies too."""
    try:
        return next(_pool_map([path], key, 1))[1]
    except BrokenProcessPool:
        row = _new_row(path)
        row.update(status="internal error", error=f"{path}: the worker process died triaging this input",
                   sha256=file_sha256(path), size=_size(path), seconds=None)
        return row, []


def run_dask(paths: list[str], key: OptionKey, scheduler: str) -> Iterator[tuple[dict, list[dict]]]:
    """Triage ``paths`` on the Dask distributed cluster whose scheduler is at ``scheduler``."""
    from distributed import Client, as_completed

    with Client(scheduler) as client:
        futures = [client.submit(triage_input, path, key, pure=False) for path in paths]
        for future in as_completed(futures):
            yield future.result()
            future.release()


# --- the output ---------------------------------------------------------------------------------------------

def output_paths(output: str) -> dict[str, Path]:
    """The three files of an output named ``results.parquet``: inputs, findings, buckets."""
    base = Path(output)
    stem = base.name[: -len(".parquet")] if base.name.endswith(".parquet") else base.name
    return {"inputs": base.with_name(stem + ".parquet"), "findings": base.with_name(stem + ".findings.parquet"),
            "buckets": base.with_name(stem + ".buckets.parquet")}


def _schemas():
    import pyarrow as pa

    time_type = pa.timestamp("us", tz="UTC")
    inputs = pa.schema([("path", pa.string()), ("sha256", pa.string()), ("size", pa.int64()),
                        ("modified", time_type), ("kind", pa.string()), ("bugcheck", pa.uint32()),
                        ("bugcheck_name", pa.string()), ("drivers", pa.list_(pa.string())), ("findings", pa.int32()),
                        ("worst", pa.string()), ("status", pa.string()), ("error", pa.string()),
                        ("seconds", pa.float64())])
    findings = pa.schema([("input", pa.string()), ("sha256", pa.string()), ("rule", pa.string()),
                          ("severity", pa.string()), ("driver", pa.string()), ("objects", pa.string()),
                          ("bucket", pa.string()), ("summary", pa.string()), ("time", time_type)])
    buckets = pa.schema([("bucket", pa.string()), ("rule", pa.string()), ("severity", pa.string()),
                         ("driver", pa.string()), ("inputs", pa.int32()), ("findings", pa.int32()),
                         ("first_seen", time_type), ("last_seen", time_type), ("examples", pa.list_(pa.string()))])
    return {"inputs": inputs, "findings": findings, "buckets": buckets}


def read_results(output: str) -> tuple[list[dict], list[dict]]:
    """(input rows, finding rows) of an earlier run, empty when there is none."""
    import pyarrow.parquet as pq

    files = output_paths(output)
    if not files["inputs"].exists():
        return [], []
    inputs = pq.read_table(files["inputs"]).to_pylist()
    findings = pq.read_table(files["findings"]).to_pylist() if files["findings"].exists() else []
    return inputs, findings


def write_results(output: str, inputs: list[dict], findings: list[dict]) -> dict[str, Path]:
    """Write the three Parquet files (each replaced atomically: an interrupted run leaves the last complete save)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files, schemas = output_paths(output), _schemas()
    tables = {"inputs": inputs, "findings": findings, "buckets": buckets(inputs, findings)}
    files["inputs"].parent.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        partial = files[name].with_name(files[name].name + ".partial")
        pq.write_table(pa.Table.from_pylist(rows, schema=schemas[name]), partial)
        os.replace(partial, files[name])
    return files


_RANK = {"info": 1, "warning": 2, "error": 3, "critical": 4}


def buckets(inputs: list[dict], findings: list[dict]) -> list[dict]:
    """Findings grouped by bucket: how many inputs share it, first and last seen, example inputs; most inputs first."""
    modified = {row["path"]: row["modified"] for row in inputs}
    groups: dict[str, dict] = {}
    for f in sorted(findings, key=lambda f: f["input"]):
        seen = f["time"] or modified.get(f["input"])
        g = groups.setdefault(f["bucket"], {"bucket": f["bucket"], "rule": f["rule"], "severity": f["severity"],
                                            "driver": f["driver"], "paths": {}, "findings": 0, "times": []})
        g["paths"][f["input"]] = None
        g["findings"] += 1
        if _RANK.get(f["severity"], 0) > _RANK.get(g["severity"], 0):
            g["severity"] = f["severity"]
        if seen is not None:
            g["times"].append(seen)
    out = [{"bucket": g["bucket"], "rule": g["rule"], "severity": g["severity"], "driver": g["driver"],
            "inputs": len(g["paths"]), "findings": g["findings"], "first_seen": min(g["times"], default=None),
            "last_seen": max(g["times"], default=None), "examples": list(g["paths"])[:EXAMPLES]}
           for g in groups.values()]
    return sorted(out, key=lambda b: (-b["inputs"], -_RANK.get(b["severity"], 0), b["bucket"]))


@dataclass
class BatchRun:
    """What one batch run did: every input row and finding row (earlier runs' included), and how many were
    triaged now / skipped as already present."""

    inputs: list[dict]
    findings: list[dict]
    triaged: int
    skipped: int
    files: dict[str, Path]


def run_batch(paths: list[str], output: str, key: OptionKey = OptionKey(), workers: int | None = None,
              scheduler: str | None = None, progress: Callable[[int], Callable[[], None]] | None = None) -> BatchRun:
    """Triage every input under ``paths`` not already in ``output`` (by sha256) and write the results.
    ``progress(total)`` returns a callable advanced once per finished input."""
    inputs, findings = read_results(output)
    candidates = collect_inputs(paths)
    todo = _not_done(candidates, inputs) if inputs else candidates
    advance = progress(len(todo)) if progress else (lambda: None)
    if workers is None:
        workers = os.cpu_count() or 1
    results = run_dask(todo, key, scheduler) if scheduler else run_local(todo, key, workers)
    try:
        for n, (row, rows) in enumerate(results, 1):
            inputs.append(row)
            findings += rows
            advance()
            if n % CHECKPOINT_EVERY == 0:
                write_results(output, inputs, findings)
    finally:
        inputs, findings = _ordered(inputs), sorted(findings, key=lambda f: (f["input"], f["rule"], f["bucket"]))
        files = write_results(output, inputs, findings)
    return BatchRun(inputs, findings, len(todo), len(candidates) - len(todo), files)


def _not_done(paths: list[str], inputs: list[dict]) -> list[str]:
    """The paths whose content is not in ``inputs`` yet: a file with the path, size and mtime of a row is that row
    (no hashing); any other file is hashed and compared with every row's sha256."""
    done = {row["sha256"] for row in inputs if row["sha256"]}
    seen = {(row["path"], row["size"], row["modified"]) for row in inputs}
    return [p for p in paths if (p, _size(p), _mtime(p)) not in seen and file_sha256(p) not in done]


def _ordered(inputs: list[dict]) -> list[dict]:
    return sorted(inputs, key=lambda row: row["path"])
