"""PyTorch's training step on a Craft config, timed as `craft bench step` times Craft's.

Usage: /usr/bin/python3 bench/torch_step.py --conf RESOLVED.yaml --vocab V [--threads N]
           [--steps N] [--warmup N] [--json]

RESOLVED.yaml is the output of `craft conf show --conf FILE` (every default filled in). Each
step: zero grad (set_to_none), forward, backward, clip_grad_norm_ (train.grad_clip), AdamW step
with nanoGPT's configure_optimizers (decay on 2-D tensors) and its learning rate schedule, on
random token batches of train.global_batch x model.block_size. Prints tokens/s (all timed
tokens over all timed wall time) and the median ms/step.

Run it as bench/step.sh does, for PyTorch's best on Debian's build:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_step.py ...
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nanogpt  # noqa: E402


def get_lr(it, t):
    """nanoGPT's get_lr."""
    lr, min_lr = t["learning_rate"], t["min_lr"]
    warmup = t["warmup_steps"]
    decay = t["decay_steps"] or t["steps"]
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it > decay:
        return min_lr
    if decay == warmup:
        return lr
    ratio = (it - warmup) / (decay - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--conf", required=True)
    ap.add_argument("--vocab", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    nanogpt.warn_slow_blas(sys.stderr)
    with open(args.conf) as f:
        c = yaml.safe_load(f)
    m, t = c["model"], c["train"]
    if m["kind"] != "gpt":
        raise SystemExit(f"model.kind {m['kind']}: torch_step.py runs the GPT only")
    if not m["block_size"]:
        raise SystemExit("model.block_size is 0 (the data's width): set it, e.g. --set model.block_size=64")
    cfg = nanogpt.GPTConfig(vocab_size=args.vocab, block_size=m["block_size"], n_layer=m["n_layer"],
                            n_head=m["n_head"], n_embd=m["n_embd"], dropout=m["dropout"], bias=m["bias"])
    model = nanogpt.GPT(cfg)
    model.train()
    opt = nanogpt.configure_optimizers(model, t["weight_decay"], t["learning_rate"], (t["beta1"], t["beta2"]))
    B, T = t["global_batch"], cfg.block_size
    batches = [(torch.randint(cfg.vocab_size, (B, T)), torch.randint(cfg.vocab_size, (B, T))) for _ in range(4)]
    clip = t["grad_clip"]

    def step(it):
        lr = get_lr(it, t)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = batches[it % len(batches)]
        opt.zero_grad(set_to_none=True)
        _, loss = model(x, y)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return loss

    for it in range(args.warmup):
        step(it)
    times = []
    start = time.perf_counter()
    for it in range(args.warmup, args.warmup + args.steps):
        t0 = time.perf_counter()
        loss = step(it)
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    tokens = B * T * args.steps
    res = {
        "impl": "pytorch", "version": torch.__version__, "threads": args.threads, "steps": args.steps,
        "tokens_per_step": B * T, "tokens_per_s": tokens / total, "ms_per_step": 1e3 * statistics.median(times),
        "params": sum(p.numel() for p in model.parameters()), "loss": loss.item(), "blas": nanogpt.blas_library(),
    }
    if args.json:
        print(json.dumps(res))
    else:
        print(f"pytorch {res['version']}: {res['threads']} threads, {res['params']} params, "
              f"{B}x{T} tokens/step: {res['tokens_per_s']:.0f} tokens/s, {res['ms_per_step']:.2f} ms/step (median of {args.steps})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
