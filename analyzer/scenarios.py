"""The labeled scenario corpus, scored: does triage find exactly the injected bugs?

Each scenario in ``samples/scenarios`` is an IFR log (``<name>.ifr``) written by the sample generator
from a small model of KMDF behaviour, plus ``<name>.expected.json`` naming the findings it must produce
(rule and the objects: device, queue, request). A found finding matches an expected one when the rule
is the same and every object the expectation names is equal. Only findings at warning or above count:
an expected finding found below that is a miss, an unexpected one at or above it is a false alarm.
An expectation marked ``needs_formats`` rests on a message only its format identifies (a failed callback, a
leak report): it is scored with the TMF only.

``python -m analyzer.scenarios`` (or ``wdftriage scenarios``) prints the per-scenario outcome and the
per-rule confusion table; the exit code is 1 when any scenario misses or over-reports.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from parsers.decode import DecodeOptions
from analyzer.result import Finding, Severity
from analyzer.triage import triage

_OBJECTS = ("device", "queue", "request")


def samples_dir() -> Path:
    """The bundled samples directory."""
    return Path(str(resources.files("samples")))


@dataclass
class ScenarioOutcome:
    name: str
    bug: str
    expected: list[dict]
    found: list[Finding]
    matched: list[dict] = field(default_factory=list)
    missed: list[dict] = field(default_factory=list)
    false_alarms: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missed and not self.false_alarms


def _matches(expected: dict, finding: Finding) -> bool:
    if finding.rule != expected["rule"]:
        return False
    return all(getattr(finding, o) == int(expected[o], 16) for o in _OBJECTS if expected.get(o) is not None)


def score(name: str, bug: str, expected: list[dict], findings: list[Finding]) -> ScenarioOutcome:
    """Match findings (at warning or above) against a scenario's expectations."""
    found = [f for f in findings if f.severity >= Severity.WARNING]
    outcome = ScenarioOutcome(name=name, bug=bug, expected=expected, found=found)
    unused = list(found)
    for exp in expected:
        hit = next((f for f in unused if _matches(exp, f)), None)
        if hit is None:
            outcome.missed.append(exp)
        else:
            outcome.matched.append(exp)
            unused.remove(hit)
    outcome.false_alarms = unused
    return outcome


def evaluate(directory: Path | None = None, with_tmf: bool = True) -> list[ScenarioOutcome]:
    """Triage every scenario of the corpus with the bundled sample TMFs (or with none: formats are then
    recognized from payload shapes) and score it."""
    base = directory or samples_dir()
    outcomes = []
    for spec_path in sorted((base / "scenarios").glob("*.expected.json")):
        name = spec_path.name[: -len(".expected.json")]
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        tmf = [str(base / "tmf")] if with_tmf else []
        result = triage([str(spec_path.with_name(name + ".ifr"))], DecodeOptions(tmf=tmf))
        expected = [e for e in spec.get("expected", []) if with_tmf or not e.get("needs_formats")]
        outcomes.append(score(name, spec.get("bug", ""), expected, result.findings))
    return outcomes


def confusion(outcomes: list[ScenarioOutcome]) -> pd.DataFrame:
    """Per rule: expected, found (true positives), missed, false alarms."""
    rows: dict[str, dict[str, int]] = {}
    for o in outcomes:
        for exp in o.expected:
            rows.setdefault(exp["rule"], dict(expected=0, found=0, missed=0, false_alarms=0))["expected"] += 1
        for exp in o.matched:
            rows[exp["rule"]]["found"] += 1
        for exp in o.missed:
            rows[exp["rule"]]["missed"] += 1
        for f in o.false_alarms:
            rows.setdefault(f.rule, dict(expected=0, found=0, missed=0, false_alarms=0))["false_alarms"] += 1
    table = pd.DataFrame.from_dict(rows, orient="index").sort_index()
    table.index.name = "rule"
    return table.reset_index() if not table.empty else pd.DataFrame(columns=["rule", "expected", "found", "missed", "false_alarms"])


def render(outcomes: list[ScenarioOutcome]) -> str:
    """The per-scenario lines and the confusion table as text."""
    lines = ["Scenario corpus: expected vs found (findings at warning or above)", ""]
    width = max((len(o.name) for o in outcomes), default=10)
    for o in outcomes:
        expected = ", ".join(e["rule"] for e in o.expected) or "nothing"
        found = ", ".join(f.rule for f in o.found) or "nothing"
        lines.append(f"{'ok  ' if o.ok else 'FAIL'} {o.name:<{width}}  expected: {expected:<28} found: {found}")
        lines += [f"       missed {m}" for m in o.missed]
        lines += [f"       false alarm {f.rule}: {f.summary}" for f in o.false_alarms]
    lines += ["", "Per rule:", confusion(outcomes).to_string(index=False), ""]
    return "\n".join(lines)


def main() -> int:
    outcomes = evaluate()
    print(render(outcomes))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
