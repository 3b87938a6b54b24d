#!/usr/bin/env bash
# GPU checks of the mask budget (issue #16), from the working tree, on a bare machine with its own torch and
# torchvision and no package registry; about 8 minutes. Every step writes JSON under $OUT and has its own
# time limit, so a slow step does not cost the others.
#
#   OUT=/tmp/gpu-check bash benchmarks/gpu_check.sh
#
# 1. benchmarks/correlax_throughput.py: EfficientNetV2-S (random weights) at 256², stride 48, bf16 autocast,
#    channels-last, without and with torch.compile: raw and engine passes/s, their ratio, seconds per
#    mean-size ROI (885 × 2497) at 2560 masks × the default budget's passes fraction, the 357 test images,
#    and bf16 vs float32 |Δρ| (< 0.005). torch.cuda.synchronize brackets every timing.
# 2. benchmarks/mask_budget.py --quick on the tiny profile (phantoms generated, classifier trained 12 epochs).
#
# The lent machine's Python (python3) lacks pydicom, which the phantoms need. Here, once, in the repository's root:
#   echo /.whl/ >> .git/info/exclude; python3 -m pip download --no-deps --only-binary=:all: -d .whl pydicom==3.0.2
# then carry `.whl` in the device call: this script installs .whl/*.whl into /tmp/site when the folder exists.
set -uo pipefail
: "${OUT:?set OUT to the folder for the JSON results}"
mkdir -p "$OUT"
PYTHON="${PYTHON:-python3}"
export PYTHONPATH=.
if [ -d .whl ]; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      && export PYTHONPATH=.:/tmp/site
fi
export CORRRELAX_PROGRESS=0 CORRRELAX_ARTIFACTS="${CORRRELAX_ARTIFACTS:-/tmp/correlax-gpu-artifacts}"
# The default budget's share of the reference's masked passes, as benchmarks/README.md records it.
FRACTION="${FRACTION:-0.1}"

"$PYTHON" - > "$OUT/environment.json" <<'PY'
import json, platform, torch, torchvision
print(json.dumps({"torch": torch.__version__, "torchvision": torchvision.__version__, "python": platform.python_version(),
                  "cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}))
PY

for mode in eager compiled; do
  flag=""; [ "$mode" = compiled ] && flag="--compile"
  timeout 150 "$PYTHON" benchmarks/correlax_throughput.py --backbone efficientnet_v2_s --window-size 256 --stride 48 \
      --batch-size 256 --device cuda --image-height 2497 --image-width 885 --windows 48 --n-masks 256 \
      --reference-masks 512 --adaptive-windows 4 --min-masks 128 --precision-windows 4 \
      --passes-fraction "$FRACTION" $flag --json "$OUT/throughput_$mode.json" > "$OUT/throughput_$mode.log" 2>&1
  echo "throughput ($mode): exit $?"; tail -n 3 "$OUT/throughput_$mode.log"
done

timeout 200 "$PYTHON" benchmarks/mask_budget.py --quick -p device cuda -p classifier.epochs 12 \
    --json "$OUT/mask_budget.json" > "$OUT/mask_budget.log" 2>&1
echo "mask budget: exit $?"; tail -n 1 "$OUT/mask_budget.log"
