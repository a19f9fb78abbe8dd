#!/usr/bin/env bash
# How the shipped mini backbone (dig_kit/models/mini_backbone/) is made: perception pretraining on one
# GPU, then a few steps of the kit's GRPO trainer from it (step time on CUDA).
#
#   bash scripts/pretrain_backbone.sh OUT HELDOUT [MINUTES]
#
# OUT: run dir (resumable); HELDOUT: a mini profile's rendered data dir (runs/mini/data: its eval split
# for the held-out checks, stage1 for the colour probe and the GRPO steps); MINUTES: training budget.
set -euo pipefail
out=${1:?usage: pretrain_backbone.sh OUT HELDOUT [MINUTES]}
heldout=${2:?usage: pretrain_backbone.sh OUT HELDOUT [MINUTES]}
minutes=${3:-5}
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
$py -m dig_kit.cli pretrain --out "$out/pretrain" --heldout "$heldout" --max-minutes "$minutes" \
  --max-examples ${MAX_EXAMPLES:-0} --batch-size ${BATCH:-256} --lr ${LR:-2e-3} --warmup-steps ${WARMUP:-300} \
  --eval-every ${EVAL_EVERY:-150000} --heldout-pairs ${HELDOUT_PAIRS:-100} --checkpoint-minutes 2 --loss-mean ${LOSS_MEAN:-example} \
  --model-arg vision_width=128 --model-arg vision_depth=3 ${PRETRAIN_ARGS:-}
# a few GRPO steps (the mini preset's stage 1, online filtering off: a timing run) from the pretrained
# backbone: the step time on this machine
$py -m dig_kit.cli train --preset mini --stage 1 --data "$heldout" --out "$out/grpo" \
  --model "$out/pretrain/final" --set train.stage_steps=[${GRPO_STEPS:-4},1,1] --set train.save_steps=1000 --set train.filter_enabled=false \
  ${GRPO_ARGS:-} || echo "GRPO steps failed (exit $?)"
