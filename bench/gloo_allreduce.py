#!/usr/bin/python3
"""PyTorch gloo all-reduce benchmark: the reference for `craft bench allreduce`.

Starts n processes on 127.0.0.1 (this script re-executed with --rank), each
with a float32 tensor of every size (allocated and touched once, then reused),
and times torch.distributed.all_reduce (sum) over the gloo backend exactly as
Craft's benchmark times its ring: per iteration a barrier, then each rank times
its own all-reduce; the time of an iteration is the slowest rank's, and the
reported time is the median over iterations.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 \
        bench/gloo_allreduce.py --ranks 2,4 --sizes 4K,1M,64M [--json]

busbw = algbw * 2(n-1)/n, as nccl-tests define it; GB/s are 1e9 bytes/s.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time


def parse_size(s):
    """Parses 4K, 64K, 1M, 16M (powers of 1024) or plain bytes."""
    s = s.strip().upper()
    mult = 1
    for suffix, m in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
        if s.endswith(suffix) or s.endswith(suffix + "B") or s.endswith(suffix + "IB"):
            mult = m
            s = s.split(suffix)[0]
            break
    return int(s) * mult


def auto_iters(size_bytes, iters):
    """The iterations per size: iters when set, else as craft bench allreduce picks them."""
    if iters > 0:
        return iters
    if size_bytes <= 64 << 10:
        return 200
    if size_bytes <= 1 << 20:
        return 50
    return 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(args):
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method="tcp://127.0.0.1:%d" % args.port,
        rank=args.rank,
        world_size=args.world,
    )
    n = args.world
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    g = torch.Generator().manual_seed(1 + args.rank)
    rows = []
    for size in sizes:
        count = max(size // 4, 1)
        buf = torch.rand(count, generator=g, dtype=torch.float32)
        for _ in range(args.warmup):
            dist.all_reduce(buf)
        iters = auto_iters(size, args.iters)
        times = torch.zeros(iters, dtype=torch.float64)
        for i in range(iters):
            # Keep the values bounded: sums of n ranks grow by n per call.
            if i % 8 == 0:
                buf.mul_(1.0 / n)
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(buf)
            times[i] = time.perf_counter() - t0
        # The time of an iteration is the slowest rank's.
        dist.all_reduce(times, op=dist.ReduceOp.MAX)
        med = statistics.median(times.tolist())
        algbw = count * 4 / med / 1e9
        rows.append(
            {
                "impl": "gloo",
                "ranks": n,
                "bytes": count * 4,
                "count": count,
                "iters": iters,
                "time_us": med * 1e6,
                "algbw": algbw,
                "busbw": algbw * 2 * (n - 1) / n,
            }
        )
    dist.barrier()
    dist.destroy_process_group()
    if args.rank == 0:
        for r in rows:
            print(json.dumps(r), flush=True)


def run(args):
    ranks = [int(r) for r in args.ranks.split(",")]
    out = []
    for n in ranks:
        port = free_port()
        procs = []
        try:
            for r in range(n):
                cmd = [
                    sys.executable, os.path.abspath(__file__),
                    "--rank", str(r), "--world", str(n), "--port", str(port),
                    "--sizes", args.sizes, "--iters", str(args.iters),
                    "--warmup", str(args.warmup),
                ]
                procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE if r == 0 else subprocess.DEVNULL))
            stdout, _ = procs[0].communicate()
            for p in procs[1:]:
                p.wait()
            for r, p in enumerate(procs):
                if p.returncode != 0:
                    sys.exit("gloo_allreduce: rank %d of %d exited with %d" % (r, n, p.returncode))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    p.wait()
        for line in stdout.decode().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
    if args.json:
        for r in out:
            print(json.dumps(r))
        return
    for n in ranks:
        print("# gloo all-reduce (sum, float32), %d ranks on 127.0.0.1" % n)
        print("%12s %12s %12s %10s %10s" % ("size(B)", "count", "time(us)", "algbw", "busbw"))
        for r in out:
            if r["ranks"] == n:
                print("%12d %12d %12.1f %10.3f %10.3f" % (r["bytes"], r["count"], r["time_us"], r["algbw"], r["busbw"]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ranks", default="2,3,4", help="comma-separated rank counts")
    p.add_argument("--sizes", default="4K,64K,1M,16M,64M", help="comma-separated sizes in bytes (K, M suffixes)")
    p.add_argument("--iters", type=int, default=0, help="timed iterations per size (0 = by size)")
    p.add_argument("--warmup", type=int, default=5, help="untimed iterations per size")
    p.add_argument("--json", action="store_true", help="print one JSON object per row")
    p.add_argument("--rank", type=int, default=-1, help=argparse.SUPPRESS)
    p.add_argument("--world", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rank >= 0:
        worker(args)
    else:
        try:
            run(args)
        except KeyboardInterrupt:
            sys.exit(130)


if __name__ == "__main__":
    main()
