#!/usr/bin/env bash
# Install (if needed) and run the whole test suite, notebooks included, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1 MPLBACKEND=Agg
python -m pytest -q -p no:cacheprovider "$@"
