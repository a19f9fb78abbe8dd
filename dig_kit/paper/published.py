"""The paper's published numbers, transcribed from the DiG slides (CVPR 2026) and the
TWIN paper (CVPR 2026). ``None`` is a dash in the paper (not reported). Nothing here is
measured; :mod:`.tables` puts these rows beside measured ones, labelled as the paper's.

Each table is a list of rows ``{"Model": ..., <column>: value}``; :data:`COLUMNS` maps each
column to the benchmark and metric of this kit that reproduces it.
"""

from __future__ import annotations

SOURCE_SLIDES = "DiG (Tao et al., CVPR 2026, arXiv:2512.12633), the slides' result tables"
SOURCE_TWIN = "TWIN (Marsili et al., CVPR 2026, arXiv:2512.23592)"

# Table 1 (slides "Results: Perception Benchmarks"). AVG is the paper's own average.
TAB1_PERCEPTION = [
    {"Model": "Qwen2.5-VL-7B", "HalBench": 50.1, "HRB8K": 65.3, "POPE": 86.4, "V*": 77.0, "VSR": 77.7, "CV-Bench": 64.9, "MMVP": 54.7, "AVG": 68.0},
    {"Model": "Qwen2.5-VL-72B", "HalBench": 55.2, "HRB8K": 77.1, "POPE": None, "V*": 85.9, "VSR": None, "CV-Bench": 83.0, "MMVP": 81.7, "AVG": None},
    {"Model": "Qwen3-VL-4B", "HalBench": 70.1, "HRB8K": 69.3, "POPE": 88.3, "V*": 79.1, "VSR": 82.5, "CV-Bench": 82.8, "MMVP": 80.0, "AVG": 78.9},
    {"Model": "Qwen3-VL-4B + DiG", "HalBench": 73.8, "HRB8K": 71.0, "POPE": 88.5, "V*": 79.1, "VSR": 83.9, "CV-Bench": 83.8, "MMVP": 79.0, "AVG": 79.9},
    {"Model": "Qwen3-VL-8B", "HalBench": 73.3, "HRB8K": 69.9, "POPE": 87.9, "V*": 79.1, "VSR": 82.6, "CV-Bench": 85.0, "MMVP": 77.3, "AVG": 79.3},
    {"Model": "Qwen3-VL-8B + DiG", "HalBench": 76.7, "HRB8K": 70.4, "POPE": 88.0, "V*": 81.2, "VSR": 83.0, "CV-Bench": 85.8, "MMVP": 78.7, "AVG": 80.5},
]  # fmt: skip

# Table 2 (slides "Results: General Multimodal Benchmarks"); MME is the perception +
# cognition sum (the +DiG rows are printed without decimals).
TAB2_GENERAL = [
    {"Model": "InternVL3.5-38B", "LLM": "Qwen3-32B", "MMBench": 87.3, "MMVet": 82.2, "MMStar": 75.3, "SQA-I": None, "VQA-T": 82.7, "MME": None, "AI2D": 87.8},
    {"Model": "Qwen2.5-VL-72B", "LLM": "Qwen2.5-72B", "MMBench": 88.6, "MMVet": 76.2, "MMStar": 70.8, "SQA-I": None, "VQA-T": 84.9, "MME": None, "AI2D": 83.9},
    {"Model": "Qwen3-VL-4B", "LLM": "Qwen3-4B", "MMBench": 83.7, "MMVet": 76.0, "MMStar": 66.7, "SQA-I": 86.9, "VQA-T": 76.2, "MME": 1592.4, "AI2D": 81.0},
    {"Model": "Qwen3-VL-4B + DiG", "LLM": "Qwen3-4B", "MMBench": 84.5, "MMVet": 77.3, "MMStar": 70.2, "SQA-I": 89.2, "VQA-T": 76.5, "MME": 1643.0, "AI2D": 82.2},
    {"Model": "Qwen3-VL-8B", "LLM": "Qwen3-8B", "MMBench": 85.5, "MMVet": 76.4, "MMStar": 71.7, "SQA-I": 90.3, "VQA-T": 75.5, "MME": 1648.4, "AI2D": 82.5},
    {"Model": "Qwen3-VL-8B + DiG", "LLM": "Qwen3-8B", "MMBench": 87.2, "MMVet": 76.8, "MMStar": 72.7, "SQA-I": 90.5, "VQA-T": 77.5, "MME": 1666.0, "AI2D": 84.1},
]  # fmt: skip

