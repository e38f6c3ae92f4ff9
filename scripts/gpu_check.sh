#!/usr/bin/env bash
# One prepared GPU check (issues 3 and 5): CUDA conformance tests and the GPU benchmarks, nothing fetched
# from the network. Run from the repository root on a machine with a CUDA device and the
# project's .venv (or any Python with the project installed):
#     bash scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
"$PY" - <<'PYEOF'
import torch
assert torch.cuda.is_available(), "no CUDA device visible to torch"
print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
PYEOF
echo "== CUDA conformance tests"
HYPOTHESIS_PROFILE=ci "$PY" -m pytest tests/conformance -q -k cuda -p no:cacheprovider
echo "== batched matching (SMS, DMS, NAMS, HAMBox) and RAL forward + backward, batch 28 x 640x640, 100 faces per image"
"$PY" bench/torch_matching.py --device cuda --batch 28 --faces 100 --rounds 5
echo "== training step: HAMBox + RAL against SMS + focal, ResNet-50 at 640x640, batch 7 per GPU"
"$PY" bench/train_step.py --device cuda --backbone resnet50 --channels 256 --size 640 --batch 7 --faces 20 --rounds 5
