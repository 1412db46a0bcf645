"""The ``wdftriage`` command line (click). Commands are thin: parse options, call the library, render."""
from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="wdftriage")
def main() -> None:
    """Triage Windows Driver Frameworks (KMDF) crashes and traces: IFR logs, pasted !wdflogdump text."""
