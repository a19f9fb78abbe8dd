"""Paper artifacts that describe runs: Table 5 from the config that ran, and figures/index.md.

- :func:`tab5_rows` reads the resolved ``config.yaml`` a training stage wrote next to its
  checkpoints and sets each Table 5 parameter beside the paper's value, so the table states
  what actually ran instead of retyping it.
- :func:`write_index` lists every artifact in ``figures/`` with the pipeline step, notebook
  and executed notebook that made it, and the source line the artifact itself carries.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

# Supplement Table 5, (component, parameter, paper value, how to read it from a config)
TABLE5 = [
    ("Algorithm", "KL coefficient", "1.0e-2", lambda t: f"{t['beta']:g}"),
    (
        "Algorithm",
        "Filter range",
        "[0.01, 0.99]",
        lambda t: f"[{t['filter_low']:g}, {t['filter_high']:g}]" + ("" if t["filter_enabled"] else " (off)"),
    ),
    ("Algorithm", "Reward weight α", "0.1", lambda t: f"{t['reward']['alpha']:g}"),
    ("Optimization", "Learning rate", "1.0e-6", lambda t: f"{t['learning_rate']:g}"),
    ("Optimization", "Weight decay", "1.0e-2", lambda t: f"{t['weight_decay']:g}"),
    ("Optimization", "Optimizer", "AdamW", lambda t: "AdamW"),
    ("Optimization", "Gradient clipping", "1.0", lambda t: f"{t['max_grad_norm']:g}"),
    ("Optimization", "Warmup ratio", "0.0", lambda t: f"{t['warmup_ratio']:g}"),
    ("Model", "Gradient checkpointing", "True", lambda t: str(t["gradient_checkpointing"])),
    ("Model", "Vision tower", "Trainable", lambda t: "Frozen" if t["freeze_vision"] else "Trainable"),
    ("Model", "FSDP sharding", "Full", lambda t: "launch option (configs/accelerate/)"),
    ("Rollout", "n", "5", lambda t: str(t["num_generations"])),
    ("Rollout", "Temperature", "1.0", lambda t: f"{t['temperature']:g}"),
    ("Rollout", "Top-p", "1.0", lambda t: f"{t['top_p']:g}"),
    (
        "Rollout",
        "Validation override",
        "T=0.6, p=0.95, n=1",
        lambda t: f"T={t['val_temperature']:g}, p={t['val_top_p']:g}, n=1",
    ),
    ("Training Schedule", "Stage 1 steps", "60", lambda t: str(t["stage_steps"][0])),
    ("Training Schedule", "Stage 2 steps", "20", lambda t: str(t["stage_steps"][1])),
    ("Training Schedule", "Stage 3 steps", "30", lambda t: str(t["stage_steps"][2])),
]


def tab5_rows(config_path: str | Path) -> list[dict]:
    """Table 5 with the paper's values and those of the run whose ``config.yaml`` is given."""
    path = Path(config_path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no config.yaml of a training run (train a stage first)")
    cfg = yaml.safe_load(path.read_text())
    t = cfg["train"]
    rows = [
        {"Component": c, "Parameter": p, "Paper (Table 5)": paper, "This run": get(t)} for c, p, paper, get in TABLE5
    ]
    rows.append(
        {
            "Component": "Model",
            "Parameter": "Policy",
            "Paper (Table 5)": "Qwen3-VL-4B/8B-Thinking",
            "This run": str(t["model"]),
        }
    )
    return rows


def _source_of(path: Path) -> str:
    """The 'Source:' note an artifact carries (PNG text chunk, or the Markdown table's last line)."""
    try:
        if path.suffix == ".png":
            from PIL import Image

            return Image.open(path).text.get("Source", "")
        if path.suffix == ".md":
            for line in reversed(path.read_text().splitlines()):
                if line.startswith("*Source:"):
                    return line.strip("*").removeprefix("Source: ")
    except Exception:  # noqa: BLE001 - an unreadable artifact just has no source to show
        return ""
    return ""


def snapshot(figures: Path) -> dict[str, float]:
    """Modification times of the artifacts in ``figures`` (taken before a step runs)."""
    return {p.name: p.stat().st_mtime_ns for p in figures.glob("*") if p.is_file()} if figures.exists() else {}


def record_artifacts(
    figures: Path, before: dict, step: str, notebook: str, executed: Path, records_path: Path
) -> list[str]:
    """Remember which artifacts in ``figures`` a step wrote: new files, or files whose
    modification time changed since the ``before`` snapshot. Returns their file names."""
    records = json.loads(records_path.read_text()) if records_path.exists() else {}
    written = sorted(
        name
        for name, mtime in snapshot(figures).items()
        if name not in ("index.md", "README.md") and before.get(name) != mtime
    )
    for name in written:
        records[Path(name).stem] = {"step": step, "notebook": notebook, "executed": str(executed)}
    records_path.write_text(json.dumps(records, indent=1, sort_keys=True))
    return written


def write_index(figures: Path, records_path: Path, profile: str) -> Path:
    """figures/index.md: every artifact, its formats, the notebook run that made it, its source."""
    records = json.loads(records_path.read_text()) if records_path.exists() else {}
    stems = sorted({p.stem for p in figures.glob("*") if p.is_file() and p.name not in ("index.md", "README.md")})
    lines = [
        f"# Artifacts (profile `{profile}`)",
        "",
        "Generated by `dig-kit reproduce`; each artifact names its own source. Numbers from the smoke "
        "profile come from a tiny random model and tiny data, never from the paper.",
        "",
        "| artifact | files | made by | executed notebook | source |",
        "|---|---|---|---|---|",
    ]
    for stem in stems:
        files = sorted(p.suffix.lstrip(".") for p in figures.glob(f"{stem}.*"))
        rec = records.get(stem, {})
        src = _source_of(figures / f"{stem}.png") or _source_of(figures / f"{stem}.md")
        lines.append(
            f"| `{stem}` | {', '.join(files)} | {rec.get('notebook', '?')} ({rec.get('step', '?')}) | "
            f"`{rec.get('executed', '?')}` | {src.replace('|', '/')} |"
        )
    path = figures / "index.md"
    path.write_text("\n".join(lines) + "\n")
    return path
