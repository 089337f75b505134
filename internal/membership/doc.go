// Package membership tells a Craft process who else is in the cluster: a thin
// wrapper over hashicorp/memberlist (SWIM gossip) that turns its callbacks
// into plain Events (Join, Leave, Fail, Update) on a channel.
//
// The coordinator starts the first node and is the seed; each worker starts a
// node and joins the coordinator's gossip address. Every node carries its
// Meta (role, worker id, gRPC and ring addresses) in memberlist's node
// metadata, so a Join event is all the coordinator needs to reach a worker.
//
// DefaultConfig is tuned for a LAN with fast failure detection: a member
// killed with SIGKILL is declared failed by the others in about a second or
// two (measured by TestDetectKilledMember over real sockets on 127.0.0.1),
// at worst about 7 s: memberlist starts a suspicion at 6x its shortest
// timeout (SuspicionMult*ProbeInterval, 1 s) and shortens it only as other
// members confirm it, which on a loaded machine they may not do in time.
// A worker's ring neighbours see a killed process at once anyway (its
// sockets close); gossip is for the silent ones.
// A join token, if set, becomes memberlist's AES-256 SecretKey, so nodes
// without it can neither join nor read the gossip.
//
//	n, err := membership.Start(cfg)
//	defer n.Close() // leaves the cluster, then shuts down
//	err = n.Join(ctx, "head:7946")
//	for ev := range n.Events() { ... }
//
// Wiring (cmd): the coordinator starts its node, tells joiners its address,
// and removes from the run the workers the gossip declares failed or gone;
// gossip catches what a session's end does not (a hung or cut-off worker keeps
// its gRPC stream open but stops answering probes):
//
//	node, _ := membership.Start(cfg) // Name "coordinator", Meta.Role RoleCoordinator
//	svc.SetGossipSeed(node.Addr())
//	go func() {
//		for ev := range node.Events() {
//			if ev.Kind == membership.Fail || ev.Kind == membership.Leave {
//				svc.Leave(ev.ID, "membership: "+ev.Kind.String())
//			}
//		}
//	}()
//
// A worker starts its node with Name = its worker id and the same JoinToken,
// and Joins the GossipSeed of its Join reply.
//
// Caveats: memberlist's node metadata is limited to 512 bytes; Config.Name
// must be unique in the cluster (a restarted worker reusing its name can
// rejoin once its old incarnation is declared dead).
package membership
