import pytest

from dig_kit.config import ConfigError, from_dict, load_config, parse_overrides, save_config, to_dict


def test_presets_load_and_differ():
    smoke, paper = load_config("smoke"), load_config("paper")
    assert smoke.profile == "smoke" and paper.profile == "paper"
    # supplement §6: ~1.6K pairs per subset; single / double / mixed (up to 4)
    assert [paper.data.subsets[s].num_pairs for s in ("stage1", "stage2", "stage3")] == [1600] * 3
    assert (paper.data.subsets["stage1"].min_differences, paper.data.subsets["stage1"].max_differences) == (1, 1)
    assert (paper.data.subsets["stage2"].min_differences, paper.data.subsets["stage2"].max_differences) == (2, 2)
    assert paper.data.subsets["stage3"].max_differences == 4
    assert paper.data.scene.max_objects == 10
    assert smoke.data.render.width < paper.data.render.width


def test_overrides_are_typed_and_nested():
    cfg = load_config(
        "smoke", ["data.render.width=64", "data.render.adaptive=false", "data.change_types=[add, remove]"]
    )
    assert cfg.data.render.width == 64 and cfg.data.render.adaptive is False
    assert cfg.data.change_types == ["add", "remove"]
    assert parse_overrides({"a.b": 1}) == {"a": {"b": 1}}
    assert load_config("smoke", ["train.learning_rate=1e-6"]).train.learning_rate == 1e-6  # not a YAML-1.1 string


def test_round_trip_through_yaml(tmp_path):
    cfg = load_config("paper", ["data.seed=7"])
    path = save_config(cfg, tmp_path / "config.yaml")
    assert load_config(str(path)) == cfg
    assert from_dict(to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    "override, field",
    [
        ("data.render.widht=3", "data.render.widht"),  # typo: unknown key named with its path
        ("data.render.width=abc", "data.render.width"),  # wrong type
        ("data.render.width=0", "data.render.width"),  # zero resolution
        ("data.render.samples=1.5", "data.render.samples"),  # float for an int
        ("data.scene.max_objects=11", "data.scene.max_objects"),  # the paper allows up to ten
        ("data.change_types=[teleport]", "data.change_types"),
        ("data.subsets.stage3.max_differences=5", "data.subsets.stage3.max_differences"),
        ("data.subsets.eval.seed_offset=0", "seeds overlap"),  # eval must not reuse training seeds
        ("data.render.device=tpu", "data.render.device"),
        ("train.reward.variant=iou_only", "train.reward: variant must be one of"),
        ("train.reward.alpha=1.5", "train.reward: alpha must be a number in [0, 1]"),
        ("train.launch.machine_rank=1", "train.launch.machine_rank: must be in 0..nodes-1"),
        ("twin.subsets.eval.question=maybe", "twin.subsets.eval.question: must be pair or multi"),
        ("warm_start.subsets=[eval]", "warm_start.subsets: 'eval' must be a training subset"),
        ("reproduce.policy=huge", "reproduce.policy: must be one of pretrained, tiny, warm_start"),
        ("reproduce.ablation_reward_stages=[2]", "reproduce.ablation_reward_stages: must be a prefix"),
    ],
)
def test_bad_values_name_the_field(override, field):
    with pytest.raises(ConfigError) as e:
        load_config("smoke", [override])
    assert field in str(e.value)


def test_unknown_preset_and_bad_override_syntax(tmp_path):
    with pytest.raises(ConfigError, match="unknown preset"):
        load_config("nope")
    with pytest.raises(ConfigError, match="key.sub=value"):
        load_config("smoke", ["data.render.width"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [1, 2")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(bad))


def test_a_step_is_the_same_global_batch_on_any_number_of_processes():
    from dig_kit.config import batch_plan

    t = load_config("paper").train
    assert (t.prompts_per_step, t.updates_per_step, t.num_generations) == (512, 4, 5)  # EasyR1's step
    plans = {p: batch_plan(t, p) for p in (1, 2, 4, 8, 16)}
    for p, plan in plans.items():
        assert plan.processes == p and plan.completions_per_process * p == 2560
        assert plan.completions_per_step == 2560 and plan.completions_per_update == 640
        # what trl is given per process adds back up to the same global numbers
        assert plan.gradient_accumulation_steps * p * t.per_device_batch == 640
        assert plan.steps_per_generation == 4 * plan.gradient_accumulation_steps
    assert plans[8].gradient_accumulation_steps == 8 and plans[1].gradient_accumulation_steps == 64
    with pytest.raises(ConfigError, match="not a multiple of 3 process"):
        batch_plan(t, 3)


def test_batch_and_clip_fields_are_checked():
    with pytest.raises(ConfigError, match="train.updates_per_step"):
        load_config("smoke", ["train.updates_per_step=3"])
    with pytest.raises(ConfigError, match="train.delta"):
        load_config("smoke", ["train.delta=1.1", "train.epsilon_high=0.3"])
    cfg = load_config("paper")
    assert (cfg.train.epsilon, cfg.train.epsilon_high, cfg.train.delta) == (0.2, 0.3, 3.0)
    assert cfg.train.loss_type == "dapo" and cfg.train.max_completion_length == 2048


def test_paper_preset_states_where_each_training_value_comes_from():
    import yaml

    from dig_kit.config import PRESET_DIR

    text = (PRESET_DIR / "paper.yaml").read_text()
    train = yaml.safe_load(text)["train"]
    lines = {line.split(":")[0].strip(): line for line in text.split("\ntrain:")[1].splitlines() if ":" in line}
    for key in train:
        if key == "reward":
            continue
        assert any(tag in lines[key] for tag in ("[T5]", "[EasyR1]", "[ours]")), key