# Table 3 (slides "Results: Visual Grounding (RefCOCO)"): Acc@0.5 ("@50") and the
# "RefCOCO avg" columns (read here as mean Acc over IoU 0.5:0.95; the paper does not say).
# RefCOCO+ and RefCOCOg are given for 8B only.
TAB3_GROUNDING = [
    {"Model": "Qwen3-VL-4B", "RefCOCO@50 val": 85.7, "RefCOCO@50 testA": 90.1, "RefCOCO@50 testB": 79.1,
     "RefCOCO avg val": 64.0, "RefCOCO avg testA": 67.6, "RefCOCO avg testB": 57.1,
     "RefCOCO+@50 val": None, "RefCOCO+@50 testA": None, "RefCOCO+@50 testB": None, "RefCOCOg@50 val": None, "RefCOCOg@50 test": None},
    {"Model": "Qwen3-VL-4B + DiG", "RefCOCO@50 val": 88.6, "RefCOCO@50 testA": 91.5, "RefCOCO@50 testB": 83.5,
     "RefCOCO avg val": 66.8, "RefCOCO avg testA": 70.1, "RefCOCO avg testB": 60.8,
     "RefCOCO+@50 val": None, "RefCOCO+@50 testA": None, "RefCOCO+@50 testB": None, "RefCOCOg@50 val": None, "RefCOCOg@50 test": None},
    {"Model": "Qwen3-VL-8B", "RefCOCO@50 val": 86.9, "RefCOCO@50 testA": 90.6, "RefCOCO@50 testB": 81.7,
     "RefCOCO avg val": 65.0, "RefCOCO avg testA": 68.1, "RefCOCO avg testB": 58.8,
     "RefCOCO+@50 val": 81.8, "RefCOCO+@50 testA": 86.6, "RefCOCO+@50 testB": 73.9, "RefCOCOg@50 val": 86.3, "RefCOCOg@50 test": 86.5},
    {"Model": "Qwen3-VL-8B + DiG", "RefCOCO@50 val": 90.0, "RefCOCO@50 testA": 91.9, "RefCOCO@50 testB": 86.4,
     "RefCOCO avg val": 67.0, "RefCOCO avg testA": 69.9, "RefCOCO avg testB": 62.2,
     "RefCOCO+@50 val": 84.2, "RefCOCO+@50 testA": 87.7, "RefCOCO+@50 testB": 77.6, "RefCOCOg@50 val": 87.7, "RefCOCOg@50 test": 88.0},
]  # fmt: skip

# Slides "Ablation: Reward Components": RefCOCO val@50 by reward variant (format-only does
# not converge: no number).
TAB4_REWARD_ABLATION = [
    {"Variant": "format", "RefCOCO@50 val": None},
    {"Variant": "format_iou", "RefCOCO@50 val": 84.2},
    {"Variant": "format_f1", "RefCOCO@50 val": 87.8},
    {"Variant": "format_iou_f1", "RefCOCO@50 val": 88.6},
]

# TWIN summary: FGVQA total accuracy (%), Qwen2.5-VL 3B before/after TWIN post-training.
TWIN_FGVQA = [
    {"Model": "Qwen2.5-VL-3B", "TWIN-Eval": 50.1, "ILIAS": 43.5, "INQUIRE": 54.4, "CUB": 60.7, "LANDMARKS": 53.9, "MET": 55.5},
    {"Model": "Qwen2.5-VL-3B + TWIN", "TWIN-Eval": 67.3, "ILIAS": 61.8, "INQUIRE": 73.7, "CUB": 75.1, "LANDMARKS": 57.9, "MET": 66.0},
]  # fmt: skip

# column -> (benchmark, metric key in that benchmark's metrics JSON)
COLUMNS = {
    "tab1_perception": {
        "HalBench": ("hallusionbench", "overall"),
        "HRB8K": ("hrbench8k", "overall"),
        "POPE": ("pope", "f1"),
        "V*": ("vstar", "overall"),
        "VSR": ("vsr", "accuracy"),
        "CV-Bench": ("cvbench", "overall"),
        "MMVP": ("mmvp", "pair_accuracy"),
    },
    "tab2_general": {
        "MMBench": ("mmbench_dev_en", "accuracy"),
        "MMVet": ("mmvet", "total"),
        "MMStar": ("mmstar", "accuracy"),
        "SQA-I": ("scienceqa_img", "accuracy"),
        "VQA-T": ("textvqa_val", "accuracy"),
        "MME": ("mme", "total"),
        "AI2D": ("ai2d_test", "accuracy"),
    },
    "tab3_grounding": {
        "RefCOCO@50 val": ("refcoco_val", "acc@0.5"),
        "RefCOCO@50 testA": ("refcoco_testa", "acc@0.5"),
        "RefCOCO@50 testB": ("refcoco_testb", "acc@0.5"),
        "RefCOCO avg val": ("refcoco_val", "acc_avg"),
        "RefCOCO avg testA": ("refcoco_testa", "acc_avg"),
        "RefCOCO avg testB": ("refcoco_testb", "acc_avg"),
        "RefCOCO+@50 val": ("refcoco+_val", "acc@0.5"),
        "RefCOCO+@50 testA": ("refcoco+_testa", "acc@0.5"),
        "RefCOCO+@50 testB": ("refcoco+_testb", "acc@0.5"),
        "RefCOCOg@50 val": ("refcocog_val", "acc@0.5"),
        "RefCOCOg@50 test": ("refcocog_test", "acc@0.5"),
    },
}

PAPER_TABLES = {"tab1_perception": TAB1_PERCEPTION, "tab2_general": TAB2_GENERAL, "tab3_grounding": TAB3_GROUNDING}

CAPTIONS = {
    "tab1_perception": "Table 1 analogue: perception benchmarks",
    "tab2_general": "Table 2 analogue: general multimodal benchmarks",
    "tab3_grounding": "Table 3 analogue: visual grounding (Acc@0.5; avg = mean Acc over IoU 0.5:0.95)",
}


def benchmarks_of(table: str) -> list[str]:
    """The benchmarks a table needs, in column order (no duplicates)."""
    out: list[str] = []
    for bench, _ in COLUMNS[table].values():
        if bench not in out:
            out.append(bench)
    return out


PAPER_BENCHMARKS = [b for t in ("tab1_perception", "tab2_general", "tab3_grounding") for b in benchmarks_of(t)]
"""Every benchmark of the paper's Tables 1-3, in table order."""
