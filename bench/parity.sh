#!/bin/sh
# Parity of Craft with PyTorch: the loss and every gradient of one batch, on the nanoGPT baby
# config without and with biases. Fails (exit 1) if a relative difference exceeds 1e-4.
#   bench/parity.sh                 # from anywhere; needs Go and Debian's python3-torch
#   CONF=conf/x.yaml bench/parity.sh --set model.n_layer=2
set -eu
cd "$(dirname "$0")/.."
conf=${CONF:-conf/shakespeare-baby.yaml}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/craft" ./cmd/craft
py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$@"; }
status=0
for bias in false true; do
	echo "== $conf, model.bias=$bias"
	"$dir/craft" bench parity --conf "$conf" --set model.bias=$bias "$@" --out "$dir/$bias"
	py bench/parity.py "$dir/$bias" || status=1
	echo
done
exit $status
