"""No-TMF recognition: accuracy per message kind on every sample, and triage still finding the bugs."""
from __future__ import annotations

import json

from click.testing import CliRunner

from analyzer.cli import main
from analyzer.recognition import accuracy, render, sample_logs
from analyzer.scenarios import evaluate, render as render_scenarios
from conftest import SAMPLES
from parsers.ifr import parse_ifr
from parsers.recognize import RecognitionMap, learn

# Not recognisable by shape, on purpose: their shapes are shared with other framework messages
# and nothing around them tells which one it is (see parsers/recognize.py).
NEEDS_TMF = {"double-completion": "'has already been completed' is one request handle, like a dozen other messages",
             "dropped-event": "the three pwr-pol 'dropping event' messages differ only in their reason text"}


def test_accuracy_table_states_are_perfect_and_nothing_is_wrong():
    table = accuracy(sample_logs(), SAMPLES / "tmf")
    print("\n" + render(table))
    states = table[table["kind"] == "state"].iloc[0]
    assert states["records"] > 400 and states["recognised"] == states["records"] and states["wrong"] == 0
    assert table["wrong"].sum() == 0
    for kind in ("power_stop_notify", "queue_power_state", "request_completed", "queue_power_stop"):
        row = table[table["kind"] == kind].iloc[0]
        assert row["recognised"] == row["records"], kind


def test_rules_still_find_the_injected_bugs_without_tmf():
    outcomes = {o.name: o for o in evaluate(with_tmf=False)}
    print("\n" + render_scenarios(list(outcomes.values())))
    assert {name for name, o in outcomes.items() if not o.ok} == set(NEEDS_TMF)
    assert outcomes["evtiostop-not-acked"].ok and outcomes["wrapped-mid-scenario"].ok


def test_learned_map_is_saved_per_guid_and_reused(tmp_path):
    log = parse_ifr((SAMPLES / "scenarios" / "evtiostop-not-acked.ifr").read_bytes(), "s")
    learned = learn(log, log.records)
    learned.save(tmp_path)
    files = sorted(tmp_path.glob("*.json"))
    assert files and all(json.loads(f.read_text()) for f in files)
    again = RecognitionMap.load(tmp_path)
    assert again.pairs == learned.pairs
    # a log where the device start was overwritten still decodes with what an earlier log taught
    wrapped = parse_ifr((SAMPLES / "ifr" / "wrapped-x64.ifr").read_bytes(), "w")
    alone = learn(wrapped, wrapped.records)
    helped = learn(wrapped, wrapped.records, known=again)
    count = lambda m: sum(m.get(r.message_guid, r.message_number) is not None for r in wrapped.records)  # noqa: E731
    assert count(helped) > count(alone)


def test_logdump_marks_inferred_lines_and_the_command_prints_the_table(tmp_path):
    run = CliRunner().invoke(main, ["logdump", str(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr"),
                                    "--tmf-cache", str(tmp_path)])
    assert run.exit_code == 0
    notify = next(line for line in run.output.splitlines() if "Power Stop Notifying Driver" in line)
    assert notify.endswith("[inferred: no TMF, recognised by shape]")
    assert list(tmp_path.glob("*.json"))
    table = CliRunner().invoke(main, ["recognition"])
    assert table.exit_code == 0 and "state" in table.output and "0 wrong" in table.output
