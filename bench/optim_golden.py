"""Writes model/optim/testdata/torch_golden.json: a few steps of torch.optim.AdamW and
torch.optim.SGD (momentum) under nanoGPT's schedule, with clip_grad_norm_, for
model/optim's TestTorchGolden. Regenerate with:

    /usr/bin/python3 bench/optim_golden.py

Inputs (initial parameters, gradients of every step) are stored in the file as float32, so the
Go test needs no PyTorch.
"""

import json
import math
import os

import torch

N, SPLIT, STEPS, CLIP = 40, 24, 12, 5.0
SCHED = {"max_lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 3, "decay_steps": 8}
ADAMW = {"beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.1}
SGD = {"momentum": 0.9, "weight_decay": 0.1}


def get_lr(it):
    """nanoGPT's get_lr."""
    s = SCHED
    if it < s["warmup_steps"]:
        return s["max_lr"] * (it + 1) / (s["warmup_steps"] + 1)
    if it > s["decay_steps"]:
        return s["min_lr"]
    r = (it - s["warmup_steps"]) / (s["decay_steps"] - s["warmup_steps"])
    return s["min_lr"] + 0.5 * (1.0 + math.cos(math.pi * r)) * (s["max_lr"] - s["min_lr"])


def run(kind, p0, grads):
    a = torch.nn.Parameter(p0[:SPLIT].clone())  # the Decay group
    b = torch.nn.Parameter(p0[SPLIT:].clone())
    if kind == "adamw":
        groups = [{"params": [a], "weight_decay": ADAMW["weight_decay"]}, {"params": [b], "weight_decay": 0.0}]
        opt = torch.optim.AdamW(groups, lr=1.0, betas=(ADAMW["beta1"], ADAMW["beta2"]), eps=ADAMW["eps"])
    else:
        groups = [{"params": [a], "weight_decay": SGD["weight_decay"]}, {"params": [b], "weight_decay": 0.0}]
        opt = torch.optim.SGD(groups, lr=1.0, momentum=SGD["momentum"])
    norms = []
    for it, g in enumerate(grads):
        a.grad, b.grad = g[:SPLIT].clone(), g[SPLIT:].clone()
        norms.append(torch.nn.utils.clip_grad_norm_([a, b], CLIP).item())
        for group in opt.param_groups:
            group["lr"] = get_lr(it)
        opt.step()
    return torch.cat([a.detach(), b.detach()]).tolist(), norms


def main():
    gen = torch.Generator().manual_seed(1337)
    p0 = torch.randn(N, generator=gen)
    # Gradients of growing scale, so clipping acts on the later steps only.
    grads = [torch.randn(N, generator=gen) * (0.3 * (it + 1)) for it in range(STEPS)]
    adamw, norms = run("adamw", p0, grads)
    sgd, _ = run("sgd", p0, grads)
    out = {
        "torch": torch.__version__, "n": N, "decay_len": SPLIT, "clip": CLIP,
        "schedule": SCHED, "adamw_config": ADAMW, "sgd_config": SGD,
        "lrs": [get_lr(it) for it in range(STEPS)],
        "params0": p0.tolist(), "grads": [g.tolist() for g in grads],
        "norms": norms, "adamw": adamw, "sgd": sgd,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model", "optim", "testdata", "torch_golden.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
