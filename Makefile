# Build targets of Craft. `make build` writes the static binary ./craft;
# `make image` puts it in the container image craft:latest (deploy/Dockerfile),
# which the root docker-compose.yml runs.

GO      ?= go
BIN     ?= craft
IMAGE   ?= craft:latest
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build image proto

# A static binary (no cgo), without local paths or debug information.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/craft

# The image is built FROM scratch out of a context that holds only the binary, the
# user's passwd and group lines, the shipped configs and an empty /data: nothing is
# pulled from a registry.
image: build
	@ctx=$$(mktemp -d) && trap 'rm -rf "$$ctx"' EXIT && \
	mkdir "$$ctx/conf" "$$ctx/data" && \
	cp $(BIN) "$$ctx/craft" && cp deploy/passwd deploy/group "$$ctx/" && cp conf/*.yaml "$$ctx/conf/" && \
	docker build -f deploy/Dockerfile -t $(IMAGE) "$$ctx"

# The Go code of internal/craftpb/craft.proto, regenerated with the plugin
# versions pinned in internal/craftpb/gen.sh (protoc-gen-go v1.36.12,
# protoc-gen-go-grpc v1.6.2) and Debian's protoc (apt-get install -y
# protobuf-compiler). internal/craftpb's TestGeneratedInSync checks the result.
proto:
	sh internal/craftpb/gen.sh
