#!/usr/bin/env bash
# The long training runs of issue 4, with the figures they must reach:
#   addition (built-in default)      exact-match >= 99.9 % on the held-out problems
#   Tiny Shakespeare (baby config)   val loss (200 batches) <= 1.92 after 2000 steps (mean of SEEDS,
#                                    default "1337 1 2"), beside PyTorch's at the same seeds
#   digits MLP                       test accuracy >= 97 %
# Usage: bench/quality.sh [addition|shakespeare|digits]...   (default: all three)
# Needs ../shared/datasets; PyTorch (apt-get install -y python3-torch) for the Shakespeare comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/craft" ./cmd/craft
craft() { "$out/craft" "$@"; }
which=("$@")
[ ${#which[@]} -gt 0 ] || which=(addition shakespeare digits)
fail=0
check() { # name value op limit
	if awk -v v="$2" -v l="$4" "BEGIN{exit !(v $3 l)}"; then echo "PASS $1: $2 $3 $4"; else echo "FAIL $1: $2 not $3 $4"; fail=1; fi
}

for w in "${which[@]}"; do
case $w in
addition)
	echo "== addition: craft train (the embedded default)"
	s=$(date +%s)
	craft train --log-level warn --set run.out_dir="$out/runs" | tee "$out/add.txt"
	acc=$(grep -o 'val accuracy [0-9.]*' "$out/add.txt" | awk '{print $3}')
	echo "wall time: $(( $(date +%s) - s )) s"
	check "addition exact-match %" "$acc" ">=" 99.9
	;;
shakespeare)
	# One run's val loss moves by about +-0.02 with the seed (init and batches), in Craft as in
	# PyTorch: check the mean over SEEDS, each seed run by Craft and by PyTorch (nanoGPT's training).
	# Measured at seeds 1337/1/2/3: Craft 1.934/1.901/1.897/1.913 (mean 1.911), PyTorch
	# 1.905/1.918/1.915/1.916 (mean 1.913).
	# eval_every=0: one evaluation at the end, as torch_train.py does, so the wall times compare.
	seeds=(${SEEDS:-1337 1 2})
	echo "== Tiny Shakespeare, conf/shakespeare-baby.yaml, 2000 steps, run.seed ${seeds[*]}"
	craft conf show --conf conf/shakespeare-baby.yaml | grep -v '^# hash' > "$out/sh.yaml"
	havetorch=0
	/usr/bin/python3 -c 'import torch' 2>/dev/null && havetorch=1 || echo "PyTorch missing (apt-get install -y python3-torch): no comparison"
	losses=() tlosses=()
	for seed in "${seeds[@]}"; do
		s=$(date +%s)
		craft train --log-level warn --conf conf/shakespeare-baby.yaml --set run.out_dir="$out/runs" \
			--set run.name=sh-$seed --set run.seed=$seed --set train.eval_batches=200 --set train.eval_every=0 > "$out/sh.txt"
		craft_secs=$(( $(date +%s) - s ))
		losses+=("$(grep -o 'val loss [0-9.]*' "$out/sh.txt" | awk '{print $3}')")
		echo "seed $seed craft:   val loss ${losses[-1]} in ${craft_secs} s (1 local worker, all cores)"
		if [ "$seed" = "${seeds[0]}" ]; then
			craft generate --checkpoint "$out/runs/sh-$seed/craft.db" --prompt "ROMEO:" --tokens 300 --seed 7
		fi
		if [ $havetorch = 1 ]; then
			torch=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \
				/usr/bin/python3 bench/torch_train.py --conf "$out/sh.yaml" --threads 2 --eval-batches 200 --seed "$seed")
			tlosses+=("$(echo "$torch" | sed 's/.*"val_loss": \([0-9.]*\).*/\1/')")
			echo "seed $seed pytorch: $torch"
		fi
	done
	mean=$(printf '%s\n' "${losses[@]}" | awk '{s+=$1} END {printf "%.4f", s/NR}')
	echo "craft mean val loss: $mean"
	if [ $havetorch = 1 ]; then
		echo "pytorch mean val loss: $(printf '%s\n' "${tlosses[@]}" | awk '{s+=$1} END {printf "%.4f", s/NR}')"
	fi
	check "shakespeare mean val loss (${#seeds[@]} seeds)" "$mean" "<=" 1.92
	;;
digits)
	# The held-out 20 % (360 digits) is drawn by run.seed, so one split is a noisy estimate
	# (one error = 0.28 %): report each of five seeds and check their mean.
	echo "== digits MLP, conf/digits-mlp.yaml, run.seed 1337 1 2 3 4"
	accs=()
	for seed in 1337 1 2 3 4; do
		craft train --log-level warn --conf conf/digits-mlp.yaml --set run.out_dir="$out/runs" \
			--set run.name=digits-$seed --set run.seed=$seed > "$out/dg.txt"
		accs+=("$(grep -o 'val accuracy [0-9.]*' "$out/dg.txt" | awk '{print $3}')")
		echo "seed $seed: test accuracy ${accs[-1]} %"
	done
	mean=$(printf '%s\n' "${accs[@]}" | awk '{s+=$1} END {printf "%.2f", s/NR}')
	check "digits mean test accuracy % (5 splits)" "$mean" ">=" 97
	;;
*) echo "unknown run $w (want addition, shakespeare or digits)"; exit 2 ;;
esac
done
exit $fail
