// Package craftpb is the control-plane API between the coordinator and its
// workers: craft.proto and the Go code generated from it (committed;
// regenerate with `make proto` or `go generate ./internal/craftpb`). Only
// coordinator/grpcapi and cmd import it.
package craftpb

//go:generate sh gen.sh
