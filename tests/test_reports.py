"""Renderers: JSON against its schema, Markdown shape, and hostile evidence through every renderer."""
from __future__ import annotations

import json
import re
from importlib import resources

import jsonschema
import pytest

from parsers.decode import DecodeOptions
from analyzer.triage import analyze, triage
from paths import SAMPLES
from stress_logs import stress_log
from parsers.errors import EvidenceError
from parsers.logtext import read_log_text
from parsers.records import INFERRED_MARK
from reports import FORMATS, render
from reports.common import MAX_TEXT

SCENARIO = str(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr")
HOSTILE = ['<script>document.title="PWNED"</script>', '"><img src=x onerror=alert(1)>', "</script><b id=pwn>",
           "\u202eevil\u202c", "nul\x00byte", "`|`|``` fence"]


def _schema():
    return json.loads(resources.files("reports").joinpath("schema/triage-result.v2.json").read_text())


@pytest.fixture(scope="module")
def result():
    return triage([SCENARIO], DecodeOptions([str(SAMPLES / "tmf")]))


def hostile_result():
    """A pasted log whose driver name, message text and evidence carry script, quotes, bidi and a 1 MB string."""
    evil = " ".join(HOSTILE)
    lines = [f"0: kd> !wdflogdump {HOSTILE[0]}",
             "1: FxPkgPnp::PnpEnterNewState - WDFDEVICE 0x0000587CCCC6DB88 !devobj 0xFFFFA783333F8DF0 entering PnP State "
             "WdfDevStatePnpInitStarting from WdfDevStatePnpInit",
             f"2: {HOSTILE[1]} - {evil}",
             f"3: Evil::Func - {'A' * 1_000_000}"]
    logset = read_log_text("\n".join(lines), f"{HOSTILE[1]}.txt")
    return analyze([logset])


def test_json_validates_against_the_versioned_schema(result):
    doc = json.loads(render(result, "json"))
    jsonschema.validate(doc, _schema())
    assert doc["schema_version"] == "2" and {f["rule"] for f in doc["findings"]} == {"WDF001", "WDF002", "WDF004"}
    wdf002 = next(f for f in doc["findings"] if f["rule"] == "WDF002")
    assert doc["events"][wdf002["evidence"][-1]["index"]]["text"] == wdf002["evidence"][-1]["text"]
    assert doc["timelines"]["requests"][-1]["outcome"] == "outstanding"


def test_schema_rejects_a_wrong_document(result):
    doc = json.loads(render(result, "json"))
    doc["findings"][0]["severity"] = "catastrophic"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, _schema())


def test_markdown_is_an_issue_comment(result):
    md = render(result, "md")
    assert md.startswith("## WDF triage")
    assert re.search(r"^\| WDF002 \| ERROR \| WDFDEVICE 0x[0-9a-f]+ WDFQUEUE 0x[0-9a-f]+ WDFREQUEST 0x[0-9a-f]+ \|", md, re.M)
    assert md.count("<details>") == md.count("</details>") == 3
    assert md.count("```text") == 3


def test_text_report_is_analyze_shaped(result):
    text = render(result, "text")
    assert "WDF Triage Analysis" in text and "PROBABLE CAUSE:" in text and "SUGGESTED FIX:" in text
    assert "\x1b[" not in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_content_is_escaped_everywhere(fmt):
    out = render(hostile_result(), fmt)
    assert len(out) < 2_000_000  # a 1 MB line is cut, never copied into every section
    assert "\u202e" not in out and "\x00" not in out
    if fmt == "json":
        jsonschema.validate(json.loads(out), _schema())
        return
    if fmt in ("html", "md"):
        rendered = re.sub(r"(`{3,})text\n.*?\n\1(?=\n|$)", "", out, flags=re.S)  # fenced blocks are shown literally
        assert "<script>document" not in rendered and "<img" not in rendered and "<b id=pwn>" not in rendered
    if fmt == "html":
        assert len(re.findall(r"<script", out)) == 1  # only our own filter script
        assert "&lt;script&gt;document.title=&quot;PWNED&quot;" in out
        assert "more characters]" in out  # the 1 MB message is shown cut, with a marker


def test_evidence_strings_are_bounded():
    from reports.common import clean
    assert clean("x" * 5000).endswith(f"… [{5000 - MAX_TEXT} more characters]")
    assert clean("a\u202eb\x00") == "a\\u202eb\\u0000"


