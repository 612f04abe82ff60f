#!/usr/bin/env bash
# Cross-check against hftbacktest: sets up its own virtualenv (tools/crosscheck/.venv,
# git-ignored), builds shadowctl (unless --shadowctl PATH is given), runs the checks of
# the conversion, then every case. Exits 1 when a case is outside the band.
# Extra arguments go to crosscheck.py (see `crosscheck.py --help`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${CROSSCHECK_VENV:-$here/.venv}"

if [ ! -x "$venv/bin/python" ]; then
    echo "==> creating $venv"
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import sys, hftbacktest; sys.exit(hftbacktest.__version__ != "2.4.4")' >/dev/null 2>&1; then
    echo "==> installing hftbacktest 2.4.4 (requirements.txt)"
    "$venv/bin/pip" install --disable-pip-version-check -q -r "$here/requirements.txt"
fi

given=""
for a in "$@"; do
    case "$a" in --shadowctl|--shadowctl=*|--hftbacktest-only) given=1 ;; esac
done
args=("$@")
if [ -z "$given" ]; then
    echo "==> cargo build --release -p shadowctl"
    (cd "$repo" && cargo build --release --locked -q -p shadowctl)
    target="${CARGO_TARGET_DIR:-$repo/target}"
    args+=(--shadowctl "$target/release/shadowctl")
fi

echo "==> checks of the conversion"
(cd "$here" && "$venv/bin/python" -m unittest -q test_crosscheck)

echo "==> cases"
exec "$venv/bin/python" "$here/crosscheck.py" "${args[@]}"
