"""The ``wdftriage`` command line (click). Commands are thin: parse options, call the library, render.

Exit codes: 0 = done (and nothing at or above ``--fail-on`` when given); 1 = findings at or above ``--fail-on``
(``triage``) or a check failed (``scenarios``, ``recognition``); 2 = bad input or usage (one line on stderr,
never a traceback); 3 = internal error (one line; ``WDFTRIAGE_DEBUG=1`` shows the traceback).

Start-up stays light: this module imports only click and the error classes; the pipeline (and with it pandas
and pyarrow) is imported inside the commands that run it, so ``wdftriage --help`` costs no pandas import.
"""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click

from reports import FORMATS as REPORT_FORMATS
from parsers.errors import EvidenceError
from parsers.records import DEBUGGER

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
TIMELINE_KINDS = ("requests", "queues", "states")
SEVERITY_NAMES = ("info", "warning", "error", "critical")  # analyzer.result.Severity, lowest first (test checks)


def run_triage(*args, **kwargs):
    """analyzer.triage.triage, imported on first use (it brings pandas)."""
    from analyzer.triage import triage

    return triage(*args, **kwargs)


class _Group(click.Group):
    """Turns evidence errors into one line on stderr and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EvidenceError as exc:
            click.echo(f"wdftriage: error: {exc.one_line()}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except OSError as exc:
            click.echo(f"wdftriage: error: {exc.filename or ''}: {exc.strerror or exc}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except (click.exceptions.Exit, click.ClickException, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # a bug of ours: one line, the traceback only on request
            if os.environ.get("WDFTRIAGE_DEBUG"):
                raise
            click.echo(f"wdftriage: internal error: {type(exc).__name__}: {exc} "
                       "(please report it; WDFTRIAGE_DEBUG=1 shows the traceback)", err=True)
            sys.exit(EXIT_INTERNAL)


def _decode_options(f):
    """Adds --tmf/--pdb, --arch and --tmf-cache, and hands the command one ``options`` DecodeOptions
    (built here and nowhere else, so the TMF database is parsed once per run)."""

    @functools.wraps(f)
    def with_options(*args, tmf, arch, tmf_cache, **kwargs):
        from parsers.decode import DecodeOptions

        return f(*args, options=DecodeOptions(list(tmf), arch, tmf_cache), **kwargs)

    with_options = click.option("--tmf", "--pdb", "tmf", multiple=True, type=click.Path(exists=True),
                                help="TMF file, directory of <guid>.tmf files, PDB with WPP annotations, or symbol "
                                     "directory (repeatable; also $TRACE_FORMAT_SEARCH_PATH).")(with_options)
    with_options = click.option("--arch", type=click.Choice(["x64", "x86"]), default=None,
                                help="Pointer size of the IFR log (default: detected from the header).")(with_options)
    return click.option("--tmf-cache", "tmf_cache", type=click.Path(file_okay=False), default=None,
                        help="Directory where formats recognized without a TMF are saved and reused, per GUID."
                        )(with_options)


def _combine_option(f):
    return click.option("--combine", is_flag=True,
                        help="Treat every input as evidence of one incident (a dump and the paste of its log); "
                             "by default each input is triaged on its own.")(f)


def _bugcheck_option(f):
    return click.option("--bugcheck", "bugcheck", default=None, metavar="CODE[,P1,P2,P3,P4]",
                        help="Bugcheck code and parameters (hex) when the evidence does not carry them; "
                             "parameters not given are unknown, never 0.")(f)


def _parse_bugcheck(text: str | None):
    if text is None:
        return None
    from analyzer.bugcheck import parse_cli as parse_bugcheck

    try:
        return parse_bugcheck(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: {exc}", param_hint="--bugcheck") from None


def _progress(paths):
    """A rich progress bar on stderr when several files are read on a terminal."""
    if len(paths) > 1 and sys.stderr.isatty():
        from rich.progress import track

        return track(paths, description="reading evidence", transient=True)
    return iter(paths)


def _write(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


def _json_pieces(result):
    from reports.json_report import iter_json

    return iter_json(result)


def _stream(pieces, output: str | None) -> None:
    """Write text produced in pieces (JSON documents) to ``output`` or stdout without joining it first."""
    if output is None:
        for piece in pieces:
            sys.stdout.write(piece)
        sys.stdout.flush()
        return
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        for piece in pieces:
            f.write(piece)
    click.echo(f"wrote {output}", err=True)


@click.group(cls=_Group)
@click.version_option(package_name="wdftriage")
def main() -> None:
    """Triage Windows Driver Frameworks (KMDF) crashes and traces: crash dumps, IFR logs, pasted
    !wdflogdump / !analyze -v text.

    Exit codes: 0 ok; 1 findings at or above --fail-on (triage) or a failed check; 2 bad input or usage;
    3 internal error.
    """


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@_decode_options
@_bugcheck_option
@_combine_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (schema reports/schema).")
@click.option("--report", "report", type=click.Path(dir_okay=False), default=None,
              help="Also write a report; the format follows the extension (.html, .md, .json, .txt).")
@click.option("--fail-on", "fail_on", type=click.Choice(("never",) + SEVERITY_NAMES),
              default="never", show_default=True,
              help="Exit 1 when a finding is at or above this severity (for scripts and batch runs).")
def triage(inputs, options, bugcheck, combine, as_json, report, fail_on):
    """Analyze evidence and print an !analyze-shaped verdict with evidence lines."""
    from analyzer.result import Severity
    from reports import format_for_path, render
    from reports.text import render_text

    result = run_triage(list(inputs), options, _parse_bugcheck(bugcheck), _progress, combine=combine)
    if as_json:
        _stream(_json_pieces(result), None)
    else:
        click.echo(render_text(result, color=sys.stdout.isatty()), nl=False)
    if report:
        fmt = format_for_path(report)
        if fmt == "json":
            _stream(_json_pieces(result), report)
        else:
            _write(render(result, fmt), report)
    worst = result.worst_severity()
    failed = fail_on != "never" and worst is not None and worst >= Severity.parse(fail_on)
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@_decode_options
@_bugcheck_option
@_combine_option
@click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS), default="html", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Output file (default: stdout).")
def report(inputs, options, bugcheck, combine, fmt, output):
    """Write a report to attach to a bug: text, Markdown, JSON or self-contained HTML."""
    from reports import render

    result = run_triage(list(inputs), options, _parse_bugcheck(bugcheck), _progress, combine=combine)
    if fmt == "json":
        _stream(_json_pieces(result), output)
    else:
        _write(render(result, fmt), output)


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False))
@_decode_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message instead of text.")
@click.option("--timestamps", is_flag=True, help="Prefix lines with the record time (MM/DD/YYYY-HH:MM:SS.fffffff).")
@click.option("--driver", default=None, help="Only this driver's log (a crash dump holds one per KMDF driver).")
def logdump(input_path, options, as_json, timestamps, driver):
    """Print a decoded log shaped like !wdfkd.wdflogdump: sequence, function, message."""
    from parsers.evidence import load
    from reports.logdump import iter_logdump_json, render_logdump

    logset = load(input_path, options).logset
    if not any(m.level != DEBUGGER for m in logset.messages):
        held = "; it holds a bugcheck (use `wdftriage triage`)" if logset.bugcheck else ""
        raise EvidenceError(input_path, "no framework log in this file (looked for !wdflogdump/!wdfcrashdump/"
                                        f"!rcdrlogdump/tracefmt records, an IFR log, a crash dump holding one){held}")
    logset = _only_driver(logset, driver)
    for warning in logset.warnings:
        click.echo(f"wdftriage: warning: {warning}", err=True)
    if as_json:
        _stream(iter_logdump_json(logset), None)
    else:
        click.echo(render_logdump(logset, timestamps=timestamps), nl=False)


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@_decode_options
@click.option("--kind", type=click.Choice(TIMELINE_KINDS), default="states", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "parquet", "json"]), default="table",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Output file (required for parquet).")
def timeline(inputs, options, kind, fmt, output):
    """Export the requests, queues or states timeline (columns: see analyzer.timelines)."""
    from reports.tables import export_frame

    result = run_triage(list(inputs), options, progress=_progress)
    frame = getattr(result.timelines, kind)
    if fmt == "parquet" and output is None:
        raise click.UsageError("--format parquet needs -o FILE")
    data = export_frame(frame, fmt)
    if isinstance(data, bytes):
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_bytes(data)
        click.echo(f"wrote {output} ({len(frame)} rows)", err=True)
    else:
        _write(data, output)


@main.command()
def rules():
    """List the rules with what they look for."""
    from analyzer.rules import describe

    for rule in describe():
        click.echo(f"{rule['id']}  {rule['title']}\n")
        click.echo("    " + rule["doc"].replace("\n", "\n    ") + "\n")


@main.command()
def scenarios():
    """Score triage on the bundled scenario corpus and print the per-rule confusion table."""
    from analyzer.scenarios import evaluate, render

    outcomes = evaluate()
    click.echo(render(outcomes))
    sys.exit(EXIT_OK if all(o.ok for o in outcomes) else EXIT_FINDINGS)


@main.group()
def tmf():
    """Trace message format (TMF) tools."""


@tmf.command("extract")
@click.argument("pdb", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Directory for the <guid>.tmf files.")
def tmf_extract(pdb, out_dir):
    """Write the TMF files of a PDB's WPP annotations, like tracepdb."""
    from parsers.pdb import tmf_messages_from_pdb
    from parsers.tmf import write_tmf_files

    messages = tmf_messages_from_pdb(pdb)
    written = write_tmf_files(messages, out_dir, (Path(pdb).name, "extracted by wdftriage tmf extract"))
    for path in written:
        click.echo(str(path))
    click.echo(f"{len(messages)} messages in {len(written)} TMF file(s)", err=True)


