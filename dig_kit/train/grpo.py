"""One curriculum stage of DiG's GRPO on trl: ``run_stage(cfg, stage, data_dir, out_dir)``.

Layout of a run directory::

    OUT/stage1/checkpoint-K/   trl/transformers checkpoints, each with the resolved config.yaml
    OUT/stage1/final/          the stage's final weights + processor + config.yaml
    OUT/stage1/metrics.jsonl   one row per logged step (see METRIC_KEYS)
    OUT/stage2/ ...            stage N starts from OUT/stage{N-1}/final

Everything that can be checked without a model is checked first (stage, dataset, previous
stage's weights). A stage interrupted at any point resumes from its last checkpoint with the
same command; a finished stage (``final/`` exists) is not trained again. A reward function
that raises or returns NaN for one completion marks that completion unscorable (trl gives it
no advantage) instead of killing the run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

from dig_kit.config import ConfigError, KitConfig, batch_plan, save_config

METRIC_KEYS = {
    # our name: trl's log key
    "overall": "reward",
    "format": "dig/format",
    "accuracy": "dig/accuracy",
    "f1": "dig/f1",
    "miou": "dig/miou",
    "kl": "kl",
    "entropy": "entropy",
    "grad_norm": "grad_norm",
    "response_length": "completions/mean_length",
    "kept_fraction": "filter/kept_fraction",
    "learning_rate": "learning_rate",
    "loss": "loss",
}


def reward_functions(cfg: KitConfig) -> tuple[list, list[float]]:
    """trl reward functions and weights of the run's task. In a mix run each row is scored by
    its own reward (the other returns None for it, which trl skips)."""
    from dig_kit.rewards import make_trl_rewards, make_twin_trl_reward

    r = cfg.train.reward
    funcs, weights = [], []
    if cfg.train.task in ("dig", "mix"):
        funcs, weights = make_trl_rewards(**dataclasses.asdict(r))
        funcs, weights = list(funcs), list(weights)
    if cfg.train.task in ("twin", "mix"):
        funcs.append(make_twin_trl_reward())
        weights.append(1.0)
    return funcs, weights


def world_size() -> int:
    """Processes of this run, as torchrun / accelerate launch announce them (1 when not launched)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Whether this process writes the run's shared files (one writer; the others wait)."""
    return int(os.environ.get("RANK", "0")) == 0


def stage_dir(out_dir: str | Path, stage: int) -> Path:
    return Path(out_dir) / f"stage{stage}"


def check_stage(
    cfg: KitConfig,
    stage: int,
    data_dir: str | Path,
    out_dir: str | Path,
    model: str | None,
    processes: int | None = None,
) -> str:
    """Validate a stage run before anything heavy is imported; return the initial weights.
    ``processes``: the processes it will run on (default: this launch's world size)."""
    from dig_kit.data.reader import check_dataset_dir

    if stage not in (1, 2, 3):
        raise ConfigError(f"stage {stage}: the curriculum has stages 1, 2 and 3")
    batch_plan(cfg.train, processes or world_size())  # the global batch must split over this many processes
    if cfg.train.task == "twin":
        if not Path(data_dir).exists():
            raise ConfigError(
                f"TWIN data not found at {data_dir} (render it with `dig-kit render-twin --out {data_dir}`)"
            )
    else:
        check_dataset_dir(data_dir, cfg.train.stage_subsets[stage - 1])
    if cfg.train.task == "mix" and not (cfg.train.twin_data and Path(cfg.train.twin_data).exists()):
        raise ConfigError(f"train.task=mix needs train.twin_data (a TWIN data dir), got {cfg.train.twin_data!r}")
    if model or stage == 1:
        init = model or cfg.train.model
        where = "--model" if model else "train.model"
        local = Path(init).expanduser()
        if not local.exists() and (local.is_absolute() or init.startswith((".", "~")) or init.count("/") > 1):
            raise ConfigError(
                f"{where}: {init} does not exist (a local checkpoint directory, or a hub id such as "
                "Qwen/Qwen3-VL-4B-Thinking)"
            )
        return init
    prev = stage_dir(out_dir, stage - 1) / "final"
    if not (prev / "config.json").exists():
        raise ConfigError(
            f"stage {stage} starts from stage {stage - 1}'s final weights, but {prev} does not exist: "
            f"run `dig-kit train --stage {stage - 1}` first (or pass --model)"
        )
    return str(prev)


def keep_metrics_until(path: Path, step: int) -> None:
    """Drop metric rows after ``step`` (and a torn last line) before resuming from that step."""
    if not path.exists():
        return
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            break
        if row.get("step", 0) <= step:
            rows.append(line)
    path.write_text("".join(r + "\n" for r in rows))


