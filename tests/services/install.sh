#!/usr/bin/env bash
# Installs the local stand-ins the integration tests talk to (MongoDB wire protocol:
# mongoeco; BigQuery: local-bigquery) into .venv-services, from the locked
# tests/services/requirements.txt. They need Python >= 3.13, the project runs on 3.11.
set -euo pipefail
cd "$(dirname "$0")/../.."
UV=${UV:-uv}
VENV=.venv-services

find_python313() {
  if [ -n "${SERVICES_PYTHON:-}" ]; then echo "$SERVICES_PYTHON"; return; fi
  for candidate in python3.13 "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3.13 \
                   "$HOME"/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do
    if [ -x "$(command -v "$candidate" 2>/dev/null || echo "$candidate")" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
      echo "$candidate"; return
    fi
  done
  echo "no Python 3.13 found: set SERVICES_PYTHON to a python3.13 executable" >&2
  exit 1
}

PY=$(find_python313)
if [ ! -x "$VENV/bin/python" ]; then
  "$UV" venv --quiet --python "$PY" "$VENV"
fi
"$UV" pip install --quiet --compile-bytecode --python "$VENV/bin/python" \
  -r tests/services/requirements.txt --override tests/services/overrides.txt

# DuckDB looks for extensions under $HOME/.duckdb; the BigQuery emulator runs with this
# private HOME so that it finds the extensions installed from PyPI instead of downloading.
ext_dir="$VENV/duckdb-home/.duckdb/extensions/v1.5.5/linux_amd64"
mkdir -p "$ext_dir"
for ext in "$VENV"/lib/python3.13/site-packages/duckdb_extension_*/extensions/v1.5.5/*.duckdb_extension; do
  ln -sf "$PWD/$ext" "$ext_dir/"
done
touch "$VENV/.installed"
echo "test services installed in $VENV"
