"""``dig-kit <command>``: the kit's command line.

Every command that makes an artifact takes a preset (``smoke``, ``paper`` or a YAML file)
plus ``--set key.sub=value`` overrides, and writes the resolved config next to its output.
Errors in the input (config, paths, arguments) exit with status 2 and one line naming the
problem, before anything is written.
"""

from __future__ import annotations

import argparse
import json
import sys

from dig_kit.config import ConfigError, load_config, preset_names, to_dict
from dig_kit.render.pairs import RenderError
from dig_kit.render.pool import RenderEnvError
from dig_kit.runlock import RunLockError
from dig_kit.scenes import ChangeError, SceneError

DEFAULT_PRESET = "smoke"
PRESET_NOTES = {
    "smoke": "tiny images, a handful of pairs, a few steps: minutes on a CPU",
    "mini": "the CPU miniature of the method: the small model from its shipped pretrained backbone, about 21 minutes "
    "on 2 cores",
    "paper": "the paper's settings: 4.8K pairs at 480x320, GRPO on Qwen3-VL-4B (GPUs)",
    "twin": "TWIN's published recipe (same-or-not pairs, binary reward)",
}


def _add_config_args(p: argparse.ArgumentParser, example: str) -> None:
    notes = "; ".join(f"{k}: {v}" for k, v in PRESET_NOTES.items() if k in preset_names())
    p.add_argument(
        "--preset",
        "--profile",
        dest="preset",
        default=None,
        metavar="PRESET",
        help=f"preset name or a YAML file (default: {DEFAULT_PRESET}, said when used). {notes}",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config field, e.g. --set {example} (repeatable; "
        "`dig-kit config --preset P` prints every field)",
    )


def _config(args):
    """The command's config; without --preset, the default preset, said on stderr."""
    if args.preset is None:
        args.preset = DEFAULT_PRESET
        print(
            f"dig-kit {args.command}: no --preset given, using '{DEFAULT_PRESET}' "
            f"({PRESET_NOTES[DEFAULT_PRESET]}); --preset paper gives the paper's settings",
            file=sys.stderr,
        )
    return load_config(args.preset, args.overrides)


def cmd_config(args) -> int:
    import yaml

    cfg = _config(args)
    print(yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")
    return 0


def _workers_arg(text: str) -> int | str:
    """``--workers``: ``auto`` or a number >= 1."""
    if text.strip() == "auto":
        return "auto"
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a number >= 1 or auto") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a number >= 1 or auto")
    return n


def cmd_render(args) -> int:
    from dig_kit.data.writer import parse_shard, render_dataset

    cfg = _config(args)
    shard = parse_shard(args.shard)
    summary = render_dataset(
        cfg,
        args.out,
        subsets=args.subset or None,
        num_pairs=args.num_pairs,
        workers=args.workers,
        shard=shard,
        progress=not args.quiet,
        kind=args.kind,
    )
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in summary.items()}))
    return 0


def cmd_export(args) -> int:
    from dig_kit.data.exports import export_easyr1

    for subset, path in export_easyr1(args.data, args.out, args.subset or None).items():
        print(f"{subset}: {path}")
    return 0


def cmd_tiny_model(args) -> int:
    from dig_kit.models.tiny import build_tiny_model

    print(build_tiny_model(args.out, seed=args.seed))
    return 0


