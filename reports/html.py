"""The triage result as one self-contained HTML page: findings, a timeline chart per device, the decoded log.

The charts are inline SVG written here, not a charting library: the page must open offline from a
bug attachment (no CDN), stay small (a charting library alone is hundreds of KB), and every string
in it comes from untrusted evidence, which is far easier to keep escaped when the markup is ours.
SVG ``<title>`` elements give hover details without script. The only script is a small filter for
the decoded log, allowed by a Content-Security-Policy hash; evidence never goes inside it.

The x axis is event order (every event gets the same width, so a burst of transitions stays
readable next to a ten-minute hang); tick labels and hover text show the record times when the
evidence has them.
"""
from __future__ import annotations

import base64
import hashlib
import html
from itertools import islice

import pandas as pd

from analyzer.result import Finding, TriageResult
from analyzer.states import MACHINE_TITLES, short_name
from analyzer.result import hexh
from reports.columns import columns
from reports.views import finding_view_title, render_finding_view
from reports.common import INFERRED, clean, headline, identity, left_out_line, objects, shown_findings

_WIDTH, _LEFT, _ROW, _BAR = 1180, 210, 24, 16
_DENSE, _DENSE_FILL = 1.0, "#c9cdd6"  # state segments narrower than this (pixels) are drawn together, in grey
_MAX_REQUESTS = 100  # request rows drawn per device chart
_SCRIPT = """
document.getElementById('logfilter').addEventListener('input', function (e) {
  var needle = e.target.value.toLowerCase();
  document.querySelectorAll('#log tbody tr').forEach(function (row) {
    row.hidden = needle !== '' && row.textContent.toLowerCase().indexOf(needle) < 0;
  });
});
"""
_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;max-width:1280px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px}code,pre,.mono{font-family:ui-monospace,Consolas,monospace;font-size:12px}
table{border-collapse:collapse}td,th{border:1px solid #d5d9e0;padding:3px 6px;text-align:left;vertical-align:top}
.sev-CRITICAL,.sev-ERROR{color:#b00020;font-weight:600}.sev-WARNING{color:#9a6700;font-weight:600}.sev-INFO{color:#0b6bcb}
.finding{border-left:4px solid #b00020;padding:4px 12px;margin:12px 0;background:#fbfbfd}
.finding.level-WARNING{border-color:#d4a72c}.finding.level-INFO{border-color:#0b6bcb}
svg text{font:11px system-ui,sans-serif}.chart{overflow-x:auto;border:1px solid #e3e6eb;margin:8px 0 20px}
#log td{font-family:ui-monospace,Consolas,monospace;font-size:12px;white-space:pre-wrap;word-break:break-all}
#log tr:target{background:#fff3c4}.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:12px;height:12px;vertical-align:middle;margin-right:4px}
"""
_STATE_FILL = {False: "#cfe8d5", True: "#f6d58e"}
_QUEUE_FILL = {"FxIoQueuePowerOn": "#cfe8d5", "FxIoQueuePowerOff": "#d7dbe3"}


def _e(text: object, limit: int = 2000) -> str:
    return html.escape(clean(text, limit), quote=True)


def _time_labels(result: TriageResult):
    """event index -> its time as a label ("" past the last event), the time column read once."""
    times, count = result.events.frame["timestamp"].array, len(result.events)

    def label(index: int | None) -> str:
        if index is None or index >= count:
            return ""
        when = times[index]  # the one value, not the whole row as an Event
        return _time_text(index, None if when is pd.NaT else when)
    return label


def _time_text(index: int, when) -> str:
    """An event's time as a label (its row number when the evidence holds no time)."""
    return when.strftime("%H:%M:%S.%f")[:-3] if when else f"#{index}"


class _Axis:
    """Event index -> x pixel over [first, last] event of a device."""

    def __init__(self, first: int, last: int):
        self.first, self.last = first, max(last, first + 1)

    def x(self, index: float) -> float:
        return _LEFT + (index - self.first) / (self.last - self.first) * (_WIDTH - _LEFT - 20)


class _Timelines:
    """The columns of the three timelines a chart draws, read once per page, and each device's rows."""

    def __init__(self, result: TriageResult):
        t = result.timelines
        self.states = columns(t.states, ("device", "machine", "index", "state", "transitional"))
        self.queues = columns(t.queues, ("device", "queue", "index", "power_state"))
        self.requests = columns(t.requests, ("device", "request", "callback", "first_index", "end_index", "outcome",
                                             "status_name"))
        self.drawn = t.queues["power_state"].notna().tolist()  # queue rows with a power state to draw
        self.state_rows = _rows_by_device(self.states["device"])
        self.queue_rows = _rows_by_device(self.queues["device"])
        self.request_rows = _rows_by_device(self.requests["device"])
        self.devices = list(dict.fromkeys(d for d in self.states["device"] + self.queues["device"] if d is not None))

    def indexes(self, device: int) -> list[int]:
        """Every event index of the device's transitions, queue events and request arrivals and ends."""
        rows = self.requests
        idx = [self.states["index"][r] for r in self.state_rows.get(device, ())]
        idx += [self.queues["index"][r] for r in self.queue_rows.get(device, ())]
        idx += [rows["first_index"][r] for r in self.request_rows.get(device, ())]
        idx += [rows["end_index"][r] for r in self.request_rows.get(device, ()) if rows["end_index"][r] is not None]
        return sorted(idx)


def _rows_by_device(devices: list) -> dict[int, list[int]]:
    """device -> the positions of its rows, in order (rows with no device left out)."""
    rows: dict[int, list[int]] = {}
    for position, device in enumerate(devices):
        if device is not None:
            rows.setdefault(device, []).append(position)
    return rows


def _rect(x0: float, x1: float, y: float, fill: str, tip: str, extra: str = "") -> str:
    return (f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 2):.1f}" height="{_BAR}" fill="{fill}" '
            f'stroke="#8a93a3" stroke-width="0.5" {extra}><title>{tip}</title></rect>')


def _label(y: float, text: str) -> str:
    return f'<text x="6" y="{y + 12:.1f}">{text}</text>'


def _bands(starts: list[int], axis: _Axis, y: float, end: int, label, fill) -> list[str]:
    """Consecutive state segments of one machine/queue row, starting at event indexes ``starts``; ``fill(k)``
    gives segment k's (state, colour, name). Segments narrower than :data:`_DENSE` pixels in a row are drawn as
    one "dense" band saying how many transitions it holds (a million transitions would otherwise be a million
    rectangles in a 1000-pixel chart); the last segment is always drawn on its own."""
    out = []
    stops = starts[1:] + [end]
    i = 0
    while i < len(starts):
        start, stop = starts[i], stops[i]
        j = i
        while j < len(starts) - 1 and axis.x(stops[j]) - axis.x(starts[j]) < _DENSE:
            j += 1
        if j - i > 1:  # segments i .. j-1 are too narrow to draw one by one
            tip = _e(f"{j - i} transitions from {label(start)} to {label(starts[j])}")
            out.append(_rect(axis.x(start), axis.x(starts[j]), y, _DENSE_FILL, tip, 'class="dense"'))
            i = j
            continue
        state, colour, name = fill(i)
        tip = _e(f"{name} from {label(start)} to {label(stop)}")
        out.append(_rect(axis.x(start), axis.x(stop), y, colour, tip, f'data-state="{_e(state, 80)}"'))
        if axis.x(stop) - axis.x(start) > 7 * len(name):
            out.append(f'<text x="{axis.x(start) + 3:.1f}" y="{y + 12:.1f}">{_e(name, 60)}</text>')
        i += 1
    return out


def _chart(t: _Timelines, label, device: int, findings: list[Finding]) -> str:
    indexes = t.indexes(device)
    axis = _Axis(indexes[0], indexes[-1] + 1)
    end = indexes[-1] + 1
    parts, y = [], 30.0
    states, state_rows = t.states, t.state_rows.get(device, [])
    for machine in [m for m in MACHINE_TITLES if m in {states["machine"][r] for r in state_rows}]:
        rows = [r for r in state_rows if states["machine"][r] == machine]
        starts = [states["index"][r] for r in rows]
        parts.append(_label(y, _e(MACHINE_TITLES[machine])))
        parts += _bands(starts, axis, y, end, label, lambda k, m=machine, starts=starts, state=[
            states["state"][r] for r in rows], transitional=[states["transitional"][r] for r in rows]: (
            state[k], "#f2a7a7" if transitional[k] and starts[k] == starts[-1] else _STATE_FILL[bool(transitional[k])],
            short_name(m, state[k])))
        y += _ROW
    queues, by_queue = t.queues, {}
    for r in t.queue_rows.get(device, []):
        if t.drawn[r] and queues["queue"][r] is not None:
            by_queue.setdefault(queues["queue"][r], []).append(r)
    for queue, rows in by_queue.items():
        power = [queues["power_state"][r] for r in rows]
        parts.append(_label(y, f"WDFQUEUE {hexh(queue)}"))
        parts += _bands([queues["index"][r] for r in rows], axis, y, end, label, lambda k, power=power: (
            power[k], _QUEUE_FILL.get(power[k], "#f6d58e"), power[k].replace("FxIoQueuePower", "")))
        y += _ROW
    requests, rows = t.requests, t.request_rows.get(device, [])
    if len(rows) > _MAX_REQUESTS:  # never-completed requests first: they are what the chart is for
        outstanding = [r for r in rows if requests["outcome"][r] == "outstanding"]
        shown = sorted((outstanding + [r for r in rows if requests["outcome"][r] != "outstanding"])[:_MAX_REQUESTS])
        parts.append(_label(y, f"{len(rows) - len(shown)} more requests not drawn (wdftriage timeline requests)"))
        y += _ROW
        rows = shown
    for r in rows:
        request, start = requests["request"][r], requests["first_index"][r]
        outstanding = requests["outcome"][r] == "outstanding"
        stop = end if outstanding else requests["end_index"][r]
        tip = _e(f"WDFREQUEST {hexh(request)} {requests['callback'][r] or ''} {requests['outcome'][r]}"
                 f" {requests['status_name'][r] or ''} from {label(start)} to "
                 f"{'end of log' if outstanding else label(stop)}")
        fill = 'url(#outstanding)' if outstanding else "#9cc3f0"
        parts.append(_label(y, f"WDFREQUEST {hexh(request)}"))
        parts.append(_rect(axis.x(start), axis.x(stop), y, fill, tip,
                           f'class="request{" outstanding" if outstanding else ""}" data-request="{hexh(request)}"'))
        if outstanding:
            parts.append(f'<text x="{axis.x(start) + 4:.1f}" y="{y + 12:.1f}" fill="#8b0000">never completed</text>')
        y += _ROW
    pinned = [(n, f) for n, f in findings if f.at_index is not None]
    top = 14 + 12 * len(pinned)
    for k, (n, f) in enumerate(pinned):
        x, label_y = axis.x(f.at_index), 12 + 12 * k
        parts.append(f'<g class="pin" id="pin-{n}" data-rule="{f.rule}"><a href="#finding-{n}"><line x1="{x:.1f}" x2="{x:.1f}" '
                     f'y1="{label_y:.1f}" y2="{y + top - 16:.1f}" stroke="#b00020" stroke-width="2"/>'
                     f'<circle cx="{x:.1f}" cy="{label_y:.1f}" r="4" fill="#b00020"/>'
                     f'<text x="{x - 6:.1f}" y="{label_y + 4:.1f}" text-anchor="end" fill="#b00020">{f.rule}</text>'
                     f'<title>{_e(f.summary, 300)}</title></a></g>')
    shift = top - 16
    parts = [f'<g transform="translate(0,{shift})">'] + [p for p in parts if 'class="pin"' not in p] + ["</g>"] + \
        [p for p in parts if 'class="pin"' in p]
    ticks = [(indexes[0], "start"), (indexes[len(indexes) // 2], "middle"), (indexes[-1], "end")]
    parts += [f'<text x="{axis.x(i):.1f}" y="{y + top + 2:.1f}" text-anchor="{anchor}" fill="#5b6472">'
              f'{_e(label(i))}</text>' for i, anchor in ticks]
    height = y + top + 22
    defs = ('<defs><pattern id="outstanding" width="8" height="8" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="8" height="8" fill="#f8c4c4"/>'
            '<line x1="0" y1="0" x2="0" y2="8" stroke="#c0392b" stroke-width="3"/></pattern></defs>')
    return (f'<div class="chart"><svg xmlns="http://www.w3.org/2000/svg" class="timeline" data-device="{hexh(device)}" '
            f'width="{_WIDTH}" height="{height:.0f}" viewBox="0 0 {_WIDTH} {height:.0f}">{defs}{"".join(parts)}</svg></div>')


def _finding_html(n: int, f: Finding) -> str:
    pin = f' <a href="#pin-{n}">(on the timeline)</a>' if f.at_index is not None else ""
    lines = "".join(
        f'<tr><td class="mono"><a href="#event-{e.index}">{_e(e.ref, 200)}</a></td><td>{_e(e.role, 100)}</td>'
        f'<td class="mono">{_e(e.text, 400)}{" " + INFERRED if e.inferred else ""}</td></tr>' for e in f.evidence)
    return (f'<div class="finding level-{f.severity.name}" id="finding-{n}"><h3><span class="sev-{f.severity.name}">'
            f'{f.rule} {_e(f.title)} [{f.severity.name}]</span></h3><p>{_e(f.summary)}{pin}</p>'
            f'<p><b>Objects:</b> <span class="mono">{_e(objects(f))}</span></p>'
            f'<p><b>Probable cause:</b> {_e(f.probable_cause)}</p><p><b>Suggested fix:</b> {_e(f.suggested_fix)}</p>'
            f'<table><tr><th>evidence</th><th>role</th><th>line</th></tr>{lines}</table>{_object_view_html(f)}</div>')


def _object_view_html(f: Finding) -> str:
    """The object view an objects finding rests on, and where the finding was found."""
    if f.object_view is None:
        return ""
    view = "\n".join(render_finding_view(f.object_view).splitlines()[:40])
    return (f'<p><b>{finding_view_title(f.facts)}</b> (found in: {_e(f.facts.get("found_in", "objects"))}):</p>'
            f'<pre class="mono">{_e(view, 8000)}</pre>')


def render_html(result: TriageResult, max_events: int = 20000) -> str:
    """The whole page as one string (no external resources)."""
    numbered, left_out = shown_findings(result.findings)
    script_hash = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{script_hash}'"
    body = [f"<h1>WDF triage</h1><p>{_e(headline(result))}</p>"]
    if result.bugcheck_analysis:
        b = result.bugcheck_analysis
        rows = "".join(f"<tr><td>{p['name']}</td><td class=mono>{_e(p['shown'])}</td><td>{_e(p['meaning'])}</td></tr>"
                       for p in b["parameters"])
        body.append(f"<h2>Bugcheck {_e(b['name'])} (0x{b['code']:x})</h2><p>{_e(b['summary'])}</p><table>{rows}</table>")
        details = "".join(f"<tr><td>{_e(key)}</td><td>{_e(value, 300)}</td></tr>" for key, value in b.get("details", {}).items())
        frames = "".join(f"<tr><td class=mono>{_e(f['frame'], 200)}</td><td>{_e(f['role'])}</td></tr>" for f in b.get("frames", []))
        body.append((f"<table>{details}</table>" if details else "") +
                    (f"<details><summary>Stack ({len(b['frames'])} frames)</summary><table>{frames}</table></details>"
                     if frames else ""))
    body.append("<h2>Timeline</h2>")
    body.append('<p class="legend"><span><i class="sw" style="background:#cfe8d5"></i>resting state / queue on</span>'
                '<span><i class="sw" style="background:#f6d58e"></i>transitional</span>'
                '<span><i class="sw" style="background:#f2a7a7"></i>left in a transitional state</span>'
                '<span><i class="sw" style="background:#9cc3f0"></i>request (arrival to completion)</span>'
                '<span><i class="sw" style="background:#f8c4c4"></i>request never completed</span>'
                f'<span><i class="sw" style="background:{_DENSE_FILL}"></i>many transitions, too close to draw apart</span></p>')
    timelines, label = _Timelines(result), _time_labels(result)
    devices = timelines.devices
    for device in devices:
        mine = [(n, f) for n, f in numbered if f.device == device or (f.device is None and len(devices) == 1)]
        body.append(f"<h3>WDFDEVICE {hexh(device)}</h3>" + _chart(timelines, label, device, mine))
    if not devices:
        body.append("<p>No framework state transitions or queue events in the evidence.</p>")
    body.append("<h2>Findings</h2>" + ("".join(_finding_html(n, f) for n, f in numbered) or "<p>None.</p>")
                + "".join(f"<p>{_e(left_out_line(rule, count))}</p>" for rule, count in left_out.items()))
    rows = "".join(f'<tr id="event-{e.index}"><td>{e.index}</td><td>{"" if e.sequence is None else e.sequence}</td>'
                   f"<td>{_e(_time_text(e.index, e.timestamp))}</td><td>{_e(e.kind.value)}{' (inferred)' if e.inferred else ''}</td>"
                   f"<td>{_e(e.text, 600)}</td></tr>"
                   for e in islice(result.events, max_events))  # rows converted as they are reached, none past the limit
    more = f"<p>{len(result.events) - max_events} more events not shown.</p>" if len(result.events) > max_events else ""
    body.append('<h2>Decoded log</h2><p><input id="logfilter" type="search" placeholder="filter the log" size="40"></p>'
                f'<table id="log"><thead><tr><th>#</th><th>seq</th><th>time</th><th>kind</th><th>message</th></tr></thead>'
                f"<tbody>{rows}</tbody></table>{more}")
    inputs = "".join(f"<tr><td class=mono>{_e(i.path, 300)}</td><td>{i.kind}</td><td>{i.size}</td>"
                     f"<td class=mono>{_e(identity(i))}</td></tr>" for i in result.inputs)
    body.append(f"<h2>Inputs</h2><table><tr><th>path</th><th>kind</th><th>bytes</th><th>identity</th></tr>{inputs}</table>")
    if result.warnings:
        body.append("<h2>Warnings</h2><ul>" + "".join(f"<li>{_e(w, 300)}</li>" for w in result.warnings[:200]) + "</ul>")
    body.append(f"<p><small>wdftriage {_e(result.tool_version)}</small></p>")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            f"<title>WDF triage report</title><style>{_STYLE}</style></head><body>{''.join(body)}"
            f"<script>{_SCRIPT}</script></body></html>\n")
