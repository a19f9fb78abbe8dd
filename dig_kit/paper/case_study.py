"""The case-study output of the DiG supplement (§9, Figure 11) as printed (trailing
line-break spaces dropped), and its boxes.

The model's answer is three boxes on the before image, in a fenced block with ``//``
comments, inside ``<answer>`` tags, after a thinking trace whose opening ``<think>`` is part
of the chat template (not of the output). The paper does not give the image size; the boxes
reach y = 767, so :data:`CASE_STUDY_IMAGE_SIZE` is an assumed 1024 x 1024 that contains them.
"""

CASE_STUDY_BOXES = [[446, 415, 490, 487], [476, 613, 573, 767], [238, 374, 289, 447]]
CASE_STUDY_IMAGE_SIZE = (1024, 1024)

CASE_STUDY_OUTPUT = """Got it, let's compare the two images. First, the before image has a blue cube in the center, a red cube, and a small silver cylinder on the left. The after image has a metallic cube instead of the blue cube, and the red cube is now a red cylinder. Also, the small silver cylinder on the left is missing. Let's list the changes:

1. The red cube in the before image is now a red cylinder in the after. So the red cube's position is changed.
2. The blue cube in the before image is replaced by a metallic cube in the after. So the blue cube's position is changed.
3. The small silver cylinder (the one on the left) is missing in the after image. So that's a missing item.

Wait, need to check each object:

Before image objects: - Silver sphere left - Small silver cylinder (left) - Red cube (center) - Blue cube (bottom center) - Small silver cylinder (top) - Gray cylinder (right) - Silver sphere right

After image objects: - Silver sphere left (same) - Red cylinder (where red cube was) - Metallic cube (where blue cube was) - Gray cylinder (same) - Silver sphere right (same) - Small silver cylinder (top) same - Missing the small silver cylinder (left) and the blue cube.

So the changes are: - The red cube (before) is now a red cylinder (after), so the red cube's position is a change. - The blue cube (before) is replaced by a metallic cube (after), so that's a change. - The small silver cylinder on the left (before) is missing in after, so that's a missing item.

Therefore, the regions to box are the positions of the red cube, blue cube, and the small silver cylinder on the left. </think>

<answer>

```
[
[446, 415, 490, 487], // Red cube changed to red cylinder
[476, 613, 573, 767], // Blue cube replaced by metallic cube
[238, 374, 289, 447] // Small silver cylinder missing
]
```

</answer>"""
