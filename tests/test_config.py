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
    cfg = load_config("smoke", ["data.render.width=64", "data.render.adaptive=false", "data.change_types=[add, remove]"])
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
        ("data.render.widht=3", "data.render.widht"),        # typo: unknown key named with its path
        ("data.render.width=abc", "data.render.width"),      # wrong type
        ("data.render.width=0", "data.render.width"),        # zero resolution
        ("data.render.samples=1.5", "data.render.samples"),  # float for an int
        ("data.scene.max_objects=11", "data.scene.max_objects"),  # the paper allows up to ten
        ("data.change_types=[teleport]", "data.change_types"),
        ("data.subsets.stage3.max_differences=5", "data.subsets.stage3.max_differences"),
        ("data.subsets.eval.seed_offset=0", "seeds overlap"),  # eval must not reuse training seeds
        ("data.render.device=tpu", "data.render.device"),
        ("train.reward.variant=iou_only", "train.reward: variant must be one of"),
        ("train.reward.alpha=1.5", "train.reward: alpha must be a number in [0, 1]"),
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
