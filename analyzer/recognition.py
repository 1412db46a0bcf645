"""How well messages are recognized with no TMF: every sample IFR log decoded twice, with its TMF
(the truth) and with the TMF hidden, compared record by record per message kind."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from analyzer.events import EventKind, kind_of
from analyzer.scenarios import samples_dir
from parsers.catalog import load
from parsers.errors import EvidenceError
from parsers.ifr import parse_ifr
from parsers.recognize import learn
from parsers.tmf import TmfDatabase
from parsers.wpp import messages_from_ifr

COLUMNS = ("kind", "records", "recognized", "general", "wrong", "unknown")


def sample_logs(base: Path | None = None) -> list[Path]:
    """The bundled IFR logs that decode (basic samples and the scenario corpus)."""
    base = base or samples_dir()
    return sorted((base / "ifr").glob("*.ifr")) + sorted((base / "scenarios").glob("*.ifr"))


def accuracy(paths: list[Path], tmf_dir: Path) -> pd.DataFrame:
    """Per message kind (of the true message): records, recognized exactly, recognized as the general form
    of their message family, recognized wrong, left unknown."""
    catalog, tmf = load(), TmfDatabase.from_paths([tmf_dir])
    counts: dict[str, dict[str, int]] = {}
    for path in paths:
        try:
            log = parse_ifr(path.read_bytes(), str(path))
        except EvidenceError:
            continue
        truth = {m.sequence: m for m in messages_from_ifr(log, tmf, str(path), catalog)}
        guessed = {m.sequence: m for m in messages_from_ifr(log, None, str(path), catalog,
                                                            recognized=learn(log, log.records, catalog))}
        for sequence, true in truth.items():
            kind = kind_of(true).value if true.catalog_id else EventKind.RAW.value
            row = counts.setdefault(kind, dict.fromkeys(COLUMNS[1:], 0))
            row["records"] += 1
            guess = guessed[sequence]
            if not guess.inferred:
                row["unknown"] += 1
            elif catalog.entry(guess.catalog_id).format == catalog.entry(true.catalog_id).format and guess.args == true.args:
                row["recognized"] += 1
            elif guess.general and guess.args == true.args[:len(guess.args)] and \
                    catalog.entry(true.catalog_id).format.startswith(catalog.entry(guess.catalog_id).format):
                row["general"] += 1  # right message family and values, its trailing words not known
            else:
                row["wrong"] += 1
    table = pd.DataFrame([{"kind": k, **v} for k, v in sorted(counts.items())], columns=list(COLUMNS))
    return table


def render(table: pd.DataFrame) -> str:
    total = table[list(COLUMNS[1:])].sum()
    lines = ["Recognition with no TMF, per message kind (truth: the same logs decoded with their TMF)", "",
             table.to_string(index=False), "",
             f"all kinds: {total['recognized']} of {total['records']} recognized exactly, {total['general']} as "
             f"the general form of their message (true, less specific), {total['wrong']} wrong, "
             f"{total['unknown']} left unknown (kept with raw arguments)"]
    return "\n".join(lines) + "\n"
