#!/bin/sh
# Run wdftriage from a fresh clone: sets up .venv on first use, then passes every argument on.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
"$here/.ci/bootstrap"
exec "$here/.venv/bin/wdftriage" "$@"
