#!/bin/sh
# Run the test suite from a fresh clone: sets up .venv on first use, checks the code with ruff (configuration in
# pyproject.toml), then runs pytest.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
"$here/.ci/bootstrap"
cd "$here"
.venv/bin/ruff check --quiet .
exec .venv/bin/python -m pytest -q "$@"
