"""GRPO training on the tiny random Qwen3-VL, on CPU: stages, curriculum, filtering, resume."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dig_kit.config import ConfigError, load_config

pytestmark = [pytest.mark.slow]
torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("bpy")

TINY_DATA = [
    "data.render.width=96",
    "data.render.height=64",
    "data.render.samples=2",
    "data.render.min_visible_pixels=6",
    "data.scene.max_objects=5",
]
DIG_KIT = [sys.executable, "-m", "dig_kit.cli"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from dig_kit.data.writer import render_dataset
    from dig_kit.models.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("train")
    model = build_tiny_model(root / "tiny-model")
    data = root / "data"
    render_dataset(load_config("smoke", TINY_DATA), data, num_pairs=3, progress=False)
    overrides = TINY_DATA + [
        f"train.model={model}",
        "train.stage_steps=[2, 1, 1]",
        "train.max_completion_length=8",
        "train.prompts_per_step=2",
        "train.num_generations=2",
        "train.per_device_batch=4",
    ]
    return {"root": root, "model": model, "data": data, "overrides": overrides, "cfg": load_config("smoke", overrides)}


def _rows(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_tiny_model_loads_through_from_pretrained(tiny):
    from dig_kit.models.loading import load_model_and_processor

    model, processor = load_model_and_processor(tiny["model"])
    n = sum(p.numel() for p in model.parameters())
    assert 50_000 < n < 1_000_000  # "a few hundred thousand parameters"
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration"
    vision = {processor.tokenizer.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|vision_start|>")}
    assert vision <= set(model.generation_config.suppress_tokens)


def test_prompts_state_the_count_in_stages_1_and_2_only(tiny):
    from dig_kit.train.data import stage_dataset

    for stage, hint in ((1, True), (2, True), (3, False)):
        ds = stage_dataset(tiny["cfg"], tiny["data"], stage)
        row = ds[0]
        text = row["prompt"][0]["content"][-1]["text"]
        assert text.startswith("You will be given two separate images.")
        assert ("There is exactly" in text or "There are exactly" in text) == hint
        if hint:
            assert f"exactly {row['num_differences']} difference" in text
        assert len(row["images"]) == 2 and row["boxes"]


def test_stage_trains_logs_checkpoints_and_stage2_starts_from_stage1(tiny, tmp_path):
    from safetensors.torch import load_file, save_file

    from dig_kit.train.grpo import run_stage

    cfg = tiny["cfg"]
    final1 = run_stage(cfg, 1, tiny["data"], tmp_path)
    rows = [r for r in _rows(tmp_path / "stage1" / "metrics.jsonl") if r["split"] == "train"]
    assert [r["step"] for r in rows] == [1, 2]
    for key in (
        "overall",
        "format",
        "f1",
        "miou",
        "kl",
        "entropy",
        "grad_norm",
        "response_length",
        "cpu_memory_gb",
        "learning_rate",
        "step_time_s",
    ):
        assert key in rows[0], key
    assert (final1 / "config.yaml").exists() and (final1 / "model.safetensors").exists()
    assert list((tmp_path / "stage1").glob("checkpoint-*/config.yaml"))

    # Mark stage 1's weights so stage 2 provably starts from them (not from train.model).
    weights = load_file(final1 / "model.safetensors")
    key = next(k for k in weights if k.endswith("norm.weight"))
    weights[key] = weights[key] + 7.0
    save_file(weights, final1 / "model.safetensors", metadata={"format": "pt"})
    cfg2 = load_config("smoke", tiny["overrides"] + ["train.learning_rate=1e-12"])
    final2 = run_stage(cfg2, 2, tiny["data"], tmp_path)
    after = load_file(final2 / "model.safetensors")
    assert torch.allclose(after[key], weights[key], atol=1e-4)
    # a finished stage is not trained again
    assert run_stage(cfg2, 2, tiny["data"], tmp_path) == final2


def test_lora_stage_saves_merged_weights_the_next_stage_can_load(tiny, tmp_path):
    from dig_kit.models.loading import load_model_and_processor
    from dig_kit.train.grpo import run_stage

    cfg = load_config("smoke", tiny["overrides"] + ["train.lora_rank=4", "train.stage_steps=[1, 1, 1]"])
    final = run_stage(cfg, 1, tiny["data"], tmp_path)
    assert not (final / "adapter_config.json").exists()
    model, _ = load_model_and_processor(final)
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration"


def test_bad_input_fails_before_any_model_is_loaded(tiny, tmp_path):
    from dig_kit.train.grpo import check_stage

    cfg = tiny["cfg"]
    with pytest.raises(ConfigError, match="stages 1, 2 and 3"):
        check_stage(cfg, 4, tiny["data"], tmp_path, None)
    with pytest.raises(ConfigError, match="not a dig_kit dataset"):
        check_stage(cfg, 1, tmp_path / "missing", tmp_path, None)
    with pytest.raises(ConfigError, match="stage 1's final weights"):
        check_stage(cfg, 2, tiny["data"], tmp_path, None)
    res = subprocess.run(
        DIG_KIT + ["train", "--stage", "3", "--data", str(tiny["data"]), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "stage 2's final weights" in res.stderr


def test_reward_errors_and_nan_make_a_completion_unscorable():
    from dig_kit.train.grpo import guarded

    def flaky(completions, **kwargs):
        out = []
        for c in completions:
            if c == "boom":
                raise RuntimeError("reward crashed")
            out.append(math.nan if c == "nan" else 1.0)
        return out

    assert guarded(flaky)(["ok", "boom", "nan", "ok"], boxes=[[1], [2], [3], [4]]) == [1.0, None, None, 1.0]


# -- online filtering ---------------------------------------------------------------------
def _filter_trainer(tiny, tmp_path, dead, retries=3, logs=None):
    from transformers import TrainerCallback

    from dig_kit.models.loading import load_model_and_processor
    from dig_kit.train.data import stage_dataset
    from dig_kit.train.filtering import FilteringGRPOTrainer
    from dig_kit.train.grpo import grpo_args

    cfg = tiny["cfg"]
    ds = stage_dataset(cfg, tiny["data"], 1)
    model, processor = load_model_and_processor(tiny["model"])
    rng = np.random.default_rng(0)

    def reward(completions, id, **kwargs):  # constant 0 for "dead" prompts, varied otherwise
        return [0.0 if i in dead else float(rng.uniform(0.2, 0.8)) for i in id]

    class Capture(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            sink.append(dict(logs or {}))

    sink = logs if logs is not None else []

    args = grpo_args(cfg, 1, tmp_path, [])
    args.max_steps = 1
    args.save_strategy = "no"
    args.filter_enabled, args.filter_low, args.filter_high = True, 0.01, 0.99  # the smoke preset turns it off
    args.filter_max_retries, args.filter_seed = retries, 0
    return FilteringGRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=ds,
        processing_class=processor,
        callbacks=[Capture()],
    )


def test_online_filtering_drops_constant_groups_and_refills(tiny, tmp_path):
    from dig_kit.train.data import stage_dataset

    ids = stage_dataset(tiny["cfg"], tiny["data"], 1)["id"]
    logs = []
    # two of the three prompts always score 0: any first batch of 2 groups holds a dead one
    trainer = _filter_trainer(tiny, tmp_path, dead={ids[0], ids[1]}, retries=8, logs=logs)
    trainer.train()
    assert trainer.state.global_step == 1
    merged = {k: v for d in logs for k, v in d.items()}
    assert merged["filter/kept_fraction"] < 1.0  # dead groups were dropped
    assert merged["filter/rounds"] >= 1  # and replaced by fresh rollouts


def test_online_filtering_gives_up_with_a_clear_error(tiny, tmp_path):
    from dig_kit.train.data import stage_dataset
    from dig_kit.train.filtering import OnlineFilterError

    ids = set(stage_dataset(tiny["cfg"], tiny["data"], 1)["id"])
    trainer = _filter_trainer(tiny, tmp_path, dead=ids, retries=2)
    with pytest.raises(OnlineFilterError, match="after 2 refill rounds only 0 of 2 groups"):
        trainer.train()


def test_select_and_merge_keep_rows_images_and_padding():
    from dig_kit.train.filtering import merge_parts, select_rows

    def part(prompt_len, comp_len, tag):
        B = 4
        return {
            "prompt_ids": torch.full((B, prompt_len), tag),
            "prompt_mask": torch.ones(B, prompt_len, dtype=torch.long),
            "completion_ids": torch.full((B, comp_len), tag),
            "completion_mask": torch.ones(B, comp_len, dtype=torch.long),
            "advantages": torch.arange(B, dtype=torch.float) + 10 * tag,
            "num_images": [2] * B,
            "image_grid_thw": torch.tensor([[1, 2, 2]] * (2 * B)),
            "pixel_values": torch.arange(4 * 2 * B, dtype=torch.float)[:, None] + 100 * tag,
        }

    a = select_rows(part(5, 3, 1), [2, 3])
    b = select_rows(part(7, 2, 2), [0, 1])
    assert a["advantages"].tolist() == [12.0, 13.0]
    assert a["pixel_values"][:, 0].tolist() == [100.0 + i for i in range(16, 32)]  # images 4..7 of part 1
    m = merge_parts([a, b], pad_token_id=0)
    assert m["prompt_ids"].shape == (4, 7) and m["prompt_ids"][0, :2].tolist() == [0, 0]  # left padded
    assert m["completion_ids"].shape == (4, 3) and m["completion_ids"][2].tolist() == [2, 2, 0]  # right padded
    assert m["completion_mask"][2].tolist() == [1, 1, 0] and int(m["completion_mask"].sum()) == 2 * 3 + 2 * 2
    assert m["num_images"] == [2] * 4 and m["image_grid_thw"].shape == (8, 3) and m["pixel_values"].shape == (32, 1)


def test_killed_training_resumes_from_its_last_checkpoint(tiny, tmp_path):
    args = DIG_KIT + ["train", "--stage", "1", "--data", str(tiny["data"]), "--out", str(tmp_path)]
    for o in tiny["overrides"] + ["train.stage_steps=[6, 1, 1]", "train.save_steps=1"]:
        args += ["--set", o]
    stage = tmp_path / "stage1"
    proc = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline and not (stage / "checkpoint-3").exists():
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (stage / "checkpoint-3").exists() and not (stage / "final").exists()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    steps = [r["step"] for r in _rows(stage / "metrics.jsonl") if r["split"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]  # nothing lost, nothing logged twice
    assert (stage / "final" / "model.safetensors").exists()


# -- several processes, FSDP, vLLM, refills ------------------------------------------------
def test_two_processes_run_stages_1_and_2_through_the_cli(tiny, tmp_path):
    """torchrun, 2 CPU processes (gloo): one final/ with full weights, one metrics row per step,
    stage 2 starts from stage 1's final weights."""
    from safetensors.torch import load_file, save_file

    overrides = tiny["overrides"] + ["train.per_device_batch=2", "train.save_steps=100"]

    def launch(stage, extra=()):
        cmd = [
            str(Path(sys.executable).parent / "torchrun"),
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "dig_kit.cli",
            "train",
            "--stage",
            str(stage),
            "--data",
            str(tiny["data"]),
            "--out",
            str(tmp_path),
        ]
        for o in list(overrides) + list(extra):
            cmd += ["--set", o]
        res = subprocess.run(
            cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600
        )
        assert res.returncode == 0, res.stderr[-3000:]

    launch(1)
    stage1 = tmp_path / "stage1"
    assert sorted(p.name for p in stage1.iterdir() if p.name.startswith("final")) == ["final"]
    assert [r["step"] for r in _rows(stage1 / "metrics.jsonl") if r["split"] == "train"] == [1, 2]
    weights = load_file(stage1 / "final" / "model.safetensors")
    reference = load_file(Path(tiny["model"]) / "model.safetensors")
    assert set(weights) == set(reference)  # full weights, not a shard
    assert all(weights[k].shape == reference[k].shape for k in weights)
    key = next(k for k in weights if k.endswith("norm.weight"))
    weights[key] = weights[key] + 7.0
    save_file(weights, stage1 / "final" / "model.safetensors", metadata={"format": "pt"})
    launch(2, ["train.learning_rate=1e-12"])
    after = load_file(tmp_path / "stage2" / "final" / "model.safetensors")
    assert torch.allclose(after[key], weights[key], atol=1e-4)
    assert [r["step"] for r in _rows(tmp_path / "stage2" / "metrics.jsonl") if r["split"] == "train"] == [1]


