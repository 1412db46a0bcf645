"""Start-up cost: the command line module imports nothing heavy until a command needs it."""
from __future__ import annotations

import subprocess
import sys

from paths import ROOT


def test_cli_import_loads_no_pandas_or_pyarrow():
    probe = ("import sys, analyzer.cli; "
             "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'pyarrow', 'numpy', 'dask'})))")
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == ""


def test_help_runs_without_heavy_imports():
    probe = ("import sys\nfrom analyzer.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print('HEAVY', sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'pyarrow'}))")
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "Commands:" in run.stdout and "triage" in run.stdout
    assert run.stdout.strip().endswith("HEAVY []")


def test_fail_on_choices_are_the_severities():
    from analyzer.cli import SEVERITY_NAMES
    from analyzer.result import Severity

    assert SEVERITY_NAMES == tuple(s.name.lower() for s in sorted(Severity))