def cmd_pretrain(args) -> int:
    from dig_kit.train.pretrain import PretrainConfig, pretrain

    model = {}
    for item in args.model_arg or []:
        key, _, value = item.partition("=")
        if key not in ("text_width", "text_layers", "vision_width", "vision_depth"):
            raise ConfigError(f"--model-arg {item}: choose text_width, text_layers, vision_width or vision_depth")
        try:
            model[key] = int(value)
        except ValueError:
            raise ConfigError(f"--model-arg {item}: expected KEY=INTEGER") from None
    weights = {}
    for item in args.task_weight or []:
        key, _, value = item.partition("=")
        try:
            weights[key] = float(value)
        except ValueError:
            raise ConfigError(f"--task-weight {item}: expected TASK=NUMBER") from None
    try:
        ends = tuple(float(v) for v in args.phase_ends.split(","))
    except ValueError:
        raise ConfigError(f"--phase-ends {args.phase_ends}: expected two fractions, e.g. 0.3,0.6") from None
    if len(ends) != 2:
        raise ConfigError(f"--phase-ends {args.phase_ends}: expected two fractions, e.g. 0.3,0.6")
    try:
        dense_layers = tuple(int(v) for v in args.dense_layers.split(","))
    except ValueError:
        dense_layers = ()
    if len(dense_layers) != 2:
        raise ConfigError(f"--dense-layers {args.dense_layers}: expected two layer counts, e.g. 1,3")
    cfg = PretrainConfig(
        out=args.out,
        task_weights=weights,
        phase_ends=ends,
        loss_mean=args.loss_mean,
        seed=args.seed,
        preset=args.preset,
        init=args.init,
        max_examples=args.max_examples if args.max_examples is not None else (0 if args.max_minutes > 0 else 20_000),
        max_minutes=args.max_minutes,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_steps=args.warmup_steps,
        lr_schedule=args.lr_schedule,
        workers=args.workers,
        heldout=args.heldout,
        heldout_pairs=args.heldout_pairs,
        eval_every=args.eval_every,
        checkpoint_minutes=args.checkpoint_minutes,
        device=args.device,
        model=model,
        widen=args.widen,
        dense_layers=dense_layers,
        dense_weight=args.dense_weight,
    )
    print(pretrain(cfg))
    return 0


