#!/bin/sh
# Regenerates ringpb/*.pb.go from ringpb/ring.proto with pinned plugins.
# Needs protoc (Debian: apt-get install -y protobuf-compiler) and the go command.
# Run from anywhere: sh allreduce/grpctransport/gen.sh (or go generate ./allreduce/grpctransport).
set -eu
cd "$(dirname "$0")"
PROTOC_GEN_GO=google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC=google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
command -v protoc >/dev/null || { echo "gen.sh: protoc not found (apt-get install -y protobuf-compiler)" >&2; exit 1; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN="$bin" GOFLAGS= go install "$PROTOC_GEN_GO"
GOBIN="$bin" GOFLAGS= go install "$PROTOC_GEN_GO_GRPC"
protoc -I ringpb \
	--plugin=protoc-gen-go="$bin/protoc-gen-go" \
	--plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
	--go_out=ringpb --go_opt=paths=source_relative \
	--go-grpc_out=ringpb --go-grpc_opt=paths=source_relative \
	ring.proto
