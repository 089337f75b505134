package coordinator

import (
	"context"
	"log/slog"

	"github.com/craftml/craft/internal/membership"
)

// Leaver removes a worker from the run; *Service is one.
type Leaver interface {
	Leave(id, why string)
}

// FollowMembership removes from the run every worker the gossip declares
// failed or gone, until events is closed or ctx ends. It blocks; run it in its
// own goroutine beside the coordinator's membership node:
//
//	node, _ := membership.Start(cfg) // the seed, Meta.Role = coordinator
//	svc.SetGossipSeed(node.Addr())
//	go coordinator.FollowMembership(ctx, svc, node.Events(), log)
//
// Gossip catches what a session's end does not: a worker that hangs or is cut
// off keeps its gRPC stream open, but stops answering probes and is declared
// failed in about a second (see internal/membership). Joins need no action:
// workers join through the Join RPC; their membership name is their id.
func FollowMembership(ctx context.Context, l Leaver, events <-chan membership.Event, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Meta.Role == membership.RoleCoordinator {
				continue
			}
			switch ev.Kind {
			case membership.Fail:
				log.Warn("gossip: worker failed", "worker", ev.ID, "addr", ev.Addr)
				l.Leave(ev.ID, "membership: failed")
			case membership.Leave:
				l.Leave(ev.ID, "membership: left")
			}
		}
	}
}
