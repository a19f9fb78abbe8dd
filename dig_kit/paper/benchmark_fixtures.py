"""Tiny benchmark files in the real distribution formats, for tests and smoke runs.

Nothing here is a benchmark: a few synthetic questions per file, with tiny solid-colour
images, written exactly as the community distributes the real ones (VLMEvalKit TSVs with
base64 images and shared-image references, Hugging Face parquet shards with ``{"bytes",
"path"}`` image structs, JSON Lines with image files, the rendered DiG layout), so the
loaders, scorers and the evaluation notebook can be exercised end to end without downloads.
:func:`write_smoke_suite` writes one of each under a data root.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

COLORS = ("red", "green", "blue", "yellow", "white", "black", "purple", "orange")


def png_bytes(color: str = "red", size: tuple[int, int] = (32, 24)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def b64_image(color: str = "red", size: tuple[int, int] = (32, 24)) -> str:
    return base64.b64encode(png_bytes(color, size)).decode()


def write_vlmeval_tsv(path: str | Path, rows: Sequence[dict]) -> Path:
    """A VLMEvalKit TSV (tab-separated, every field quoted, as VLMEvalKit's ``dump`` writes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, delimiter="\t", quoting=csv.QUOTE_ALL)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})
    return path


def write_parquet(path: str | Path, rows: Sequence[dict], image_columns: Sequence[str] = ("image",)) -> Path:
    """A Hugging Face-style parquet shard; ``image_columns`` hold PNG bytes, stored as
    ``{"bytes", "path"}`` structs like the ``datasets`` Image feature."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for r in rows:
        r = dict(r)
        for c in image_columns:
            if c in r and isinstance(r[c], (bytes, bytearray)):
                r[c] = {"bytes": bytes(r[c]), "path": None}
        out.append(r)
    pq.write_table(pa.Table.from_pylist(out), str(path))
    return path


def write_jsonl(path: str | Path, rows: Sequence[dict]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_dig_eval(root: str | Path, pairs: Sequence[dict], size: tuple[int, int] = (48, 32)) -> Path:
    """A DiG dataset directory with an ``eval`` split in ``dig-kit render``'s layout
    (``eval/shard-00000-of-00001/metadata.jsonl`` + ``images/``). ``pairs``: dicts with
    ``id``, ``boxes``, ``change_types`` (and optionally ``num_differences``)."""
    shard = Path(root) / "eval" / "shard-00000-of-00001"
    (shard / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for k, p in enumerate(pairs):
        names = {}
        for j, which in enumerate(("before", "after")):
            name = f"images/{p['id']}_{which}.png"
            (shard / name).write_bytes(png_bytes(COLORS[(k + j) % len(COLORS)], size))
            names[which] = name
        rows.append(
            {
                "id": p["id"],
                "seed": k,
                "subset": "eval",
                "before_file_name": names["before"],
                "after_file_name": names["after"],
                "width": size[0],
                "height": size[1],
                "boxes": p["boxes"],
                "change_types": p["change_types"],
                "num_differences": p.get("num_differences", len(p["boxes"])),
                "differences": [],
            }
        )
    write_jsonl(shard / "metadata.jsonl", rows)
    return Path(root)


def _mcq(i: int, answer: str, **extra) -> dict:
    return {
        "index": i,
        "image": b64_image(COLORS[i % len(COLORS)]),
        "question": f"What colour is shown ({i})?",
        "A": "red",
        "B": "green",
        "C": "blue",
        "D": "yellow",
        "answer": answer,
        **extra,
    }


def write_smoke_suite(root: str | Path) -> Path:
    """One tiny file per benchmark under ``root``, named as the evaluation looks for them."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    write_vlmeval_tsv(
        root / "HallusionBench.tsv",
        [
            {
                "index": f"VD_figure_{k}_0_{f}_{q}",
                "image": b64_image(COLORS[f]),
                "question": f"Is it red ({q})?",
                "answer": "Yes" if (f + q) % 2 == 0 else "No",
                "category": "VD",
                "l2-category": "figure",
            }
            for k in range(2)
            for f in range(2)
            for q in range(2)
        ],
    )
    write_vlmeval_tsv(
        root / "HRBench8K.tsv",
        [
            _mcq(i, "ABCD"[i % 4], category="single" if i % 2 else "cross", cycle_category=f"cycle{i // 4}")
            for i in range(8)
        ],
    )
    write_vlmeval_tsv(
        root / "POPE.tsv",
        [
            {
                "index": i,
                "image": b64_image(COLORS[i % 8]),
                "question": f"Is there a cube in the image ({i})?",
                "answer": "Yes" if i % 2 else "No",
                "category": ("adversarial", "popular", "random")[i % 3],
            }
            for i in range(6)
        ],
    )
    write_vlmeval_tsv(
        root / "VStarBench.tsv",
        [_mcq(i, "A", category=("direct_attributes", "relative_position")[i % 2]) for i in range(4)],
    )
    write_vlmeval_tsv(
        root / "VSR_zeroshot.tsv",
        [
            {
                "index": i,
                "image": b64_image(COLORS[i]),
                "question": f'Is the following statement about the image true? "The cat is left of the dog ({i})."',
                "answer": "Yes" if i % 2 else "No",
            }
            for i in range(4)
        ],
    )
    cv = root / "CV-Bench"
    for kind, sources in (("2d", ("ADE20K", "COCO")), ("3d", ("Omni3D", "Omni3D"))):
        write_parquet(
            cv / f"test_{kind}.parquet",
            [
                {
                    "idx": k + (0 if kind == "2d" else 10),
                    "type": kind.upper(),
                    "task": "Count",
                    "image": png_bytes(COLORS[k]),
                    "question": "How many cubes are there?",
                    "choices": ["1", "2", "3"],
                    "answer": "(A)",
                    "source": sources[k % 2],
                }
                for k in range(2)
            ],
        )
    write_vlmeval_tsv(
        root / "MMVP.tsv",
        [
            {
                "index": i,
                "image": b64_image(COLORS[i % 8]),
                "question": "Is the door open or closed?",
                "A": "Open",
                "B": "Closed",
                "answer": "A" if i % 2 else "B",
            }
            for i in range(1, 5)
        ],
    )
    write_vlmeval_tsv(
        root / "MMBench_DEV_EN.tsv",
        [
            _mcq(
                i,
                "ABCD"[i % 4],
                hint="Look closely." if i % 2 else None,
                category="color",
                **{"l2-category": "finegrained_perception (instance-level)"},
            )
            for i in range(3)
        ],
    )
    write_vlmeval_tsv(
        root / "MMVet.tsv",
        [
            {
                "index": i,
                "image": b64_image(COLORS[i]),
                "question": f"What is written here ({i})?",
                "answer": "hello",
                "category": "ocr,rec",
            }
            for i in range(2)
        ],
    )
    write_vlmeval_tsv(root / "MMStar.tsv", [_mcq(i, "ABCD"[i % 4], category="coarse perception") for i in range(4)])
    write_vlmeval_tsv(
        root / "ScienceQA_TEST.tsv", [_mcq(i, "A", hint="Context.", category="physics") for i in range(3)]
    )
    write_vlmeval_tsv(
        root / "TextVQA_VAL.tsv",
        [
            {
                "index": i,
                "image": b64_image(COLORS[i]),
                "question": "What does the sign say?",
                "answer": str(["stop"] * 7 + ["stop sign"] * 3),
            }
            for i in range(3)
        ],
    )
    mme_rows = []
    for i, cat in enumerate(("existence", "count", "OCR", "code_reasoning")):
        img = b64_image(COLORS[i])
        mme_rows.append(
            {
                "index": 2 * i,
                "image": img,
                "question": "Is there a cube? Please answer yes or no.",
                "answer": "Yes",
                "category": cat,
                "image_path": f"{cat}/{i}.jpg",
            }
        )
        mme_rows.append(
            {
                "index": 2 * i + 1,
                "image": str(2 * i),
                "question": "Is there a ball? Please answer yes or no.",
                "answer": "No",
                "category": cat,
                "image_path": f"{cat}/{i}.jpg",
            }
        )
    write_vlmeval_tsv(root / "MME.tsv", mme_rows)
    write_vlmeval_tsv(root / "AI2D_TEST.tsv", [_mcq(i, "ABCD"[i % 4]) for i in range(4)])
    for folder, splits in (
        ("RefCOCO", ("val", "testA", "testB")),
        ("RefCOCOplus", ("val", "testA", "testB")),
        ("RefCOCOg", ("val", "test")),
    ):
        for split in splits:
            write_parquet(
                root / folder / "data" / f"{split}-00000-of-00001.parquet",
                [
                    {
                        "question_id": f"{split}{k}",
                        "image": png_bytes(COLORS[k], (64, 48)),
                        "answer": [f"the {COLORS[k]} box"],
                        "bbox": [8.0 * k, 4.0, 16.0, 16.0],
                    }
                    for k in range(2)
                ],
            )
    write_dig_eval(
        root / "dig",
        [
            {"id": "eval-0", "boxes": [[4, 4, 20, 20]], "change_types": ["color"]},
            {"id": "eval-1", "boxes": [[2, 2, 12, 12], [30, 10, 44, 28]], "change_types": ["add", "shape"]},
        ],
    )
    img_dir = root / "fgvqa_images"
    img_dir.mkdir(exist_ok=True)
    for c in COLORS[:4]:
        (img_dir / f"{c}.png").write_bytes(png_bytes(c))
    write_jsonl(
        root / "fgvqa.jsonl",
        [
            {
                "id": "p0",
                "images": ["fgvqa_images/red.png", "fgvqa_images/green.png"],
                "answer": "no",
                "type": "pair",
                "source": "CUB",
            },
            {
                "id": "m0",
                "images": [f"fgvqa_images/{c}.png" for c in COLORS[:4]],
                "answer": "1",
                "type": "multi",
                "source": "CUB",
            },
        ],
    )
    return root
