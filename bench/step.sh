#!/bin/sh
# Training-step speed of Craft against PyTorch on the same config, same batch shape, same
# optimizer (AdamW, clip), measured in the same run at 1 and 2 threads; prints tokens/s and
# the ratio Craft/PyTorch per thread count.
#   bench/step.sh                                   # conf/shakespeare-baby.yaml
#   CONF=conf/x.yaml STEPS=50 ROUNDS=3 bench/step.sh
# Each round runs craft 1T, torch 1T, craft 2T, torch 2T; the table keeps each side's best
# round. PyTorch runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset and
# OPENBLAS_NUM_THREADS=1 (Debian's build otherwise runs its matrix multiplies in OpenBLAS's own
# thread pool, fighting torch's threads): its best on these machines.
set -eu
cd "$(dirname "$0")/.."
conf=${CONF:-conf/shakespeare-baby.yaml}
steps=${STEPS:-30}
warmup=${WARMUP:-5}
rounds=${ROUNDS:-2}
threads=${THREADS:-1 2}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/craft" ./cmd/craft
"$dir/craft" conf show --conf "$conf" "$@" | grep -v '^# hash' >"$dir/conf.yaml"
vocab=""
round=1
while [ "$round" -le "$rounds" ]; do
	for n in $threads; do
		"$dir/craft" bench step --conf "$conf" "$@" --threads "$n" --steps "$steps" --warmup "$warmup" --json >>"$dir/craft.jsonl"
		if [ -z "$vocab" ]; then
			vocab=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["vocab"])' <"$dir/craft.jsonl")
		fi
		env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_step.py \
			--conf "$dir/conf.yaml" --vocab "$vocab" --threads "$n" --steps "$steps" --warmup "$warmup" --json >>"$dir/torch.jsonl"
	done
	round=$((round + 1))
done
/usr/bin/python3 - "$dir/craft.jsonl" "$dir/torch.jsonl" "$conf" <<'PY'
import json, sys
def best(path):
    out = {}
    for line in open(path):
        r = json.loads(line)
        if r["threads"] not in out or r["tokens_per_s"] > out[r["threads"]]["tokens_per_s"]:
            out[r["threads"]] = r
    return out
craft, torch = best(sys.argv[1]), best(sys.argv[2])
any_ = next(iter(craft.values()))
print(f"{sys.argv[3]}: {any_['params']} params, vocab {any_['vocab']}, {any_['batch']}x{any_['block']} tokens/step, "
      f"best of the rounds")
t0 = next(iter(torch.values()))
print(f"pytorch {t0['version']} with {t0.get('blas', '?')}")
print(f"{'threads':>7}  {'craft tok/s':>11}  {'ms/step':>7}  {'GFLOP/s':>7}  {'allocs':>6}  {'torch tok/s':>11}  {'ms/step':>7}  {'craft/torch':>11}")
for n in sorted(craft):
    c, t = craft[n], torch[n]
    print(f"{n:>7}  {c['tokens_per_s']:>11.0f}  {c['ms_per_step']:>7.2f}  {c['gflops']:>7.1f}  {c['allocs_per_step']:>6.1f}  "
          f"{t['tokens_per_s']:>11.0f}  {t['ms_per_step']:>7.2f}  {c['tokens_per_s'] / t['tokens_per_s']:>11.2f}")
PY
