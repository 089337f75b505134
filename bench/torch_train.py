"""nanoGPT's own training of a Craft text config in PyTorch, for the wall time and val loss
that Craft's run is compared with (bench/quality.sh).

Usage: /usr/bin/python3 bench/torch_train.py --conf RESOLVED.yaml [--threads N] [--eval-batches 200]

As nanoGPT's train.py does on a character corpus: the first 90 % of the characters train, the
rest validate; batches of random windows; AdamW with decay on 2-D tensors; nanoGPT's learning
rate schedule; gradient clipping. Prints one JSON line: val_loss (mean over --eval-batches random
validation batches), train_loss, seconds, tokens_per_s.
"""

import argparse
import json
import os
import sys
import time

import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nanogpt  # noqa: E402
from torch_step import get_lr  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--conf", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-batches", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1337)
    a = ap.parse_args()
    cfg = yaml.safe_load(open(a.conf))
    m, d, t = cfg["model"], cfg["data"], cfg["train"]
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    text = open(d["path"], encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(len(data) * (1 - d["val_fraction"]))
    train, val = data[:n], data[n:]
    T, B = m["block_size"], t["global_batch"]

    def batch(split):
        src = train if split == "train" else val
        ix = torch.randint(len(src) - T, (B,))
        x = torch.stack([src[i:i + T] for i in ix])
        y = torch.stack([src[i + 1:i + 1 + T] for i in ix])
        return x, y

    model = nanogpt.GPT(nanogpt.GPTConfig(block_size=T, vocab_size=len(chars), n_layer=m["n_layer"],
                                          n_head=m["n_head"], n_embd=m["n_embd"], dropout=m["dropout"], bias=m["bias"]))
    opt = nanogpt.configure_optimizers(model, t["weight_decay"], t["learning_rate"], (t["beta1"], t["beta2"]))
    start = time.perf_counter()
    loss = None
    for it in range(t["steps"]):
        for g in opt.param_groups:
            g["lr"] = get_lr(it, t)
        x, y = batch("train")
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if t["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), t["grad_clip"])
        opt.step()
    secs = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        losses = [model(*batch("val"))[1].item() for _ in range(a.eval_batches)]
    print(json.dumps({"val_loss": sum(losses) / len(losses), "train_loss": loss.item(), "seconds": secs,
                      "tokens_per_s": t["steps"] * B * T / secs}))


if __name__ == "__main__":
    main()
