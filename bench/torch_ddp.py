#!/usr/bin/python3
"""PyTorch DDP (gloo) training-step speed on a Craft config: the reference for bench/scaling.sh.

Usage: /usr/bin/python3 bench/torch_ddp.py --conf RESOLVED.yaml --vocab V [--ranks N]
           [--steps N] [--warmup N] [--no-sync] [--json]

RESOLVED.yaml is the output of `craft conf show --conf FILE`. Starts N processes (this script
re-executed with --rank), rank r pinned to core r (mod the cores this process may use), each
with torch.set_num_threads(1). With N > 1 the model is wrapped in DistributedDataParallel over
gloo on 127.0.0.1 and each rank trains its share of train.global_batch (the shares add up to the
global batch, as Craft splits it); with N = 1 it is a plain single-process model on the whole
batch. Each step: zero grad, forward, backward (DDP all-reduces the gradient in buckets while
backward runs), clip_grad_norm_ (train.grad_clip), AdamW with nanoGPT's parameter groups and
schedule, on random token batches. --no-sync skips the gradient all-reduce (model.no_sync()):
the ceiling the communication leaves.

After --warmup untimed steps, a barrier, then --steps timed steps; the time is the slowest
rank's. Prints tokens/s of the global batch (all timed tokens over that time).

Run it as bench/scaling.sh does, for PyTorch's best on Debian's build:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_ddp.py ...
"""

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time


def share(global_batch, ranks, rank):
    """Rank's contiguous part of the global batch, as Craft's dataset.Share splits it."""
    base, extra = divmod(global_batch, ranks)
    n = base + (1 if rank < extra else 0)
    off = rank * base + min(rank, extra)
    return off, n


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(args):
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[args.rank % len(cores)]})

    import torch
    import torch.distributed as dist
    import yaml

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import nanogpt
    from torch_step import get_lr

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    if args.rank == 0:
        nanogpt.warn_slow_blas(sys.stderr)
    with open(args.conf) as f:
        c = yaml.safe_load(f)
    m, t = c["model"], c["train"]
    if m["kind"] != "gpt":
        raise SystemExit(f"model.kind {m['kind']}: torch_ddp.py runs the GPT only")
    if not m["block_size"]:
        raise SystemExit("model.block_size is 0 (the data's width): set it, e.g. --set model.block_size=64")
    cfg = nanogpt.GPTConfig(vocab_size=args.vocab, block_size=m["block_size"], n_layer=m["n_layer"],
                            n_head=m["n_head"], n_embd=m["n_embd"], dropout=m["dropout"], bias=m["bias"])
    model = nanogpt.GPT(cfg)
    model.train()
    opt = nanogpt.configure_optimizers(model, t["weight_decay"], t["learning_rate"], (t["beta1"], t["beta2"]))
    world = args.world
    if world > 1:
        dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % args.port, rank=args.rank, world_size=world)
        # gloo cannot broadcast the attention's bool mask buffers; they are constants, equal on
        # every rank: leave them out of DDP's start-up sync.
        masks = [name for name, b in model.named_buffers() if b.dtype == torch.bool]
        torch.nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, masks)
        net = torch.nn.parallel.DistributedDataParallel(model)
    else:
        net = model
    B, T = t["global_batch"], cfg.block_size
    _, n = share(B, world, args.rank)
    g = torch.Generator().manual_seed(args.seed + args.rank)
    batches = [(torch.randint(cfg.vocab_size, (n, T), generator=g), torch.randint(cfg.vocab_size, (n, T), generator=g))
               for _ in range(4)]
    clip = t["grad_clip"]

    def step(it):
        lr = get_lr(it, t)
        for pg in opt.param_groups:
            pg["lr"] = lr
        x, y = batches[it % len(batches)]
        opt.zero_grad(set_to_none=True)
        ctx = net.no_sync() if (args.no_sync and world > 1) else contextlib.nullcontext()
        with ctx:
            _, loss = net(x, y)
            loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return loss

    for it in range(args.warmup):
        step(it)
    if world > 1:
        dist.barrier()
    start = time.perf_counter()
    for it in range(args.warmup, args.warmup + args.steps):
        loss = step(it)
    elapsed = torch.tensor([time.perf_counter() - start], dtype=torch.float64)
    if world > 1:
        dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
        # No destroy_process_group: rank 0 hosts the rendezvous store, and a rank that tore
        # down after rank 0 had exited was seen hanging for minutes. The barrier is the last
        # collective; the processes just exit.
        dist.barrier()
    total = elapsed.item()
    res = {
        "impl": "pytorch-ddp" if world > 1 else "pytorch", "version": torch.__version__, "ranks": world,
        "threads_per_rank": 1, "no_sync": bool(args.no_sync and world > 1), "steps": args.steps,
        "tokens_per_step": B * T, "tokens_per_s": B * T * args.steps / total,
        "ms_per_step": 1e3 * total / args.steps, "loss": loss.item(), "blas": nanogpt.blas_library(),
    }
    if args.rank == 0:
        print(json.dumps(res), flush=True)
    if world > 1:
        # Exit without running gloo's C++ destructors: without destroy_process_group (above), a
        # rank was seen aborting at interpreter exit ("terminate called without an active
        # exception", status -6) after its work was done.
        sys.stdout.flush()
        os._exit(0)


def run(args):
    port = free_port()
    procs = []
    try:
        for r in range(args.ranks):
            cmd = [sys.executable, os.path.abspath(__file__), "--rank", str(r), "--world", str(args.ranks),
                   "--port", str(port), "--conf", args.conf, "--vocab", str(args.vocab),
                   "--steps", str(args.steps), "--warmup", str(args.warmup), "--seed", str(args.seed)]
            if args.no_sync:
                cmd.append("--no-sync")
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE if r == 0 else subprocess.DEVNULL))
        stdout, _ = procs[0].communicate(timeout=args.timeout)
        for p in procs[1:]:
            p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        sys.exit("torch_ddp: the %d ranks did not finish in %.0f s" % (args.ranks, args.timeout))
    else:
        for r, p in enumerate(procs):
            if p.returncode != 0:
                sys.exit("torch_ddp: rank %d of %d exited with %d" % (r, args.ranks, p.returncode))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
    res = json.loads([l for l in stdout.decode().splitlines() if l.startswith("{")][-1])
    if args.json:
        print(json.dumps(res))
    else:
        print(f"{res['impl']} {res['version']}: {res['ranks']} ranks x 1 thread{' (no gradient sync)' if res['no_sync'] else ''}, "
              f"{res['tokens_per_step']} tokens/step: {res['tokens_per_s']:.0f} tokens/s, {res['ms_per_step']:.2f} ms/step")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--conf", required=True)
    ap.add_argument("--vocab", type=int, required=True)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--timeout", type=float, default=600, help="seconds before the ranks are killed")
    ap.add_argument("--no-sync", action="store_true", help="skip the gradient all-reduce (DDP no_sync)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    ap.add_argument("--rank", type=int, default=-1, help=argparse.SUPPRESS)
    ap.add_argument("--world", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rank >= 0:
        worker(args)
        return 0
    try:
        run(args)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
