"""Entry point of the in-debugger commands: ``!py -m wdftriage_windbg <command> ...`` in WinDbg/KD.

The debugger's current directory (often a driver's source tree) may hold folders named ``parsers``,
``analyzer`` or ``reports``; ``!py -m`` puts that directory on ``sys.path`` first, so a plain import
would pick them up. This module puts its own directory (where wdftriage's packages are installed) first,
drops the current directory and any of those packages already imported from elsewhere, then runs
``analyzer.debugger.main``.
"""
from __future__ import annotations

import os
import sys

PACKAGES = ("analyzer", "parsers", "reports")


def _isolate() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    cwd = os.path.realpath(os.getcwd())
    sys.path[:] = [here] + [p for p in sys.path
                            if os.path.realpath(p or ".") not in (cwd, os.path.realpath(here))]
    for name in list(sys.modules):
        module_file = getattr(sys.modules[name], "__file__", None) or ""
        if name.split(".")[0] in PACKAGES and not os.path.realpath(module_file).startswith(os.path.realpath(here)):
            del sys.modules[name]


if __name__ == "__main__":
    _isolate()
    from analyzer.debugger import main

    main()
