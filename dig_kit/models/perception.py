"""Probes of what a checkpoint perceives (the mini backbone's held-out checks,
``benchmarks/probe_mini.py`` and ``dig-kit pretrain``'s evaluation): the image tokens' linear
colour code, and the log-probabilities of complete answers (yes vs no)."""

from __future__ import annotations

import numpy as np


def image_tokens(model, processor, image):
    """(rows, cols, dim): the language model's input embeddings of one image's merged tokens."""
    import torch

    enc = processor.image_processor(images=[image], return_tensors="pt")
    with torch.no_grad():
        out = model.model.get_image_features(enc["pixel_values"], enc["image_grid_thw"])
    feats = getattr(out, "pooler_output", None)
    if feats is None:
        feats = out[0]
    if isinstance(feats, (list, tuple)):
        feats = feats[0]
    _, h, w = (int(v) for v in enc["image_grid_thw"][0])
    m = processor.image_processor.merge_size
    return feats.reshape(h // m, w // m, -1).float().numpy()


def colour_samples(model, processor, rows, colours):
    """Features of the token under each object's box centre, and the object's colour index."""
    xs, ys = [], []
    for row in rows:
        image = row["before"].convert("RGB")
        grid = image_tokens(model, processor, image)
        cell_h, cell_w = image.height / grid.shape[0], image.width / grid.shape[1]
        for o in row["objects_before"]:
            x1, y1, x2, y2 = o["bbox_full"]
            r = min(int((y1 + y2) / 2 // cell_h), grid.shape[0] - 1)
            c = min(int((x1 + x2) / 2 // cell_w), grid.shape[1] - 1)
            xs.append(grid[r, c])
            ys.append(colours.index(o["color"]))
    return np.array(xs), np.array(ys)


def linear_probe(x_train, y_train, x_test, y_test, classes: int) -> float:
    """Held-out accuracy of an L2-regularised softmax classifier on standardised features."""
    import torch

    mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
    a = torch.tensor((x_train - mu) / sd, dtype=torch.float32)
    b = torch.tensor(y_train)
    lin = torch.nn.Linear(a.shape[1], classes)
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=500)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin(a), b) + 1e-3 * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        pred = lin(torch.tensor((x_test - mu) / sd, dtype=torch.float32)).argmax(1).numpy()
    return float((pred == y_test).mean())


def answer_inputs(processor, text: str, images, completion: str, question_first: bool = False):
    """Model inputs for prompt + completion, and the prompt's length: the chat-templated prompt
    with its images (after the text with ``question_first``), the completion tokenized apart and
    appended (as trl's collator builds a training row); text tokens are multimodal type 0."""
    import torch

    from dig_kit.prompts import chat_messages

    messages = chat_messages(text, len(images), question_first)
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    enc = processor(text=[prompt], images=[images], return_tensors="pt")
    comp = processor.tokenizer(completion, add_special_tokens=False, return_tensors="pt")["input_ids"]
    ids = torch.cat([enc["input_ids"], comp], dim=1)
    inputs = {**enc, "input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if "mm_token_type_ids" in enc:
        inputs["mm_token_type_ids"] = torch.cat([enc["mm_token_type_ids"], torch.zeros_like(comp)], dim=1)
    return inputs, enc["input_ids"].shape[1]


def answer_logprob(model, processor, text: str, images, completion: str, question_first: bool = False) -> float:
    """log p(completion | prompt) (:func:`answer_inputs`)."""
    import torch

    inputs, n = answer_inputs(processor, text, images, completion, question_first)
    inputs = {k: v.to(model.device) for k, v in inputs.items()}
    with torch.no_grad():
        logits = model(**inputs).logits[0].float().log_softmax(-1)
    ids = inputs["input_ids"][0]
    return float(logits[torch.arange(n - 1, len(ids) - 1), ids[n:]].sum())


def thought_text(model, processor, text: str, images, max_new_tokens: int = 32) -> str:
    """The greedy thought the model writes for ``text`` before its answer: what it generates up
    to ``</think>`` (empty for a model that closes its thought at once)."""
    import torch

    from dig_kit.prompts import chat_messages

    tok = processor.tokenizer
    prompt = processor.apply_chat_template(chat_messages(text, len(images)), add_generation_prompt=True, tokenize=False)
    enc = processor(text=[prompt], images=[images], return_tensors="pt").to(model.device)
    stop = [i for i in (tok.convert_tokens_to_ids("</think>"), tok.eos_token_id) if isinstance(i, int) and i >= 0]
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stop)
    said = tok.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=False)
    return said.split("</think>")[0].replace(tok.eos_token, "").strip()


def p_yes(model, processor, text: str, images, thought: str = "", question_first: bool = False) -> float:
    """p(yes) against p(no) for the answer after ``thought`` (default: an empty thought); with
    ``question_first`` the question stands before the images."""
    from dig_kit.prompts import ANSWER_PREFIX

    eos = processor.tokenizer.eos_token
    before = f"{thought}\n{ANSWER_PREFIX}" if thought else ANSWER_PREFIX
    yes, no = (
        answer_logprob(model, processor, text, images, f"{before}<answer>{a}</answer>{eos}", question_first)
        for a in ("yes", "no")
    )
    return float(1 / (1 + np.exp(no - yes)))
