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
// two (measured by TestDetectKilledMember over real sockets on 127.0.0.1).
// A join token, if set, becomes memberlist's AES-256 SecretKey, so nodes
// without it can neither join nor read the gossip.
//
//	n, err := membership.Start(cfg)
//	defer n.Close() // leaves the cluster, then shuts down
//	err = n.Join(ctx, "head:7946")
//	for ev := range n.Events() { ... }
//
// Caveats: memberlist's node metadata is limited to 512 bytes; Config.Name
// must be unique in the cluster (a restarted worker reusing its name can
// rejoin once its old incarnation is declared dead).
package membership
