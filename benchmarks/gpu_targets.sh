#!/usr/bin/env bash
# The GPU evaluation targets (docs/evaluation.md): labeled Moving MNIST at 64x64, 16 frames, the
# `moving_mnist` preset trained for MINUTES, judged with 20-step DDIM and with 1000-step DDPM on the
# same prompts, plus the step-time benchmarks of both GPU presets. Run it on the GPU, e.g. in Colab:
#
#   bash benchmarks/gpu_targets.sh OUT_DIR [MINUTES=60]
#
# Environment knobs [defaults]:
#   PRESET [moving_mnist]   NUM_CLIPS [4000] training clips   EVAL_PER_PROMPT [4] clips per prompt
#   DDPM_PROMPTS [8], PER_PROMPT [4]: the DDIM-against-DDPM comparison (DDPM runs all 1000 steps: slow)
#   PERCEPTUAL [the preset's] the perceptual-loss weight; its VGG16-BN weights come from torchvision's download,
#                     so set 0 where there is no network (it would fall back to random VGG weights)
#   BENCH [1]         the step-time benchmarks; BASELINE [1] with the reference model
#                     (pip install --no-deps -r requirements-bench.txt); BENCH_ITERS [10] timed steps
# Each stage has its own time limit; a failed stage is reported and the later ones still run.
set -uo pipefail
OUT=${1:?usage: gpu_targets.sh OUT_DIR [MINUTES]}
MINUTES=${2:-60}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
DATA="$OUT/data" EVAL="$OUT/eval" RUN="$OUT/run"
status=0
stage() {  # stage NAME LIMIT_SECONDS CMD...: run CMD under a time limit, log it, remember a failure
    local name=$1 limit=$2; shift 2
    echo "== $name ($(date +%T), limit ${limit}s): $*"
    local start=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc after $((SECONDS - start)) s"
    [ "$rc" = 0 ] || status=1
}

"$PY" -c "from vdiff.env import env_report; print(env_report())" | tee "$OUT/env.txt"
stage data 600 "$PY" -m data_prep moving_mnist --out "$DATA" --num "${NUM_CLIPS:-4000}" --size 64 \
    --frames 16 --holdout default --seed 0 --quiet
stage eval_data 300 "$PY" -m data_prep moving_mnist --out "$EVAL" --num 400 --size 64 --frames 16 \
    --holdout default --seed 123 --quiet

if [ "${BENCH:-1}" = 1 ]; then
baseline=()
[ "${BASELINE:-1}" = 1 ] && baseline=(--baseline --baseline-sample-steps 20)
stage bench_moving_mnist 300 "$PY" -m vdiff.bench --preset moving_mnist --batch 16 --iters "${BENCH_ITERS:-10}" --warmup 3 \
    --sample-clips 16 "${baseline[@]}"
stage bench_msrvtt 300 "$PY" -m vdiff.bench --preset msrvtt --batch 8 --iters "${BENCH_ITERS:-10}" --warmup 3 --no-sample
fi

"$PY" - "$OUT/config.json" "${PERCEPTUAL:-}" "${PRESET:-moving_mnist}" <<'EOF'
import sys
from vdiff import get_preset
overrides = {"perceptual_weight": float(sys.argv[2])} if sys.argv[2] else {}
get_preset(sys.argv[3], **overrides).to_json(sys.argv[1])
EOF
# The training stage gets its budget plus time to load the data and write the last checkpoint.
stage train $(( ${MINUTES%.*} * 60 + 600 )) "$PY" -m vdiff.train --config "$OUT/config.json" --data "$DATA" \
    --out "$RUN" --max-minutes "$MINUTES"

stage evaluate_ddim20 1200 "$PY" -m vdiff.evaluate --run "$RUN" --data "$EVAL" \
    --num-per-prompt "${EVAL_PER_PROMPT:-4}" --steps 20 --out "$OUT/eval_ddim20.json"
for sampler_steps in "ddim 20" "ddpm 1000"; do  # ddpm always runs all of the run's timesteps
    set -- $sampler_steps
    stage "compare_$1$2" 1800 "$PY" -m vdiff.evaluate --run "$RUN" --data "$EVAL" --sampler "$1" --steps "$2" \
        --max-prompts "${DDPM_PROMPTS:-8}" --num-per-prompt "${PER_PROMPT:-4}" --out "$OUT/compare_$1$2.json"
done
"$PY" -c "from vdiff.plot import plot_losses; print(plot_losses('$RUN'))" 2>&1 | tail -1
exit $status