def cmd_train(args) -> int:
    from dig_kit.launcher import LaunchError
    from dig_kit.train.grpo import run_stage

    cfg = _config(args)
    try:  # everything is checked before torch/trl are imported
        print(run_stage(cfg, args.stage, args.data, args.out, model=args.model, log_dir=args.log_dir))
    except LaunchError as e:
        print(f"dig-kit train: error: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_reproduce(args) -> int:
    from dig_kit.paper.pipeline import run_pipeline

    return run_pipeline(
        profile=args.profile,
        runs_dir=args.runs_dir,
        figures_dir=args.figures,
        only=args.only,
        start=args.start,
        overrides=args.overrides,
        plan_only=args.plan,
    )


def cmd_doctor(args) -> int:
    """What this environment and the render environment hold (versions, CUDA, Blender)."""
    import importlib.metadata as md
    import platform
    import subprocess

    from dig_kit.render.pool import render_python

    print(f"python        {platform.python_version()}  {sys.executable}")
    for pkg in (
        "dig-kit",
        "numpy",
        "torch",
        "torchvision",
        "transformers",
        "trl",
        "accelerate",
        "peft",
        "vllm",
        "datasets",
        "bpy",
        "papermill",
        "jupyterlab",
    ):
        try:
            version = md.version(pkg)
        except md.PackageNotFoundError:
            version = "-"
        print(f"{pkg:13s} {version}")
    try:
        import torch

        cuda = (
            f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s) visible"
            if torch.cuda.is_available()
            else f"no GPU visible (build: {torch.version.cuda or 'CPU'})"
        )
        print(f"{'torch device':13s} {cuda}")
    except ImportError:
        pass
    try:
        py = render_python()
        r = subprocess.run(
            [py, "-c", "import bpy, numpy; print(bpy.app.version_string, 'numpy', numpy.__version__)"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        found = r.stdout.strip() if r.returncode == 0 else f"bpy does not import: {r.stderr.strip().splitlines()[-1:]}"
        print(f"{'render env':13s} {py}: Blender {found}")
        return 0 if r.returncode == 0 else 1
    except RenderEnvError as e:
        print(f"{'render env':13s} none: {e}")
        return 1


def _step_names() -> str:
    """``reproduce``'s steps per profile, for its help."""
    from pathlib import Path

    from dig_kit.paper.pipeline import steps

    return "\n".join(
        f"  {profile:6s} {' '.join(s.name for s in steps(profile, Path('runs'), Path('figures')))}"
        for profile in ("smoke", "mini", "paper")
    )


def build_parser() -> argparse.ArgumentParser:
    import dig_kit

    parser = argparse.ArgumentParser(
        prog="dig-kit",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="dig-kit: render DiG and TWIN data, train with GRPO, evaluate, and reproduce the paper's "
        "figures and tables.",
        epilog="start here:\n  dig-kit reproduce --profile smoke          the whole method on a CPU in minutes\n"
        "  dig-kit reproduce --profile paper --plan   what the paper profile will run, on which GPUs\n"
        "`dig-kit COMMAND --help` describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"dig-kit {dig_kit.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("config", help="print the resolved config of a preset with overrides")
    _add_config_args(p, "train.learning_rate=2e-6")
    p.set_defaults(func=cmd_config)

    for name, kind, what in (
        ("render", "dig", "DiG before/after pairs"),
        ("render-twin", "twin", "TWIN same-or-not items (pair and multi)"),
    ):
        p = sub.add_parser(name, help=f"render {what} into a datasets-loadable directory")
        _add_config_args(p, "data.render.width=240" if kind == "dig" else "twin.subsets.train.num_items=100")
        p.add_argument("--out", required=True, help="dataset directory (created; an existing one is completed)")
        p.add_argument("--subset", action="append", help="subset to render (repeatable; default: all of the preset)")
        p.add_argument(
            "--num-pairs",
            "--num-items",
            dest="num_pairs",
            type=int,
            default=None,
            help="items per subset (default: the preset's)",
        )
        p.add_argument(
            "--workers",
            type=_workers_arg,
            default=1,
            help="persistent Blender worker processes: a number, or auto = one per visible GPU "
            "(each pinned to its GPU; 1 without GPUs or with data.render.device=cpu); "
            "N workers on a GPU machine go round-robin over its GPUs",
        )
        p.add_argument("--shard", default="0/1", help="render only shard I of N (item k goes to shard k %% N)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.set_defaults(func=cmd_render, kind=kind)

    p = sub.add_parser("export", help="export a rendered DiG dataset to another framework's format")
    p.add_argument(
        "--format",
        choices=["easyr1"],
        required=True,
        help="easyr1: one parquet per split (problem, answer, images), EasyR1's data loader defaults",
    )
    p.add_argument("--data", required=True, help="dataset directory made by `dig-kit render`")
    p.add_argument("--out", required=True, help="output directory (one <split>.parquet each)")
    p.add_argument("--subset", action="append", help="split to export (repeatable; default: every rendered one)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "tiny-model", help="build a tiny random Qwen3-VL (model + processor) offline, for CPU smoke runs"
    )
    p.add_argument(
        "--out",
        required=True,
        help="directory to write (model, tokenizer, processor), e.g. "
        "runs/smoke/tiny-model, the smoke preset's train.model",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")
    p.set_defaults(func=cmd_tiny_model)

    p = sub.add_parser(
        "pretrain",
        help="perception-pretrain the mini model on generated scenes (fast renders); resumable, CPU or CUDA",
        epilog="example: dig-kit pretrain --out runs/backbone --max-minutes 30 --heldout runs/mini/data",
    )
    p.add_argument("--out", required=True, help="run directory (checkpoint/, final/, metrics.jsonl)")
    p.add_argument("--preset", default="mini", help="profile whose scenes and image size to follow (default mini)")
    p.add_argument("--init", default=None, help="checkpoint dir to start from (default: a new mini model)")
    p.add_argument("--seed", type=int, default=0, help="seed of the model and the scene stream (default 0)")
    p.add_argument(
        "--max-examples",
        type=int,
        default=None,
        help="budget in examples (default: 20000, or none when --max-minutes is given)",
    )
    p.add_argument("--max-minutes", type=float, default=0.0, help="budget in training minutes (0: none)")
    p.add_argument("--batch-size", type=int, default=64, help="examples per optimizer step (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    p.add_argument("--warmup-steps", type=int, default=200, help="linear warm-up steps (default 200)")
    p.add_argument(
        "--lr-schedule",
        default="cosine",
        choices=("cosine", "constant"),
        help="after the warm-up: a cosine over the budget to a tenth of the peak (default), or the peak to the end",
    )
    p.add_argument("--workers", type=int, default=-1, help="data worker processes (default: all cores but one)")
    p.add_argument("--heldout", default=None, help="a rendered DiG data dir (eval split) for held-out checks")
    p.add_argument("--heldout-pairs", type=int, default=100, help="held-out pairs checked (default 100)")
    p.add_argument("--eval-every", type=int, default=0, help="held-out check every N examples (0: at the end)")
    p.add_argument("--checkpoint-minutes", type=float, default=5.0, help="checkpoint interval (default 5)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="default: cuda if present")
    p.add_argument(
        "--model-arg",
        action="append",
        metavar="KEY=INT",
        help="architecture of a new model, e.g. --model-arg vision_depth=3 (text_width, text_layers, "
        "vision_width, vision_depth)",
    )
    p.add_argument(
        "--widen",
        type=int,
        default=0,
        metavar="WIDTH",
        help="first widen the starting model's text model to WIDTH (more heads; the same function at the start)",
    )
    p.add_argument(
        "--loss-mean",
        default="example",
        choices=("example", "token"),
        help="average the loss per example, then over examples (default), or over all completion tokens",
    )
    p.add_argument(
        "--phase-ends",
        default="0.3,0.6",
        help="where the objects and scenes phases end, as shares of the budget (default 0.3,0.6; 0,0: pairs only)",
    )
    p.add_argument(
        "--task-weight",
        action="append",
        metavar="TASK=W",
        help="override a task's weight in every phase that has it, e.g. --task-weight yes_no=6 (tasks: attributes, "
        "yes_no, count, describe, grounding, yes_no_both, dig, same, yes_no_think, yes_no_first; yes_no_think "
        "names the seen objects in its thought before the answer; yes_no_first asks before the image and also "
        "trains the image tokens, see --dense-layers)",
    )
    p.add_argument(
        "--dense-layers",
        default="1,3",
        metavar="NAMING,MATCHING",
        help="yes_no_first: after how many text layers each image token must name its object's colour and shape, "
        "and say whether it is the object asked about (default 1,3)",
    )
    p.add_argument(
        "--dense-weight",
        type=float,
        default=1.0,
        metavar="W",
        help="yes_no_first: the weight of those two image-token losses against the completion loss (default 1.0)",
    )
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("train", help="run one GRPO curriculum stage (trl) on rendered DiG data")
    _add_config_args(p, "train.launch.processes=2")
    p.add_argument("--stage", type=int, required=True, help="1, 2 or 3; stage N starts from OUT/stage{N-1}/final")
    p.add_argument("--data", required=True, help="dataset directory made by `dig-kit render`")
    p.add_argument("--out", required=True, help="run directory (stageN/ subdirectories)")
    p.add_argument(
        "--model",
        default=None,
        help="initial weights (default: train.model for stage 1, else the previous stage's final weights)",
    )
    p.add_argument(
        "--log-dir",
        default=None,
        help="where a launched stage's log goes (default: OUT/../logs); "
        "with --set train.launch.processes=N (or auto: one per GPU) the stage starts N processes",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "reproduce",
        help="run the notebooks headlessly with papermill, in dependency order",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"steps (names for --only and --from):\n{_step_names()}",
    )
    p.add_argument(
        "--profile",
        "--preset",
        dest="profile",
        default="smoke",
        choices=preset_names(),
        help="which profile to reproduce (default: smoke). "
        + "; ".join(f"{k}: {v}" for k, v in PRESET_NOTES.items() if k in preset_names()),
    )
    p.add_argument("--runs-dir", default="runs", help="executed notebooks, logs and runs go to RUNS_DIR/<profile>/")
    p.add_argument(
        "--figures",
        "--out",
        dest="figures",
        default=None,
        help="directory the figures and tables are written to (default: figures/ for the paper "
        "profile, figures/<profile>/ for the others)",
    )
    p.add_argument("--only", action="append", metavar="STEP", help="run only these steps (repeatable; see below)")
    p.add_argument("--from", dest="start", default=None, metavar="STEP", help="start at this step (see below)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field in every step, e.g. --set data.subsets.stage1.num_pairs=100",
    )
    p.add_argument(
        "--plan",
        action="store_true",
        help="print every step with what it launches (processes, GPUs, nodes), whether it is cached, "
        "the inputs it needs and whether they are here, and estimated GPU-hours; run nothing",
    )
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser(
        "doctor",
        help="show what the environments hold: versions, CUDA, the Blender render env",
        description="Print the versions of the kit's libraries, whether torch sees a GPU, and the "
        "Python that runs the Blender workers; exit 1 when bpy does not import there.",
    )
    p.set_defaults(func=cmd_doctor)

    from dig_kit.evaluation.cli import add_evaluate_commands

    add_evaluate_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, SceneError, ChangeError, RenderEnvError, RenderError, RunLockError) as e:
        print(f"dig-kit {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