@pytest.mark.parametrize("config", ["fsdp_full_shard.yaml", "fsdp_multi_node.yaml"])
def test_final_save_gathers_full_weights_whatever_the_fsdp_config(config, tmp_path):
    """transformers' save_model writes no weights under SHARDED_STATE_DICT (the shipped configs'
    choice, good for checkpoints): save_final switches to FULL_STATE_DICT first. accelerate does
    not run FSDP on CPU, so the trainer is a stand-in that saves as transformers does."""
    import types

    import yaml

    from dig_kit.train.grpo import save_final

    shipped = yaml.safe_load((Path(__file__).parents[1] / "configs" / "accelerate" / config).read_text())
    plugin = types.SimpleNamespace(state_dict_type=shipped["fsdp_config"]["fsdp_state_dict_type"])
    plugin.set_state_dict_type = lambda kind: setattr(plugin, "state_dict_type", kind)
    acc = types.SimpleNamespace(
        is_main_process=True, wait_for_everyone=lambda: None, state=types.SimpleNamespace(fsdp_plugin=plugin)
    )

    class Trainer:
        accelerator, is_fsdp_enabled = acc, True

        def save_model(self, out):  # transformers.Trainer.save_model's FSDP branch
            if "FULL_STATE_DICT" in str(plugin.state_dict_type):
                Path(out).mkdir(parents=True, exist_ok=True)
                (Path(out) / "model.safetensors").write_bytes(b"full")

    processor = types.SimpleNamespace(save_pretrained=lambda d: (Path(d) / "processor_config.json").write_text("{}"))
    final = save_final(Trainer(), load_config("smoke"), processor, tmp_path)
    assert (final / "model.safetensors").read_bytes() == b"full" and not (tmp_path / "final.tmp").exists()


