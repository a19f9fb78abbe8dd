#!/bin/bash
# The paper profile on a Slurm cluster, one command: submit the jobs, chained by dependencies.
#
#   bash configs/slurm/submit_paper.sh            (from anywhere; it works from the repo root)
#
#   render.sbatch      the dataset, an array job of shards
#   train.sbatch       the curriculum on several nodes            (after render)
#   evaluate.sbatch    the base model on every GPU of its job     (at once: it needs no training)
#   evaluate.sbatch    the trained model                          (after train)
#   reproduce.sbatch   the notebooks on one node: what the jobs above made is found and read;
#                      TWIN, the ablations and the figures and tables are made  (after both evaluations)
#
# Edit each template's #SBATCH lines for your cluster first. Environment: BASE_MODEL
# [Qwen/Qwen3-VL-4B-Thinking, the paper preset's train.model], SBATCH [sbatch], and each
# template's own variables (PRESET, DATA, DIG_KIT_SET, ...), which sbatch passes on. Run
# `.venv/bin/dig-kit reproduce --profile paper --plan` first: it lists the inputs (the model in
# the Hugging Face cache, the benchmark files) every job expects to find.
set -euo pipefail
cd "$(dirname "$0")/../.."
SBATCH=${SBATCH:-sbatch}
BASE_MODEL=${BASE_MODEL:-Qwen/Qwen3-VL-4B-Thinking}
# the labels notebook 04 gives the two models in the paper profile (dig_kit/paper/pipeline.py)
BASE_LABEL=${BASE_LABEL:-$(basename "$BASE_MODEL")}
DIG_LABEL=${DIG_LABEL:-Qwen3-VL-4B + DiG (this kit)}
mkdir -p runs/paper/logs
submit() { "$SBATCH" --parsable "$@" | tail -n 1 | cut -d';' -f1; }

render=$(submit configs/slurm/render.sbatch)
train=$(submit --dependency="afterok:$render" configs/slurm/train.sbatch)
base=$(MODEL=$BASE_MODEL OUT="runs/paper/eval/$BASE_LABEL" submit configs/slurm/evaluate.sbatch)
dig=$(MODEL=runs/paper/train/stage3/final OUT="runs/paper/eval/$DIG_LABEL" submit --dependency="afterok:$train" \
      configs/slurm/evaluate.sbatch)
rest=$(submit --dependency="afterok:$base:$dig" configs/slurm/reproduce.sbatch)
echo "submitted: render $render -> train $train -> evaluate $dig (base model: $base) -> reproduce $rest"
echo "follow them with: squeue -u ${USER:-$(id -un)}; logs in runs/paper/logs/"
