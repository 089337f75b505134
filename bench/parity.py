"""Compares Craft's loss and gradients of one batch with PyTorch's (bench/parity.sh runs it).

Usage: /usr/bin/python3 bench/parity.py DIR [--tol 1e-4]

DIR is written by `craft bench parity --out DIR`: params.safetensors (the parameters),
grads.safetensors (Craft's gradients of the MEAN cross-entropy), batch.json (the config, the
tokens and targets, Craft's loss). This script builds nanoGPT's GPT in float32 and in float64,
loads the parameters, runs forward and backward on the same batch, and prints for the loss and
every gradient tensor the max relative difference, relative to the max abs of the reference
tensor: Craft vs PyTorch float32, Craft vs PyTorch float64, and float32 vs float64 PyTorch (the
noise floor of float32 itself). It exits 1 if Craft differs from either PyTorch by more than tol.
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nanogpt  # noqa: E402


def rel(a, b):
    """max |a-b| / max |b|, in float64."""
    a, b = a.double(), b.double()
    scale = b.abs().max().item()
    diff = (a - b).abs().max().item()
    if scale == 0:
        return diff
    return diff / scale


def run_torch(cfg, params, idx, targets, dtype):
    model = nanogpt.GPT(cfg).to(dtype)
    model.load_craft_state(params)
    model.train()  # dropout is 0 in the export, so train and eval agree
    _, loss = model(idx, targets)
    loss.backward()
    return loss.detach(), dict(model.named_craft_grads())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    with open(os.path.join(args.dir, "batch.json")) as f:
        batch = json.load(f)
    c = batch["config"]
    cfg = nanogpt.GPTConfig(vocab_size=c["vocab_size"], block_size=c["block_size"], n_layer=c["n_layer"],
                            n_head=c["n_head"], n_embd=c["n_embd"], dropout=0.0, bias=c["bias"])
    params, _ = nanogpt.read_safetensors(os.path.join(args.dir, "params.safetensors"))
    grads, _ = nanogpt.read_safetensors(os.path.join(args.dir, "grads.safetensors"))
    B, T = batch["B"], batch["T"]
    idx = torch.tensor(batch["tokens"], dtype=torch.long).view(B, T)
    targets = torch.tensor(batch["targets"], dtype=torch.long).view(B, T)
    craft_loss = torch.tensor(batch["loss"], dtype=torch.float64)

    loss32, g32 = run_torch(cfg, params, idx, targets, torch.float32)
    loss64, g64 = run_torch(cfg, params, idx, targets, torch.float64)
    if set(grads) != set(g64):
        print(f"gradient names differ: craft-only {sorted(set(grads) - set(g64))}, "
              f"torch-only {sorted(set(g64) - set(grads))}")
        return 1

    print(f"config: {cfg}")
    print(f"batch: B={B} T={T}, {int((targets >= 0).sum())} targets counted of {B * T}")
    print(f"loss: craft {craft_loss.item():.9f}  torch float32 {loss32.item():.9f}  torch float64 {loss64.item():.9f}")
    print()
    w = max(len(n) for n in grads)
    print(f"{'tensor':<{w}}  {'craft~torch32':>13}  {'craft~torch64':>13}  {'torch32~64':>13}")
    rows = [("loss", rel(craft_loss, loss32), rel(craft_loss, loss64), rel(loss32, loss64))]
    for name in params:  # the export's order
        ct = grads[name]
        if tuple(ct.shape) != tuple(g64[name].shape):
            print(f"{name}: craft gradient shape {tuple(ct.shape)}, torch {tuple(g64[name].shape)}")
            return 1
        rows.append((name, rel(ct, g32[name]), rel(ct, g64[name]), rel(g32[name], g64[name])))
    for name, a, b, c_ in rows:
        print(f"{name:<{w}}  {a:13.3e}  {b:13.3e}  {c_:13.3e}")
    worst32 = max(r[1] for r in rows)
    worst64 = max(r[2] for r in rows)
    floor = max(r[3] for r in rows)
    print()
    print(f"max relative difference: craft~torch32 {worst32:.3e}, craft~torch64 {worst64:.3e} "
          f"(torch32~torch64 {floor:.3e}); tolerance {args.tol:g}")
    closer = "Craft" if worst64 <= floor else "PyTorch float32"
    print(f"closer to float64: {closer}")
    if worst32 > args.tol or worst64 > args.tol:
        print("FAIL")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