@main.command()
def recognition():
    """Measure recognition without TMF on the bundled samples (per message kind); exit 1 if any state
    transition is missed or wrong."""
    from analyzer.recognition import accuracy, render, sample_logs
    from analyzer.scenarios import samples_dir

    table = accuracy(sample_logs(), samples_dir() / "tmf")
    click.echo(render(table), nl=False)
    states = table[table["kind"] == "state"]
    perfect = not states.empty and int(states["wrong"].sum()) == 0 and int(states["unknown"].sum()) == 0
    sys.exit(EXIT_OK if perfect else EXIT_FINDINGS)


@main.command()
@click.argument("dump_path", metavar="DUMP", type=click.Path(exists=True, dir_okay=False))
@_decode_options
@click.option("--driver", default=None, help="Only this driver's log (name as in the driver list, no .sys).")
@click.option("--timestamps", is_flag=True, help="Prefix lines with the record time (MM/DD/YYYY-HH:MM:SS.fffffff).")
def crashdump(dump_path, options, driver, timestamps):
    """KMDF picture of a kernel crash dump, shaped like !wdfkd.wdfcrashdump: the framework version, the KMDF
    drivers with their versions, then each driver's IFR log (every log the dump holds, read through its page
    tables)."""
    from parsers.dump import read_dump
    from parsers.evidence import dump_logset
    from reports.crashdump import render_crashdump

    dump = read_dump(dump_path)
    logset = _only_driver(dump_logset(dump, dump_path, options), driver)
    for warning in logset.warnings:
        click.echo(f"wdftriage: warning: {warning}", err=True)
    click.echo(render_crashdump(dump, logset, dump_path, timestamps=timestamps), nl=False)


