#!/bin/sh
# Data-parallel scaling of Craft against PyTorch DDP (gloo), same config, same global batch:
# tokens/s of 2 workers pinned to one core each against 1 worker on one core, and
# efficiency = tokens/s(2 workers) / (2 x tokens/s(1 worker)).
#   bench/scaling.sh                                # conf/shakespeare-baby.yaml, 300 steps
#   STEPS=300 SKIP=20 ROUNDS=2 bench/scaling.sh [--set key=value ...]
# Craft: a `craft coordinator` (not pinned) and N `craft worker --threads 1` OS processes,
# worker i under `taskset -c i`, talking gRPC over 127.0.0.1. tokens/s is read from the
# coordinator's /status (step, uptime_s) over the steady-state steps only: from the first step
# past SKIP (data fetch, warm-up) to the last step before the end-of-run evaluation and
# checkpoint; periodic evaluation and checkpoints are off (train.eval_every=0,
# checkpoint.every=0: both only at the end, outside the timed window).
# PyTorch: bench/torch_ddp.py, N ranks x 1 thread, rank r pinned to core r, DDP over gloo
# (a plain model for N = 1), SKIP warm-up steps then STEPS timed; run with OPENBLAS_CORETYPE
# and OPENBLAS_L2_SIZE unset and OPENBLAS_NUM_THREADS=1, PyTorch's best on Debian's build.
# Each round runs craft 1, torch 1, craft 2, torch 2, then craft and torch on 2 cores without
# gradient sync; the table keeps each side's best round. The no-sync rows are the ceiling the
# two cores leave when both compute at once (Craft's: two `craft bench step` processes, one per
# core, each on half the batch): far from 2x when other jobs load the machine. The machines
# have 2 cores shared with whatever else runs: compare the ratios of one run, not figures
# across runs.
#
# Measured 2026-11-30 05:51 UTC (bench/scaling.sh, ROUNDS=2, best round each; an AMD EPYC host on
# which one Craft worker is 2.4x PyTorch; both rings reach same-host workers over Unix sockets):
#                          1 worker tok/s  2 workers tok/s  efficiency
#   craft, grpc ring             28428           36151          63.6 %
#   craft, tcp ring              28428           42845          75.4 %
#   craft, no grad sync          28428           53879          94.8 %
#   pytorch ddp (gloo)           11859           21053          88.8 %
#   pytorch, no grad sync        11859           24556         103.5 %
# (PyTorch's 1-process figure is low against its 2-process ones: ratios above 100 %.) Where a
# step goes (the workers' /status): 1 worker compute 26.9 ms, update 0.6 ms; 2 workers over grpc
# compute 18.4 (the sum runs during backward), all-reduce wait 2.6, update 0.8; over tcp 15.6
# (a worker on one core sums after backward over tcp), 2.0, 0.7. Half the batch alone computes
# in about 13.5 ms (craft bench step). The 90 % goal needs a 2-worker step of at most 15.0 ms:
# 13.5 + 0.7 of update leave 0.8 ms for the sum, and the tcp ring alone takes 1.2 ms for the
# 3.2 MB gradient (craft bench allreduce --transport tcp --ranks 2 --sizes 3216K). Earlier the
# same day, before a worker on one core summed after backward over tcp and before polling /status
# 4 times a second instead of 20: grpc 61.4 %, tcp 71.3 %. Alternating 2-worker tcp runs with
# --compute-nice 0, 5 (default) and 19, 4 MiB segments or a bfloat16 wire differed by no more
# than run-to-run noise, or were slower. The 90 % goal is not reached.
set -eu
cd "$(dirname "$0")/.."
conf=${CONF:-conf/shakespeare-baby.yaml}
steps=${STEPS:-300}
skip=${SKIP:-20}
rounds=${ROUNDS:-2}
dir=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
go build -o "$dir/craft" ./cmd/craft
total=$((skip + steps + 5))
set -- --set train.steps="$total" --set train.eval_every=0 --set checkpoint.every=0 "$@"
"$dir/craft" conf show --conf "$conf" "$@" | grep -v '^# hash' >"$dir/conf.yaml"
batch=$(sed -n 's/^  global_batch: //p' "$dir/conf.yaml")
block=$(sed -n 's/^  block_size: //p' "$dir/conf.yaml")
tokens_per_step=$((batch * block))
vocab=$("$dir/craft" bench step --conf "$conf" "$@" --threads 1 --steps 1 --warmup 0 --json |
	/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["vocab"])')

