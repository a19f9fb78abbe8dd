"""Object masks as COCO run-length encoding, and boxes from masks (pure numpy).

``encode_rle(mask)`` gives ``{"size": [h, w], "counts": str}``: COCO's compressed RLE, the
format ``pycocotools.mask.decode`` reads (runs over the mask in column-major order, starting
with a run of zeros; each run differenced against the one two places before from the fourth
on, then written 5 bits per character from ``'0'``). ``decode_rle`` reverses it.
"""

from __future__ import annotations

import numpy as np


def _runs(mask: np.ndarray) -> list[int]:
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return [0]
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(edges).tolist()
    return ([0] + runs) if flat[0] else runs


def encode_rle(mask: np.ndarray) -> dict:
    """COCO compressed RLE of a boolean ``(h, w)`` mask."""
    h, w = np.asarray(mask).shape
    counts = _runs(mask)
    out = []
    for i, x in enumerate(counts):
        if i > 2:
            x -= counts[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return {"size": [int(h), int(w)], "counts": "".join(out)}


def decode_rle(rle: dict) -> np.ndarray:
    """The boolean ``(h, w)`` mask of a COCO compressed RLE."""
    h, w = rle["size"]
    s, counts, p = rle["counts"], [], 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    flat = np.zeros(h * w, dtype=bool)
    pos, value = 0, False
    for n in counts:
        flat[pos : pos + n] = value
        pos += n
        value = not value
    return flat.reshape((h, w), order="F")


def mask_box(mask: np.ndarray) -> list[float] | None:
    """``[x1, y1, x2, y2]`` pixel box of a mask's pixels (pixel ``i`` covers ``[i, i + 1)``), or None."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
