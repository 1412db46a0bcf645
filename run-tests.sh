#!/bin/sh
# Run the test suite from a fresh clone: sets up .venv on first use, then runs pytest.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
"$here/.ci/bootstrap"
cd "$here"
exec .venv/bin/python -m pytest -q "$@"
