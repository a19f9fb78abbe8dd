"""``dig-kit evaluate`` and ``dig-kit score``: wire them into the main parser with
:func:`add_evaluate_commands`.

- ``dig-kit evaluate --model PATH --benchmark NAME --data PATH --out DIR [--backend vllm|transformers]``
  generates what ``DIR`` lacks (resumable), scores, prints and writes the metrics JSON.
  ``--processes N`` (or ``auto``: one per visible GPU, or per ``--tensor-parallel-size``
  GPUs) generates in N worker processes, each on its own GPU(s), logs under ``DIR/logs/``,
  then merges and scores in this one; the scores are those of one process.
  ``--shard I/N`` generates shard I of N only (the batches ``j`` with ``j % N == I``) into
  its own part file, scores nothing and prints what it generated: for Slurm, e.g.
  ``srun --ntasks N --gpus-per-task 1 bash -c 'dig-kit evaluate ... --shard $SLURM_PROCID/$SLURM_NTASKS'``
  (or ``--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`` in an array job), then one
  ``dig-kit evaluate ...`` without ``--shard`` merges the part files and scores. Shards
  never write the same file, so they may run at the same time on any machines sharing
  ``DIR``. Any evaluation first merges the part files it finds, so an interrupted
  run resumes with any number of processes.
- ``dig-kit score --benchmark NAME --data PATH --predictions FILE`` scores predictions made
  anywhere (JSONL: the item id and the raw model output per line, optionally
  ``finish_reason``), prints and writes the metrics JSON and the per-item JSONL (beside the
  predictions, or into the directory ``--out``; ``--metrics-out FILE`` names the metrics file).

Errors in the input (unknown benchmark, missing data, missing backend library, too few GPUs
for ``--processes``) exit with status 2 and one line naming the problem; a worker process
that fails exits with status 1 and its error and log tail.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dig_kit.rewards.geometry import COORD_FORMATS

_THINKING = ("auto", "yes", "no")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data", required=True, help="the benchmark's file or folder, or a data root holding it under its usual name"
    )
    p.add_argument(
        "--limit", type=int, default=None, help="only the first N items (whole groups where scored in groups)"
    )
    p.add_argument(
        "--thinking",
        choices=_THINKING,
        default="auto",
        help="does the model's chat template open <think>? yes: an output without </think> is "
        "truncated; no/auto: decided per output (after the last </think>; an unclosed <think> or "
        "finish_reason=length is truncated; auto also uses each prediction's recorded 'thinking')",
    )
    p.add_argument(
        "--protocol",
        choices=("vlmevalkit", "lenient", "judge"),
        default="vlmevalkit",
        help="answer extraction: vlmevalkit = VLMEvalKit's exact matching (default, comparable to "
        "published numbers); lenient = also the kit's fallback rules (not comparable); judge = "
        "exact matching, then VLMEvalKit's judge prompts on an OpenAI-compatible endpoint for "
        "what it cannot read (DIG_KIT_JUDGE_URL, DIG_KIT_JUDGE_KEY, DIG_KIT_JUDGE_MODEL)",
    )
    p.add_argument(
        "--box-scale",
        choices=("model", "guess"),
        default=None,
        help="grounding: model = the --coord-format convention (default); guess = VLMEvalKit-style "
        "per-box scale guess (fails on pixel boxes of images up to 1000 px)",
    )
    p.add_argument(
        "--coord-format",
        choices=COORD_FORMATS,
        default=None,
        help="box coordinates the model writes (grounding; default: rel1000 for RefCOCO, as Qwen3-VL; "
        "abs for DiG, as its prompt asks)",
    )


def _processes_arg(value: str) -> int | str:
    if value.strip().lower() == "auto":
        return "auto"
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: a positive number of processes, or auto")
    return n


def _shard_arg(value: str) -> tuple[int, int]:
    try:
        index, count = (int(x) for x in value.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: write I/N, shard I of N, e.g. 0/4") from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(
            f"{value!r}: shards are numbered 0..N-1 (N at least 1), so I/N needs 0 <= I < N"
        )
    return index, count


def cmd_evaluate(args) -> int:
    from dig_kit.launcher import LaunchError

    from .backends import BackendUnavailable
    from .formats import BenchmarkDataError
    from .runner import evaluate, generate_shard

    backend_options = {
        k: v
        for k, v in (
            ("tensor_parallel_size", args.tensor_parallel_size),
            ("max_pixels", args.max_pixels),
            ("gpu_memory_utilization", args.gpu_memory_utilization),
        )
        if v is not None
    }
    shard = getattr(args, "shard", None)
    processes = getattr(args, "processes", 1)
    if shard is not None and processes != 1:
        print("dig-kit evaluate: error: --shard runs one shard in this process; leave out --processes", file=sys.stderr)
        return 2
    common = dict(
        backend=args.backend,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        batch_size=args.batch_size,
        limit=args.limit,
        coord_format=args.coord_format,
        backend_options=backend_options,
        progress=not args.quiet,
        box_scale=args.box_scale,
    )
    results = {}
    try:
        for bench in args.benchmark:
            if shard is not None:
                results[bench] = generate_shard(args.model, bench, args.data, args.out, shard, **common)
            else:
                results[bench] = evaluate(
                    args.model,
                    bench,
                    args.data,
                    args.out,
                    thinking=args.thinking,
                    protocol=args.protocol,
                    processes=processes,
                    **common,
                )
    except (BenchmarkDataError, BackendUnavailable, KeyError, FileNotFoundError, ValueError) as e:
        print(f"dig-kit evaluate: error: {e.args[0] if isinstance(e, KeyError) and e.args else e}", file=sys.stderr)
        return 2
    except LaunchError as e:
        print(f"dig-kit evaluate: error: {e}", file=sys.stderr)
        return 1
    out = results[args.benchmark[0]] if len(results) == 1 else results
    print(json.dumps(out, indent=2, default=str))
    return 0


def cmd_score(args) -> int:
    from .formats import BenchmarkDataError
    from .runner import score_file

    if args.out and (args.out.endswith(".json") or Path(args.out).is_file()):
        print(
            f"dig-kit score: error: --out {args.out}: --out is a directory, as in every dig-kit command; "
            "for the metrics JSON file itself use --metrics-out FILE",
            file=sys.stderr,
        )
        return 2
    metrics_out = args.metrics_out
    if args.out and not metrics_out:
        metrics_out = str(Path(args.out) / (Path(args.predictions).stem + ".metrics.json"))
    try:
        metrics = score_file(
            args.benchmark,
            args.data,
            args.predictions,
            out=metrics_out,
            thinking=args.thinking,
            coord_format=args.coord_format,
            limit=args.limit,
            protocol=args.protocol,
            scores_out=args.scores_out,
            box_scale=args.box_scale,
        )
    except (BenchmarkDataError, KeyError, FileNotFoundError, ValueError) as e:
        print(f"dig-kit score: error: {e.args[0] if isinstance(e, KeyError) and e.args else e}", file=sys.stderr)
        return 2
    print(json.dumps(metrics, indent=2, default=str))
    return 0


def cmd_probe(args) -> int:
    from .backends import BackendUnavailable
    from .probe import probe

    try:
        report = probe(
            args.model,
            args.data,
            subset=args.subset,
            num_pairs=args.num_pairs,
            backend=args.backend,
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
        )
    except (BackendUnavailable, KeyError, FileNotFoundError, ValueError) as e:
        print(f"dig-kit probe: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=1))
    return 0


def add_evaluate_commands(subparsers) -> None:
    """Add ``evaluate`` and ``score`` to ``dig-kit``'s sub-command parsers."""
    from .tasks import task_names, vlmevalkit_names

    names = f"{', '.join(task_names())}; VLMEvalKit's dataset names, as they are: {', '.join(vlmevalkit_names())}"
    p = subparsers.add_parser(
        "evaluate",
        help="generate (resumably) and score a model on the paper's benchmarks",
        description=f"Benchmarks: {names}.",
    )
    p.add_argument("--model", required=True, help="checkpoint directory or hub id")
    p.add_argument("--benchmark", required=True, action="append", help="benchmark name (repeatable)")
    p.add_argument(
        "--out", required=True, help="output directory: predictions, scores and metrics JSON (reused to resume)"
    )
    p.add_argument(
        "--backend",
        choices=("auto", "vllm", "transformers", "dummy"),
        default="auto",
        help="vllm (GPU, the paper's), transformers (CPU or no vLLM), dummy (no model: smoke runs); "
        "auto: vllm where installed, else transformers (default)",
    )
    p.add_argument("--max-new-tokens", type=int, default=4096, help="generation limit (paper: 4096)")
    p.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (paper: 0, greedy)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="items per generate call and per checkpoint of the predictions file "
        "(default 256 for vllm, 8 for transformers)",
    )
    p.add_argument("--tensor-parallel-size", type=int, default=None, help="vllm: GPUs per model")
    p.add_argument("--gpu-memory-utilization", type=float, default=None, help="vllm: fraction of GPU memory")
    p.add_argument("--max-pixels", type=int, default=None, help="cap on image pixels given to the processor")
    p.add_argument(
        "--processes",
        type=_processes_arg,
        default=1,
        metavar="N|auto",
        help="generate in N worker processes, each on its own GPU (vllm: its own --tensor-parallel-size "
        "GPUs), logs under OUT/logs/; then merge and score here, with the scores of one process. "
        "auto: one per visible GPU (group), 1 without GPUs. Default 1: generate in this process",
    )
    p.add_argument(
        "--shard",
        type=_shard_arg,
        default=None,
        metavar="I/N",
        help="generate only shard I of N (batches j with j %% N == I, numbered from 0) into its own part "
        "file beside the predictions, score nothing, print what it generated; for Slurm array or "
        "srun jobs, after which one run without --shard merges the part files and scores",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    _common(p)
    p.set_defaults(func=cmd_evaluate)

    p = subparsers.add_parser(
        "probe",
        help="which box coordinates (pixels or 0-1000) does a model write on DiG "
        "pairs? Reports the share of boxes beyond the image and the reward under each convention",
    )
    p.add_argument("--model", required=True, help="checkpoint directory or hub id, e.g. Qwen/Qwen3-VL-4B-Thinking")
    p.add_argument("--data", required=True, help="a dataset directory made by `dig-kit render`")
    p.add_argument("--subset", default="eval", help="split whose pairs are shown to the model (default: eval)")
    p.add_argument("--num-pairs", type=int, default=16, help="pairs to probe (default 16)")
    p.add_argument(
        "--backend",
        choices=("auto", "vllm", "transformers", "dummy"),
        default="auto",
        help="vllm (GPU), transformers (CPU or no vLLM), dummy (no model); auto: vllm where installed",
    )
    p.add_argument("--max-new-tokens", type=int, default=2048, help="generation limit per answer (default 2048)")
    p.add_argument("--temperature", type=float, default=0.0, help="0: greedy")
    p.set_defaults(func=cmd_probe)

    p = subparsers.add_parser(
        "score",
        help="score a predictions JSONL (id + raw output per line) on a benchmark",
        description=f"Benchmarks: {names}.",
    )
    p.add_argument(
        "--benchmark",
        required=True,
        help="the one benchmark the predictions answer (evaluate takes several: it writes predictions per benchmark)",
    )
    p.add_argument("--predictions", required=True, help="JSONL with the item id and the raw model output per line")
    p.add_argument(
        "--out",
        default=None,
        help="output directory: <predictions name>.metrics.json and .scores.jsonl go there "
        "(default: beside the predictions)",
    )
    p.add_argument("--metrics-out", default=None, help="the metrics JSON file itself (instead of --out)")
    p.add_argument(
        "--scores-out",
        default=None,
        help="per-item JSONL to write: id, raw output, final answer, prediction, score, why "
        "(default: beside the metrics, <name>.scores.jsonl)",
    )
    _common(p)
    p.set_defaults(func=cmd_score)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m dig_kit.evaluation.cli``) until ``dig-kit`` wires it in."""
    parser = argparse.ArgumentParser(prog="dig-kit")
    add_evaluate_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
