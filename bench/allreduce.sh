#!/usr/bin/env bash
# Craft's ring all-reduce against PyTorch's gloo all-reduce, in the same run.
#
#   bench/allreduce.sh [--ranks 2,3,4] [--sizes 4K,64K,1M,16M,64M] [--iters N] [--wire float32] [--rounds R]
#                      [--transports grpc,tcp]
#
# Builds craft, then for the same rank counts and sizes runs
#   craft bench allreduce   (n craft processes on 127.0.0.1, once per ring
#                            transport: grpc, the default, and tcp, the plain-TCP
#                            one; it also measures one TCP stream over
#                            127.0.0.1: the link, and both directions at once
#                            over TCP and over a Unix socket: craft bench link
#                            --duplex [--unix])
#   bench/gloo_allreduce.py (n Python processes, torch.distributed gloo)
# with the same timing method (per iteration a barrier, then the slowest
# rank's time; the median over iterations) and prints every busbw and the
# Craft/gloo ratios per size and rank count. The machine is shared and its
# load changes by the second: for each round and rank count they run back
# to back (Craft per transport, then gloo), and the table keeps each side's
# best round.
#
# Needs Debian's python3-torch (apt-get install -y python3-torch) as
# /usr/bin/python3; PyTorch runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
# unset and one OpenBLAS thread (DESIGN.md).
set -euo pipefail
cd "$(dirname "$0")/.."

ranks=2,3,4
sizes=4K,64K,1M,16M,64M
iters=0
wire=float32
rounds=2
transports=grpc,tcp
while [ $# -gt 0 ]; do
	case "$1" in
	--ranks) ranks=$2; shift 2 ;;
	--sizes) sizes=$2; shift 2 ;;
	--iters) iters=$2; shift 2 ;;
	--wire) wire=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--transports) transports=$2; shift 2 ;;
	*) echo "usage: $0 [--ranks 2,3,4] [--sizes 4K,...] [--iters N] [--wire float32|bfloat16|float16] [--rounds R] [--transports grpc,tcp]" >&2; exit 2 ;;
	esac
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/craft" ./cmd/craft

echo "# bench/allreduce.sh --ranks $ranks --sizes $sizes --iters $iters --wire $wire --rounds $rounds --transports $transports ($(date -u +%FT%TZ), $(nproc) cores)"
linkrate() { "$tmp/craft" bench link --seconds 3 | sed -n 's/.*: \([0-9.]*\) GB\/s$/\1/p' | tail -1; }
link1=$(linkrate)
: >"$tmp/craft.json"
: >"$tmp/gloo.json"
for round in $(seq "$rounds"); do
	for n in ${ranks//,/ }; do
		for tr in ${transports//,/ }; do
			"$tmp/craft" bench allreduce --transport "$tr" --ranks "$n" --sizes "$sizes" --iters "$iters" --wire "$wire" \
				--link-seconds 0 --json --log-level warn >>"$tmp/craft.json"
		done
		env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
			/usr/bin/python3 bench/gloo_allreduce.py --ranks "$n" --sizes "$sizes" --iters "$iters" --json >>"$tmp/gloo.json"
	done
done

link2=$(linkrate)
link=$(/usr/bin/python3 -c "print(max($link1, $link2))")
echo "# link: one TCP stream over 127.0.0.1 between two processes (craft bench link, 1M writes): $link1 GB/s before, $link2 GB/s after; craft/link uses the larger"
# What two neighbours sending to each other at once can get: the ceiling of a 2-rank ring.
duplex() { "$tmp/craft" bench link --seconds 2 --duplex "$@" | sed -n 's/^per direction: \([0-9.]*\) GB\/s.*/\1/p'; }
echo "# both directions at once (craft bench link --duplex), per direction: TCP $(duplex) GB/s, Unix socket $(duplex --unix) GB/s (the ring's same-host sockets)"
/usr/bin/python3 - "$tmp/craft.json" "$tmp/gloo.json" "$link" "$transports" <<'EOF'
import json, sys
def best(path, key):
    out, order = {}, []
    for l in open(path):
        if not l.startswith("{"):
            continue
        r = json.loads(l)
        k = key(r)
        if k not in out:
            order.append(k)
        if k not in out or r["busbw"] > out[k]["busbw"]:
            out[k] = r
    return out, order
transports = sys.argv[4].split(",")
craft, order = best(sys.argv[1], lambda r: (r.get("transport", "grpc"), r["ranks"], r["bytes"]))
gloo, _ = best(sys.argv[2], lambda r: (r["ranks"], r["bytes"]))
link = float(sys.argv[3] or 0)
print("# busbw in GB/s (1e9 B/s); time = median over iterations of the slowest rank; best round of each side")
cols = ["ranks", "size"] + ["%s(us)" % t for t in transports] + ["gloo(us)"] + transports + ["gloo"] + \
    ["%s/gloo" % t for t in transports] + ["%s/link" % t for t in transports]
print(" ".join("%9s" % c for c in cols))
def fmt(b):
    for unit, m in (("M", 1 << 20), ("K", 1 << 10)):
        if b >= m and b % m == 0:
            return "%d%s" % (b // m, unit)
    return str(b)
seen = []
for (_, n, b) in order:
    if (n, b) in seen or (n, b) not in gloo:
        continue
    seen.append((n, b))
    g = gloo[(n, b)]
    rs = [craft.get((t, n, b)) for t in transports]
    if None in rs:
        continue
    row = ["%9d" % n, "%9s" % fmt(b)]
    row += ["%9.1f" % r["time_us"] for r in rs] + ["%9.1f" % g["time_us"]]
    row += ["%9.3f" % r["busbw"] for r in rs] + ["%9.3f" % g["busbw"]]
    row += ["%9.2f" % (r["busbw"] / g["busbw"] if g["busbw"] else float("nan")) for r in rs]
    row += ["%9s" % ("%.2f" % (r["busbw"] / link) if link else "-") for r in rs]
    print(" ".join(row))
EOF