def _only_driver(logset, driver: str | None):
    """The LogSet restricted to one driver's log (EvidenceError naming the logs there are when it has none)."""
    if driver is None:
        return logset
    names = {name.lower(): name for name in logset.logs}
    if driver.lower() not in names:
        raise EvidenceError(logset.source, f"no IFR log of driver {driver!r}; logs found: "
                                           f"{', '.join(sorted(logset.logs)) or 'none'}")
    keep = names[driver.lower()]
    logset.messages = [m for m in logset.messages if m.log == keep]
    logset.logs = {keep: logset.logs[keep]}
    return logset


# --- object views (analyzer/objects, reports/views.py) ----------------------------------------------------------

def _handle(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.replace("`", ""), 16)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a hex handle", param_hint="HANDLE") from None


def _object_view(view: str, handle_required: bool):
    """A command `wdftriage <view> SNAPSHOT|DUMP [HANDLE]` printing the wdfkd-shaped view."""

    @click.argument("target_path", metavar="SNAPSHOT|DUMP", type=click.Path(exists=True, dir_okay=False))
    @click.argument("handle", required=handle_required)
    @click.option("--pdb", "pdb", multiple=True, type=click.Path(exists=True, dir_okay=False),
                  help="PDB with the framework's type information (layouts, first source).")
    @click.option("--layout", "layout", type=click.Path(exists=True, dir_okay=False), default=None,
                  help="Layout profile (wdftriage layout extract), used for fields no earlier source gives.")
    def command(target_path, handle, pdb, layout):
        from analyzer.object_views import run_view
        from analyzer.objects.commands import open_file

        click.echo(run_view(view, open_file(target_path, pdb, layout), _handle(handle)), nl=False)

    command.__doc__ = {
        "driverinfo": "KMDF drivers with their devices and queues, like !wdfkd.wdfdriverinfo.",
        "device": "A WDFDEVICE: machines' current states and 8-entry histories, queues, children (!wdfdevice).",
        "devicequeues": "The queues of a WDFDEVICE (all devices without HANDLE) with the requests on each list "
                        "(!wdfdevicequeues).",
        "queue": "A WDFQUEUE with its state and the requests on each of its lists (!wdfqueue).",
        "request": "A WDFREQUEST: its IRP, queue, list and EvtIoStop acknowledgement (!wdfrequest).",
        "handle": "What a WDF handle names: type, object address, child handles (!wdfhandle).",
    }[view]
    return main.command(view)(command)