# craft_run N ROUND KEY [--set ...]: a coordinator and N pinned workers (joining with $token);
# appends one JSON line, keyed KEY, to craft.jsonl.
token=""
craft_run() {
	n=$1
	run="$dir/craft-$3-$2"
	export KEY=$3
	shift 3
	mkdir -p "$run"
	"$dir/craft" coordinator --conf "$conf" "$@" --set cluster.min_workers="$n" \
		--set checkpoint.path="$run/craft.db" --set run.out_dir="$run" --exit-on-done \
		--log-level warn >"$run/coordinator.out" 2>"$run/coordinator.err" &
	coord=$!
	pids="$coord"
	i=0
	while ! grep -qs 'status at http' "$run/coordinator.out"; do
		i=$((i + 1))
		if [ "$i" -gt 300 ] || ! kill -0 "$coord" 2>/dev/null; then
			cat "$run/coordinator.err" >&2
			echo "scaling: the coordinator did not start" >&2
			exit 1
		fi
		sleep 0.1
	done
	join=$(sed -n 's/.*--join \([^`]*\)`.*/\1/p' "$run/coordinator.out")
	status=$(sed -n 's|.*status at \(http://[^ ]*\).*|\1|p' "$run/coordinator.out")
	w=0
	while [ "$w" -lt "$n" ]; do
		taskset -c "$w" "$dir/craft" worker --join "$join" --threads 1 --id "w$w" --log-level warn --token "$token" \
			>"$run/worker-$w.out" 2>"$run/worker-$w.err" &
		pids="$pids $!"
		w=$((w + 1))
	done
	/usr/bin/python3 - "$status" "$n" "$skip" "$total" ${pids#* } >>"$dir/craft.jsonl" <<'PY' || { cat "$run"/*.err >&2; exit 1; }
import json, os, sys, time, urllib.request
url, n, skip, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
workers = sys.argv[5:]
hz = os.sysconf("SC_CLK_TCK")
def cpu():
    """CPU seconds (user + system) the worker processes have used so far."""
    s = 0
    for p in workers:
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        s += int(fields[11]) + int(fields[12])
    return s / hz
samples = []  # (uptime_s, step, tokens, worker CPU s) as /status reports them, read under one lock
parts = []  # per sample, per worker: (compute_ms, allreduce_ms, update_ms)
deadline = time.time() + 600
while time.time() < deadline:
    st = json.load(urllib.request.urlopen(url, timeout=10))
    if st["step"] < total:
        samples.append((st["uptime_s"], st["step"], st["tokens"], cpu()))
        if st["step"] > skip:  # where the workers' steps go (moving averages over ~10 steps)
            parts.append([(w["compute_ms"], w["allreduce_ms"], w["update_ms"]) for w in st["workers"]])
    if st["state"] == "done" or st["step"] >= total:
        break
    # Each poll costs the coordinator, which shares the cores with the workers: at 20 polls a
    # second the 2-worker rows lost ~3 % (4 alternating rounds: 49.3/50.3/52.1/51.6 steps/s
    # against 52.0/53.2/52.0/53.0 at 4). The window's ends are exact whatever the rate.
    time.sleep(0.25)
else:
    sys.exit("scaling: the run did not finish in 10 minutes")
first = next(s for s in samples if s[1] > skip)
last = samples[-1]
steps = last[1] - first[1]
secs = last[0] - first[0]
if steps < 10:
    sys.exit("scaling: only %d steady-state steps seen" % steps)
print(json.dumps({"impl": "craft", "workers": os.environ["KEY"], "steps": steps, "from_step": first[1], "to_step": last[1],
                  "seconds": secs, "tokens_per_s_reported": (last[2] - first[2]) / secs,
                  "steps_per_s": steps / secs, "cpu_ms_per_step": 1e3 * (last[3] - first[3]) / steps,
                  "parts_ms": [sum(p[k] for ws in parts for p in ws) / max(1, sum(len(ws) for ws in parts)) for k in range(3)]}))
PY
	for p in $pids; do wait "$p" || true; done
	pids=""
}

# craft_nosync_run: 2 `craft bench step` processes pinned to cores 0 and 1 at once, each on
# its share of the global batch with the same optimizer, no communication: the ceiling the
# cores leave Craft (the twin of PyTorch's no-sync row). Global tokens/s = 2 x the slower.
craft_nosync_run() {
	share=$((batch / 2))
	taskset -c 0 "$dir/craft" bench step --conf "$conf" "$@" --set train.global_batch="$share" --threads 1 \
		--steps "$steps" --warmup "$skip" --json >"$dir/nosync-0.json" &
	p0=$!
	taskset -c 1 "$dir/craft" bench step --conf "$conf" "$@" --set train.global_batch="$share" --threads 1 \
		--steps "$steps" --warmup "$skip" --json >"$dir/nosync-1.json"
	wait "$p0"
	/usr/bin/python3 - "$dir/nosync-0.json" "$dir/nosync-1.json" "$tokens_per_step" >>"$dir/craft.jsonl" <<'PY'
import json, sys
rs = [json.load(open(p)) for p in sys.argv[1:3]]
slow = min(r["tokens_per_s"] / r["tokens_per_step"] for r in rs)  # steps/s of the slower
print(json.dumps({"impl": "craft", "workers": "nosync", "steps_per_s": slow, "cpu_ms_per_step": 0}))
PY
}

torch_run() {
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_ddp.py \
		--conf "$dir/conf.yaml" --vocab "$vocab" --steps "$steps" --warmup "$skip" --json "$@" >>"$dir/torch.jsonl"
}

round=1
while [ "$round" -le "$rounds" ]; do
	craft_run 1 "$round" 1 "$@"
	torch_run --ranks 1
	craft_run 2 "$round" 2 "$@"
	torch_run --ranks 2
	token=scaling-bench-ring-key # tcp keys its handshake with the join token
	craft_run 2 "$round" 2-tcp "$@" --set allreduce.transport=tcp --set cluster.join_token="$token"
	token=""
	craft_nosync_run "$@"
	torch_run --ranks 2 --no-sync
	round=$((round + 1))
done

/usr/bin/python3 - "$dir/craft.jsonl" "$dir/torch.jsonl" "$dir/conf.yaml" "$conf" "$rounds" <<'PY'
import json, sys, yaml
c = yaml.safe_load(open(sys.argv[3]))
tokens_per_step = c["train"]["global_batch"] * c["model"]["block_size"]
def best(path, key):
    out = {}
    for line in open(path):
        r = json.loads(line)
        if "steps_per_s" in r:
            r["tokens_per_s"] = r["steps_per_s"] * tokens_per_step
        k = key(r)
        if k not in out or r["tokens_per_s"] > out[k]["tokens_per_s"]:
            out[k] = r
    return out
craft = best(sys.argv[1], lambda r: str(r["workers"]))
torch = best(sys.argv[2], lambda r: (r["ranks"], r["no_sync"]))
m = c["model"]
print(f"{sys.argv[4]}: {m['n_layer']} layers, {m['n_head']} heads, {m['n_embd']} wide, block {m['block_size']}, "
      f"global batch {c['train']['global_batch']} ({tokens_per_step} tokens/step); 1 thread per worker/rank, "
      f"one core each; best of {sys.argv[5]} rounds")
print(f"{'':<24} {'1 worker tok/s':>14} {'2 workers tok/s':>15} {'efficiency':>10}")
def row(name, one, two):
    print(f"{name:<24} {one:>14.0f} {two:>15.0f} {100 * two / (2 * one):>9.1f}%")
row("craft (grpc ring)", craft["1"]["tokens_per_s"], craft["2"]["tokens_per_s"])
if "2-tcp" in craft:
    row("craft (tcp ring)", craft["1"]["tokens_per_s"], craft["2-tcp"]["tokens_per_s"])
c1, c2 = craft["1"]["cpu_ms_per_step"], craft["2"]["cpu_ms_per_step"]
if "nosync" in craft:
    row("craft, no grad sync", craft["1"]["tokens_per_s"], craft["nosync"]["tokens_per_s"])
row("pytorch ddp (gloo)", torch[(1, False)]["tokens_per_s"], torch[(2, False)]["tokens_per_s"])
if (2, True) in torch:
    row("pytorch, no grad sync", torch[(1, False)]["tokens_per_s"], torch[(2, True)]["tokens_per_s"])
print(f"pytorch {torch[(1, False)]['version']} with {torch[(1, False)].get('blas', '?')}")
print(f"craft worker CPU per step (all workers, same rounds): 1 worker {c1:.1f} ms, 2 workers (grpc) {c2:.1f} ms; "
      f"CPU efficiency {100 * c1 / c2:.1f}% (wall-clock efficiency also pays for waits and for other load on the cores)")
for n, name in (("1", "1 worker"), ("2", "2 workers, grpc ring"), ("2-tcp", "2 workers, tcp ring")):
    p = craft.get(n, {}).get("parts_ms")
    if p:
        print(f"craft step, {name} (mean of the workers' /status): compute {p[0]:.1f} ms, "
              f"wait for the all-reduce after backward {p[1]:.1f} ms, update {p[2]:.1f} ms")
PY
