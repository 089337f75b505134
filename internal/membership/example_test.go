package membership_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/craftml/craft/internal/membership"
)

// A coordinator node is the seed; a worker joins it and the coordinator
// sees the worker's Join event with its metadata, then its Leave.
func Example() {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := func(name string, meta membership.Meta) *membership.Node {
		cfg := membership.DefaultConfig()
		cfg.Name = name
		cfg.BindAddr = "127.0.0.1:0"
		cfg.JoinToken = "cluster secret"
		cfg.Meta = meta
		cfg.Logger = quiet
		n, err := membership.Start(cfg)
		if err != nil {
			panic(err)
		}
		return n
	}
	coord := start("coordinator", membership.Meta{Role: membership.RoleCoordinator})
	defer coord.Close()
	worker := start("w1", membership.Meta{Role: membership.RoleWorker, WorkerID: "w1", RingAddr: "127.0.0.1:7071"})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := worker.Join(ctx, coord.Addr()); err != nil {
		panic(err)
	}
	ev := <-coord.Events()
	fmt.Println(ev.Kind, ev.ID, ev.Meta.Role, ev.Meta.RingAddr)
	worker.Close()
	ev = <-coord.Events()
	fmt.Println(ev.Kind, ev.ID)
	// Output:
	// join w1 worker 127.0.0.1:7071
	// leave w1
}
