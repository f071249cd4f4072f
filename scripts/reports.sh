#!/usr/bin/env bash
# Install (if needed) and execute every notebook with papermill on the embedded default (tf_efficientnet_lite0 +
# all-MiniLM-L6-v2), writing executed notebooks and HTML reports to reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1 MPLBACKEND=Agg
python -m nlexnb.reports --out reports "$@"