for _view, _needs_handle in (("driverinfo", False), ("device", True), ("devicequeues", False), ("queue", True),
                             ("request", True), ("handle", True)):
    _object_view(_view, _needs_handle)


@main.group()
def layout():
    """Structure layouts of the framework objects (for the object views)."""


@layout.command("extract")
@click.argument("pdb", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Profile file (JSON).")
@click.option("--all-types", is_flag=True, help="Every named structure, not only the ones the walkers read.")
def layout_extract(pdb, output, all_types):
    """Write a layout profile (fields, offsets, sizes, bitfields) from a PDB's type information."""
    import json

    from analyzer.objects.layout import WALKED_TYPES
    from parsers.pdb_types import profile_from_pdb

    profile = profile_from_pdb(pdb, None if all_types else list(WALKED_TYPES))
    _write(json.dumps(profile, indent=1, sort_keys=True) + "\n", output)
    click.echo(f"{len(profile['types'])} types", err=True)


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@_decode_options
@click.option("-o", "--output", default="results.parquet", show_default=True, type=click.Path(dir_okay=False),
              help="Inputs table; findings and buckets go beside it (NAME.findings.parquet, NAME.buckets.parquet).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Local worker processes (default: one per CPU; 0 runs in this process).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run on the Dask distributed cluster whose scheduler is at ADDRESS (e.g. tcp://host:8786).")
@click.option("--report", "report", type=click.Path(dir_okay=False), default=None,
              help="Also write an HTML page of the buckets, inputs and findings.")
def batch(inputs, options, output, workers, scheduler, report):
    """Triage every file under INPUT... (files and folders, any mix of dumps, IFR logs and pasted text), each on
    its own, into Parquet tables with failure buckets; inputs already in the output (by sha256) are skipped."""
    from rich.console import Console

    from analyzer.batch import OptionKey, buckets, run_batch
    from reports.batch_html import print_summary, render_batch_html

    key = OptionKey(tuple(options.tmf), options.arch, options.tmf_cache)
    run = run_batch(list(inputs), output, key, workers, scheduler, _batch_progress)
    console = Console() if sys.stdout.isatty() else Console(width=200)  # files and pipes get whole lines
    groups = buckets(run.inputs, run.findings)
    print_summary(console, run.inputs, groups, run.triaged, run.skipped)
    click.echo("wrote " + ", ".join(str(p) for p in run.files.values()), err=True)
    if report:
        _write(render_batch_html(run.inputs, run.findings, groups), report)


def _batch_progress(total: int):
    """A rich progress bar on stderr for ``total`` inputs (when stderr is a terminal); returns its advance."""
    if total == 0 or not sys.stderr.isatty():
        return lambda: None
    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(console=Console(stderr=True), transient=True)
    task = bar.add_task("triaging", total=total)
    bar.start()

    def advance():
        bar.advance(task)
        if bar.tasks[task].finished:
            bar.stop()

    return advance
