#!/usr/bin/env bash
# Sets up the virtualenv of the Python example strategy
# (examples/strategies/python): creates it at ${SHADOWKPI_STRATEGY_VENV:-target/strategy-venv}
# (relative to the repo root) unless it exists, installs requirements.txt into it
# unless the same requirements are already installed (a marker holds their
# sha256), and prints the venv's python on the last line of stdout, e.g.
#   py="$(tools/strategy-venv.sh | tail -n1)"; "$py" examples/strategies/python/quoting_strategy.py
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$repo"
venv="${SHADOWKPI_STRATEGY_VENV:-target/strategy-venv}"
req="examples/strategies/python/requirements.txt"
marker="$venv/.requirements.sha256"

if [ ! -x "$venv/bin/python" ]; then
    echo "==> creating $venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
fi
sum="$(sha256sum "$req" | cut -d' ' -f1)"
if [ "$(cat "$marker" 2>/dev/null)" != "$sum" ]; then
    echo "==> installing $req"
    "$venv/bin/pip" install --disable-pip-version-check -q -r "$req"
    echo "$sum" >"$marker"
fi
cd "$venv" && echo "$(pwd)/bin/python"