def test_html_is_self_contained_and_small(result):
    page = render(result, "html")
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert len(page) < 300_000
    assert 'class="request outstanding"' in page and 'data-rule="WDF002"' in page


@pytest.mark.parametrize("path", sorted((SAMPLES.parent / "tests" / "data" / "real-logs").rglob("*.txt"))
                         + [SAMPLES / "dumps" / "evtiostop-9f.dmp"], ids=lambda p: p.name)
def test_every_real_input_renders_and_validates(path):
    try:
        result = triage([str(path)], DecodeOptions([str(SAMPLES / "tmf")]))
    except EvidenceError as exc:  # neither log records nor a bugcheck: one clear error instead of an empty report
        assert "nothing recognized" in str(exc)
        return
    jsonschema.validate(json.loads(render(result, "json")), _schema())
    page = render(result, "html")
    assert page.count("<script") == 1 and page.endswith("</html>\n")


def test_markdown_renders_as_an_issue_comment(result):
    """Rendered by a CommonMark engine with tables and raw HTML on (as GitHub/Azure DevOps do)."""
    from markdown_it import MarkdownIt

    page = MarkdownIt("commonmark").enable("table").render(render(result, "md"))
    assert page.count("<table>") == 2  # findings summary + inputs
    summary = page.split("<table>")[1].split("</table>")[0]
    assert summary.count("<tr>") == 1 + len(result.findings)  # header row + one row per finding
    assert page.count("<details>") == 3 and page.count("<pre><code class=\"language-text\">") == 3
    assert "<td>WDF002</td>" in page and "Power Stop Notifying Driver" in page


def test_hostile_markdown_stays_inert_when_rendered():
    from markdown_it import MarkdownIt

    page = MarkdownIt("commonmark").enable("table").render(render(hostile_result(), "md"))
    assert "<script" not in page and "<img" not in page and "<b id=pwn>" not in page


def test_evidence_recognized_without_tmf_is_marked_in_every_format():
    path = [str(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr")]
    guessed, exact = triage(path), triage(path, DecodeOptions(tmf=[str(SAMPLES / "tmf")]))
    lines = [e for f in guessed.findings for e in f.evidence]
    assert lines and all(e.inferred for e in lines)
    assert not any(e.inferred for f in exact.findings for e in f.evidence)
    for fmt in ("text", "md", "html"):
        assert render(guessed, fmt).count(INFERRED_MARK) == len(lines), fmt
        assert INFERRED_MARK not in render(exact, fmt), fmt
    doc = json.loads(render(guessed, "json"))
    jsonschema.validate(doc, _schema())
    assert all(e["inferred"] for f in doc["findings"] for e in f["evidence"])


def test_html_chart_stays_small_for_a_long_stress_log():
    """20,000 PnP transitions of one device and 300 requests (a long sleep/resume test): the chart draws the
    transitions too close to tell apart as grey bands counting them, at most 100 request rows (the one never
    completed among them), and the last state on its own."""
    page = render(analyze([read_log_text(stress_log(20000, 300, 1), "stress.txt")]), "html")  # request 0 never completes
    chart = page[page.index("<svg"):page.index("</svg>")]
    assert chart.count("<rect") < 1200 and 'class="dense"' in chart and "transitions from" in chart
    assert chart.count('class="request') == 100 and chart.count('class="request outstanding"') == 1
    assert "200 more requests not drawn" in chart and len(chart) < 400_000


def test_human_reports_show_25_findings_per_rule_and_count_the_rest():
    """40 requests never completed: text, Markdown and HTML show the first 25 WDF003 findings and say how many
    more there are; JSON holds all 40."""
    queued = "{n}: FxIoQueue::QueueRequest - Queuing WDFREQUEST 0x{r:016X} on WDFQUEUE 0x00003FFF8B6DA5C8"
    result = analyze([read_log_text("\n".join(queued.format(n=k, r=0x3FFF00000000 + 8 * k) for k in range(40)),
                                    "leaks.txt")])
    assert sum(f.rule == "WDF003" for f in result.findings) == 40
    for fmt in ("text", "md", "html"):
        page = render(result, fmt)
        assert page.count("WDFREQUEST 0x3fff000000") >= 25 and "15 more WDF003 finding(s) not shown" in page
        assert "WDFREQUEST 0x3fff00000138" not in page  # the 40th is left out
    assert len([f for f in json.loads(render(result, "json"))["findings"] if f["rule"] == "WDF003"]) == 40