def guarded(func):
    """Wrap a trl reward function: an exception or NaN for a completion makes it unscorable (None)."""

    def call(completions, **kwargs):
        try:
            values = list(func(completions, **kwargs))
        except Exception:  # noqa: BLE001 - score one by one to isolate the bad completion
            values = []
            for i, c in enumerate(completions):
                one = {
                    k: ([v[i]] if isinstance(v, list) and len(v) == len(completions) else v) for k, v in kwargs.items()
                }
                try:
                    values.append(func([c], **one)[0])
                except Exception:  # noqa: BLE001
                    values.append(None)
        return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values]

    call.__name__ = getattr(func, "__name__", "reward")
    return call


def _callbacks(cfg: KitConfig, stage: int, out: Path):
    import psutil
    from transformers import TrainerCallback

    class MetricsJSONL(TrainerCallback):
        """Per-step metrics in the run dir, with the names of the paper's dynamics figures."""

        def __init__(self):
            self.t = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or not state.is_world_process_zero:  # one writer: trl's logs are already reduced
                return
            if "eval_reward" in logs:  # validation (held-out split, T=0.6, top-p 0.95, n=1)
                row = {"step": state.global_step, "stage": stage, "split": "eval"}
                row.update({k: logs[f"eval_{v}"] for k, v in METRIC_KEYS.items() if f"eval_{v}" in logs})
                with open(out / "metrics.jsonl", "a") as f:
                    f.write(json.dumps(row) + "\n")
                return
            if "loss" not in logs and "reward" not in logs:
                return
            now = time.perf_counter()
            row = {
                "step": state.global_step,
                "stage": stage,
                "split": "train",
                "rollout_step": math.ceil(state.global_step / cfg.train.updates_per_step),
            }
            row.update({k: logs[v] for k, v in METRIC_KEYS.items() if v in logs})
            row["cpu_memory_gb"] = psutil.Process().memory_info().rss / 2**30
            row["step_time_s"] = (now - self.t) / max(args.logging_steps, 1)
            row["trl"] = logs
            self.t = now
            with open(out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")

    return [MetricsJSONL(), config_next_to_checkpoints(cfg, out)]


def config_next_to_checkpoints(cfg: KitConfig, out: Path):
    """A callback writing the run's config.yaml into each checkpoint once transformers saved it
    (which is also how :func:`last_complete_checkpoint` tells a whole checkpoint)."""
    from transformers import TrainerCallback

    class ConfigNextToCheckpoints(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            ckpt = out / f"checkpoint-{state.global_step}"
            if state.is_world_process_zero and ckpt.exists():
                save_config(cfg, ckpt / "config.yaml")

    return ConfigNextToCheckpoints()


def sampling_kwargs(suppress_tokens: list[int], use_vllm: bool) -> dict:
    """Extra sampling arguments that keep vision placeholder tokens out of completions (a sampled
    ``<|image_pad|>`` would not match any image features). transformers takes ``suppress_tokens``;
    vLLM's ``SamplingParams`` (colocate) and its OpenAI server (server mode) have no such field but
    both take ``logit_bias`` (-100 is vLLM's floor: the token is never sampled in practice)."""
    if not suppress_tokens:
        return {}
    if use_vllm:
        return {"logit_bias": {int(t): -100.0 for t in suppress_tokens}}
    return {"suppress_tokens": list(suppress_tokens)}


def grpo_args(cfg: KitConfig, stage: int, out: Path, suppress_tokens: list[int], processes: int | None = None):
    """The trainer's config of a stage: trl's GRPOConfig with the online filter's and validation's
    settings (:class:`~dig_kit.train.filtering.FilteringGRPOConfig`). ``train.prompts_per_step`` is
    global: the per-process micro-batches, accumulation and trl's ``steps_per_generation`` follow
    from the process count, and a step makes ``train.updates_per_step`` optimizer updates (trl's steps)."""
    from dig_kit.train.filtering import FilteringGRPOConfig

    t = cfg.train
    plan = batch_plan(t, processes or world_size())
    updates = t.updates_per_step
    val = {}
    if t.val_every > 0:
        val = dict(
            eval_strategy="steps",
            eval_steps=t.val_every * updates,
            num_generations_eval=1,
            per_device_eval_batch_size=min(t.val_prompts, t.per_device_batch),
        )
    return FilteringGRPOConfig(
        **val,
        output_dir=str(out),
        max_steps=t.stage_steps[stage - 1] * updates,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        warmup_steps=t.warmup_ratio,  # transformers 5: a float < 1 is a ratio of max_steps
        lr_scheduler_type="constant",
        optim="adamw_torch",
        beta=t.beta,
        num_generations=t.num_generations,
        temperature=t.temperature,
        top_p=t.top_p,
        per_device_train_batch_size=t.per_device_batch,
        gradient_accumulation_steps=plan.gradient_accumulation_steps,
        steps_per_generation=plan.steps_per_generation,
        max_completion_length=t.max_completion_length,
        loss_type=t.loss_type,
        epsilon=t.epsilon,
        epsilon_high=t.epsilon_high,
        delta=t.delta or None,
        gradient_checkpointing=t.gradient_checkpointing,
        bf16=t.bf16,
        use_vllm=t.use_vllm,
        vllm_mode=t.vllm_mode,
        **({"vllm_server_base_url": t.vllm_server_url} if t.vllm_server_url else {}),
        generation_kwargs=sampling_kwargs(suppress_tokens, t.use_vllm),
        logging_steps=t.logging_steps,
        save_strategy="steps",
        save_steps=t.save_steps * updates,
        save_total_limit=2,
        report_to="none",
        seed=t.seed + stage,
        remove_unused_columns=False,
        use_cpu=not _cuda(),
        dataloader_num_workers=0,
        filter_enabled=t.filter_enabled,
        filter_low=t.filter_low,
        filter_high=t.filter_high,
        filter_max_retries=t.filter_max_retries,
        filter_seed=t.seed + stage,
        val_temperature=t.val_temperature,
        val_top_p=t.val_top_p,
    )


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def last_complete_checkpoint(out: Path) -> str | None:
    """The newest checkpoint saved whole. transformers names a checkpoint directory before it
    has written its files; the kit writes ``config.yaml`` into it once transformers is done
    (the ``on_save`` callback), so a run killed mid-save resumes from the checkpoint before."""
    steps = sorted(
        (int(p.name.split("-")[-1]), p) for p in Path(out).glob("checkpoint-*") if p.name.split("-")[-1].isdigit()
    )
    for _, p in reversed(steps):
        if (p / "config.yaml").exists() and (p / "trainer_state.json").exists():
            return str(p)
    return None


def run_stage(
    cfg: KitConfig,
    stage: int,
    data_dir: str | Path,
    out_dir: str | Path,
    model: str | None = None,
    log_dir: str | Path | None = None,
) -> Path:
    """Train one curriculum stage; return its ``final`` directory.

    With ``train.launch`` asking for more than one process (or node) the stage is launched as a
    child process tree (:mod:`dig_kit.train.launch`; its output goes to ``log_dir``, default
    ``<out_dir>/../logs``); with one it trains in this process. Either way the run dir is locked
    against a second run (:mod:`dig_kit.runlock`) and ``stage<k>/launch.json`` says what ran."""
    from dig_kit.runlock import run_lock
    from dig_kit.train.launch import inside_launch, launch_plan, launch_stage

    plan = None if inside_launch() else launch_plan(cfg)
    init = check_stage(cfg, stage, data_dir, out_dir, model, processes=plan["world_size"] if plan else None)
    out = stage_dir(out_dir, stage)
    final = out / "final"
    if (final / "config.json").exists():
        print(f"stage {stage}: already finished ({final}); delete it to train again")
        return final
    if plan is None:  # a launched rank (this kit's launcher, torchrun, accelerate)
        return _train_here(cfg, stage, data_dir, out_dir, init)
    if cfg.train.launch.machine_rank != 0:  # another node of a multi-node run: node 0 holds the lock
        return launch_stage(cfg, stage, data_dir, out_dir, init, plan, log_dir)
    with run_lock(out_dir, f"training stage {stage} into {out_dir}"):
        if plan["launched"]:
            return launch_stage(cfg, stage, data_dir, out_dir, init, plan, log_dir)
        return _train_here(cfg, stage, data_dir, out_dir, init)


def _write_world(trainer, out: Path, launched_here: bool) -> None:
    """``world.json``: the processes the trainer itself sees (and, when nothing launched this
    process, ``launch.json`` saying so)."""
    acc = trainer.accelerator
    if not acc.is_main_process:
        return
    from dig_kit.train.launch import LAUNCHED_ENV, write_launch_record

    kind = acc.distributed_type
    world = {
        "world_size": acc.num_processes,
        "distributed_type": getattr(kind, "value", str(kind)),
        "device": str(acc.device),
        "max_steps": trainer.args.max_steps,
    }
    (out / "world.json").write_text(json.dumps(world, indent=1) + "\n")
    if os.environ.get(LAUNCHED_ENV) != "1":
        mode = "in-process" if launched_here else "launched outside the kit (torchrun / accelerate by hand)"
        write_launch_record(
            out / "launch.json",
            {
                "stage": int(out.name.removeprefix("stage") or 0),
                "mode": mode,
                "command": sys.argv,
                "processes": acc.num_processes,
                "nodes": None,
                "world_size": acc.num_processes,
                "trainer": world,
            },
        )


def _train_here(cfg: KitConfig, stage: int, data_dir: str | Path, out_dir: str | Path, init: str) -> Path:
    """Train the stage in this process (one of the ranks, or the only one)."""
    out = stage_dir(out_dir, stage)
    final = out / "final"
    from dig_kit.models.loading import load_model_and_processor, vision_token_ids
    from dig_kit.train.data import stage_dataset
    from dig_kit.train.filtering import FilteringGRPOTrainer

    out.mkdir(parents=True, exist_ok=True)
    if is_main_process():
        save_config(cfg, out / "config.yaml")
    dataset = stage_dataset(cfg, data_dir, stage)
    eval_dataset = None
    if cfg.train.val_every > 0:
        from dig_kit.data.reader import load_split
        from dig_kit.train.data import to_grpo_rows

        split = load_split(data_dir, "eval")
        split = split.select(range(min(cfg.train.val_prompts, len(split))))
        eval_dataset = to_grpo_rows(split, count_hint=stage in cfg.train.count_hint_stages)
    policy, processor = load_model_and_processor(init, dtype="bf16" if cfg.train.bf16 else "fp32")
    if cfg.train.freeze_vision:
        for p in policy.model.visual.parameters():
            p.requires_grad_(False)
    peft_config = None
    if cfg.train.lora_rank > 0:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=cfg.train.lora_rank,
            lora_alpha=2 * cfg.train.lora_rank,
            lora_dropout=0.0,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        )
    funcs, weights = reward_functions(cfg)
    args = grpo_args(cfg, stage, out, vision_token_ids(processor.tokenizer))
    if cfg.train.epochs > 0:  # TWIN's recipe: one epoch over the data
        args.max_steps = (
            max(1, math.ceil(cfg.train.epochs * len(dataset) / cfg.train.prompts_per_step)) * cfg.train.updates_per_step
        )
    args.reward_weights = weights
    trainer = FilteringGRPOTrainer(
        model=policy,
        reward_funcs=[guarded(f) for f in funcs],
        args=args,
        train_dataset=dataset,
        eval_dataset=eval_dataset,
        processing_class=processor,
        callbacks=_callbacks(cfg, stage, out),
        peft_config=peft_config,
    )
    acc = trainer.accelerator
    _write_world(trainer, out, launched_here=world_size() == 1)
    last = last_complete_checkpoint(out)
    if last and acc.is_main_process:  # rows logged after the checkpoint we resume from will be logged again
        keep_metrics_until(out / "metrics.jsonl", int(Path(last).name.split("-")[-1]))
    acc.wait_for_everyone()
    trainer.train(resume_from_checkpoint=last)
    save_final(trainer, cfg, processor, out, merge_lora=peft_config is not None)
    return final


def save_final(trainer, cfg: KitConfig, processor, out: Path, merge_lora: bool = False) -> Path:
    """Write ``out/final`` once, with full weights, from any number of processes.

    Every process takes part in gathering the weights (FSDP shards them); the main process alone
    writes ``final.tmp`` and renames it to ``final``; the others wait for it. Under FSDP the state
    dict type is switched to FULL_STATE_DICT first, whatever the accelerate config says
    (SHARDED_STATE_DICT suits checkpoints, but ``save_model`` would then write no weights)."""
    acc = trainer.accelerator
    tmp, final = out / "final.tmp", out / "final"
    if acc.is_main_process and tmp.exists():  # left by a run killed while saving
        shutil.rmtree(tmp)
    acc.wait_for_everyone()
    if merge_lora:  # merge LoRA into the weights, so the next stage loads a plain checkpoint
        if acc.is_main_process:
            acc.unwrap_model(trainer.model).merge_and_unload().save_pretrained(str(tmp))
    else:
        if getattr(trainer, "is_fsdp_enabled", False):
            acc.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
        trainer.save_model(str(tmp))  # collective under FSDP; writes on the main process only
    if acc.is_main_process:
        if not any(tmp.glob("*.safetensors")):
            raise RuntimeError(f"{tmp}: no weights were written")
        processor.save_pretrained(tmp)
        save_config(cfg, tmp / "config.yaml")
        tmp.rename(final)
    acc.wait_for_everyone()
    return final