def test_refill_merge_with_unequal_completions_keeps_image_markers_and_positions(tiny):
    """trl extends mm_token_type_ids over the completion; a refill round with shorter prompts and
    completions must keep every image marker on its image token, and M-RoPE positions unchanged."""
    from dig_kit.models.loading import load_model_and_processor
    from dig_kit.train.filtering import merge_parts, select_rows

    model, processor = load_model_and_processor(tiny["model"])
    tok = processor.tokenizer
    IMG, VS, VE = (tok.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|vision_start|>", "<|vision_end|>"))
    PAD, TXT = tok.pad_token_id, 100

    def part(prompt_pad, prompt_len, comp_lens):
        B = len(comp_lens)
        body = [TXT, VS, IMG, VE, VS, IMG, VE] + [TXT] * (prompt_len - 7)
        prompt = torch.tensor([[PAD] * prompt_pad + body] * B)
        pmask = (prompt != PAD).long()
        C = max(comp_lens)
        comp = torch.tensor([[TXT + 1] * c + [PAD] * (C - c) for c in comp_lens])
        cmask = (comp != PAD).long()
        mm = torch.cat([(prompt == IMG).long(), torch.zeros_like(comp)], dim=1)  # as trl builds it
        return {
            "prompt_ids": prompt,
            "prompt_mask": pmask,
            "completion_ids": comp,
            "completion_mask": cmask,
            "mm_token_type_ids": mm,
            "num_images": [2] * B,
            "image_grid_thw": torch.tensor([[1, 2, 2]] * (2 * B)),
            "advantages": torch.zeros(B),
        }

    first, refill = part(2, 9, [6, 6]), part(0, 8, [2, 3])
    m = merge_parts([select_rows(first, [0, 1]), select_rows(refill, [0, 1])], pad_token_id=PAD)
    ids = torch.cat([m["prompt_ids"], m["completion_ids"]], dim=1)
    mask = torch.cat([m["prompt_mask"], m["completion_mask"]], dim=1)
    assert m["mm_token_type_ids"].shape == ids.shape
    assert torch.equal(m["mm_token_type_ids"] == 1, ids == IMG)  # every marker on an image token

    def positions(ids, mm, grid, mask):
        pos, _ = model.model.get_rope_index(ids, mm, image_grid_thw=grid, attention_mask=mask)
        return pos

    merged = positions(ids, m["mm_token_type_ids"], m["image_grid_thw"], mask)
    for row, (src, r) in enumerate([(first, 0), (first, 1), (refill, 0), (refill, 1)]):
        alone_ids = torch.cat([src["prompt_ids"][r : r + 1], src["completion_ids"][r : r + 1]], dim=1)
        alone_mask = torch.cat([src["prompt_mask"][r : r + 1], src["completion_mask"][r : r + 1]], dim=1)
        alone = positions(alone_ids, src["mm_token_type_ids"][r : r + 1], src["image_grid_thw"][:2], alone_mask)
        assert torch.equal(merged[:, row][:, mask[row].bool()], alone[:, 0][:, alone_mask[0].bool()])


def test_what_the_kit_passes_to_vllm_is_accepted_by_vllm_0_31(tmp_path):
    """Fields read from vLLM 0.31.0's source (tests/data): colocate builds SamplingParams(**kwargs),
    server mode puts the same kwargs in an OpenAI completion request."""
    from dig_kit.train.grpo import grpo_args

    fields = json.loads((Path(__file__).parent / "data" / "vllm_0.31.0_fields.json").read_text())
    for mode in ("colocate", "server"):
        cfg = load_config("smoke", ["train.use_vllm=true", f"train.vllm_mode={mode}"])
        kwargs = grpo_args(cfg, 1, tmp_path, [151652, 151655], processes=1).generation_kwargs
        assert set(kwargs) <= set(fields["SamplingParams"]) and set(kwargs) <= set(fields["CompletionRequest"])
        assert kwargs["logit_bias"] == {151652: -100.0, 151655: -100.0}  # vLLM's floor: never sampled
    hf = grpo_args(load_config("smoke"), 1, tmp_path, [151655], processes=1).generation_kwargs
    assert hf == {"suppress_tokens": [151655]}


def test_filter_and_validation_settings_are_config_fields_checked_beside_them(tmp_path):
    from dig_kit.train.filtering import FilteringGRPOConfig
    from dig_kit.train.grpo import grpo_args

    args = grpo_args(load_config("mini"), 2, tmp_path, [], processes=1)
    assert isinstance(args, FilteringGRPOConfig)
    assert (args.filter_enabled, args.filter_low, args.filter_high, args.filter_max_retries) == (True, 0.01, 0.99, 8)
    assert args.filter_seed == args.seed == 2 and (args.val_temperature, args.val_top_p) == (0.6, 0.95)
    with pytest.raises(ValueError, match="filter_low < filter_high"):
        FilteringGRPOConfig(output_dir=str(tmp_path), report_to="none", use_cpu=True, filter_low=0.5, filter_high=0.5)
    with pytest.raises(ValueError, match="together"):
        FilteringGRPOConfig(output_dir=str(tmp_path), report_to="none", use_cpu=True, val_temperature=0.6)


def test_validation_sampling_reaches_vllm(tiny, tmp_path, monkeypatch):
    import types

    from trl import GRPOTrainer

    trainer = _filter_trainer(tiny, tmp_path, dead=set())
    trainer.args.val_temperature, trainer.args.val_top_p = 0.6, 0.95
    trainer.vllm_generation = types.SimpleNamespace(temperature=1.0, top_p=1.0)  # trl's VLLMGeneration reads these
    seen = {}

    def fake_evaluate(self, *args, **kwargs):
        seen["vllm"] = (self.vllm_generation.temperature, self.vllm_generation.top_p)
        seen["hf"] = (self.generation_config.temperature, self.generation_config.top_p)
        return {}

    monkeypatch.setattr(GRPOTrainer, "evaluate", fake_evaluate)
    trainer.evaluate()
    assert seen == {"vllm": (0.6, 0.95), "hf": (0.6, 0.95)}
    assert (trainer.vllm_generation.temperature, trainer.vllm_generation.top_p) == (1.0, 1.0)  # restored


def test_readme_fsdp_launch_command_runs_on_two_cpu_processes(tiny, tmp_path):
    """The README's 8-GPU command with the shipped FSDP config, as far as CPU allows: accelerate
    launch, 2 processes (accelerate runs FSDP on GPUs only, so the ranks run plain DDP here;
    its --cpu flag would start one process only)."""
    root = Path(__file__).parents[1]
    launch = "accelerate launch --config_file configs/accelerate/fsdp_full_shard.yaml"
    assert launch in (root / "README.md").read_text()
    cmd = [
        str(Path(sys.executable).parent / "accelerate"),
        "launch",
        "--config_file",
        str(root / "configs/accelerate/fsdp_full_shard.yaml"),
        "--num_processes",
        "2",
        "--mixed_precision",
        "no",
        "--main_process_port",
        "0",
        "-m",
        "dig_kit.cli",
        "train",
        "--preset",
        "smoke",
        "--stage",
        "1",
        "--data",
        str(tiny["data"]),
        "--out",
        str(tmp_path),
    ]
    for o in tiny["overrides"] + ["train.per_device_batch=2", "train.stage_steps=[1, 1, 1]", "train.save_steps=100"]:
        cmd += ["--set", o]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "stage1" / "final" / "model.safetensors").exists()
    assert [r["step"] for r in _rows(tmp_path / "stage1" / "metrics.jsonl")] == [1]
    world = json.loads((tmp_path / "stage1" / "world.json").read_text())
    assert world["world_size"] == 2 and world["distributed_type"] == "MULTI_CPU"
    assert json.loads((tmp_path / "stage1" / "launch.json").read_text())["mode"].startswith("launched outside")


def test_resume_skips_a_checkpoint_killed_mid_save(tmp_path):
    from dig_kit.train.grpo import last_complete_checkpoint

    assert last_complete_checkpoint(tmp_path) is None
    for step, files in (
        (2, ("model.safetensors", "trainer_state.json", "config.yaml")),
        (3, ("model.safetensors",)),  # killed while transformers was writing it
        (10, ("trainer_state.json",)),
    ):  # killed before the kit's on_save marker
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        for f in files:
            (d / f).write_text("x")
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-2")
