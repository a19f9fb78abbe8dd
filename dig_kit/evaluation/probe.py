"""``dig-kit probe``: which box coordinates does a model write on DiG pairs?

The DiG prompt asks for pixels of the render (``abs``), but Qwen3-VL writes 0-1000 relative
coordinates natively (``rel1000``). If the policy answers in the other convention, the accuracy
reward starts near 0, most groups are constant and online filtering stops the run. The probe
generates on N pairs and reports, for the boxes the model wrote: the share that lies beyond the
image (impossible as pixels), the share with every coordinate <= 1 (``rel1``), and the mean
reward under each convention; it recommends the convention with the highest accuracy reward.
"""

from __future__ import annotations

from dig_kit.rewards import dig_reward
from dig_kit.rewards.geometry import COORD_FORMATS
from dig_kit.rewards.parsing import raw_boxes


def coordinate_report(outputs: list[str], rows: list[dict]) -> dict:
    """The report of outputs (model texts) on rows (``boxes``, ``width``, ``height``)."""
    if len(outputs) != len(rows):
        raise ValueError(f"{len(outputs)} outputs for {len(rows)} rows")
    boxes, beyond, unit = 0, 0, 0
    reward = {f: {"accuracy": 0.0, "overall": 0.0} for f in COORD_FORMATS}
    for text, row in zip(outputs, rows):
        w, h = row["width"], row["height"]
        for b in raw_boxes(text):
            if len(b) != 4 or not all(isinstance(v, (int, float)) for v in b):
                continue
            boxes += 1
            beyond += max(b[0], b[2]) > w or max(b[1], b[3]) > h
            unit += all(0 <= v <= 1 for v in b)
        for f in COORD_FORMATS:
            r = dig_reward(text, row["boxes"], (w, h), coord_format=f)
            reward[f]["accuracy"] += r["accuracy"] / len(rows)
            reward[f]["overall"] += r["overall"] / len(rows)
    best = max(COORD_FORMATS, key=lambda f: reward[f]["accuracy"]) if boxes else None
    if best is not None and reward[best]["accuracy"] <= 0:
        best = None
    if best is None:
        advice = (
            "no box matched under any convention: cannot tell (a longer --max-new-tokens, or a stronger "
            "model); keep the preset's train.reward.coord_format"
        )
    else:
        advice = f"--set train.reward.coord_format={best}"
    return {
        "pairs": len(rows),
        "boxes": boxes,
        "share_beyond_image": beyond / boxes if boxes else None,
        "share_all_coords_le_1": unit / boxes if boxes else None,
        "reward": {f: {k: round(v, 4) for k, v in r.items()} for f, r in reward.items()},
        "recommended": best,
        "set": advice,
    }


def probe(
    model: str,
    data: str,
    subset: str = "eval",
    num_pairs: int = 16,
    backend: str = "auto",
    max_new_tokens: int = 2048,
    temperature: float = 0.0,
    backend_options: dict | None = None,
) -> dict:
    """Generate on the first ``num_pairs`` pairs of ``subset`` (no count hint, as stage 3) and report."""
    from dig_kit.data.reader import load_split
    from dig_kit.prompts import dig_prompt

    from .backends import generate_detailed, get_backend

    split = load_split(data, subset)
    split = split.select(range(min(num_pairs, len(split))))
    rows = [{"boxes": r["boxes"], "width": r["width"], "height": r["height"]} for r in split]
    items = [{"prompt": dig_prompt(None), "images": [r["before"], r["after"]]} for r in split]
    gen = generate_detailed(get_backend(backend, model, **(backend_options or {})), items, max_new_tokens, temperature)
    report = coordinate_report([g.text for g in gen], rows)
    report.update(model=model, subset=subset, truncated=sum(g.finish_reason == "length" for g in gen))
    return report
