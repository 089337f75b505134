package grpcapi

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/craftml/craft/conf"
	"github.com/craftml/craft/coordinator"
	"github.com/craftml/craft/dataset"
	"github.com/craftml/craft/worker"
)

// serve starts a coordinator for a tiny addition run on 127.0.0.1 and
// returns its address.
func serve(t *testing.T, token string) (string, *coordinator.Service) {
	t.Helper()
	c, err := conf.LoadDefault([]string{"train.steps=100", "train.warmup_steps=10", "cluster.min_workers=1", "cluster.join_token=" + token})
	if err != nil {
		t.Fatal(err)
	}
	src, err := dataset.NewAddition(c.Data.Digits, c.Data.ValFraction, 0, c.Run.Seed)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := coordinator.NewService(context.Background(), coordinator.ServiceConfig{Conf: c, Source: src, Store: coordinator.NewMemStore(2)})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(svc, token, nil)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), svc
}

func dial(t *testing.T, addr, token string) *Client {
	t.Helper()
	c, err := Dial(addr, token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestJoinOverGRPC(t *testing.T) {
	addr, _ := serve(t, "s3cret")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := worker.JoinRequest{ID: "w1", RingAddr: "127.0.0.1:9", SchemaHash: conf.SchemaHash(), Token: "s3cret"}

	tests := []struct {
		name  string
		token string
		req   worker.JoinRequest
		want  codes.Code
	}{
		{"wrong token", "nope", req, codes.Unauthenticated},
		{"empty worker_id", "s3cret", worker.JoinRequest{RingAddr: "x:1", SchemaHash: conf.SchemaHash(), Token: "s3cret"}, codes.InvalidArgument},
		{"empty ring_addr", "s3cret", worker.JoinRequest{ID: "w2", SchemaHash: conf.SchemaHash(), Token: "s3cret"}, codes.InvalidArgument},
		{"other schema", "s3cret", worker.JoinRequest{ID: "w3", RingAddr: "x:1", SchemaHash: "0", Token: "s3cret"}, codes.FailedPrecondition},
	}
	for _, tt := range tests {
		_, err := dial(t, addr, tt.token).Join(ctx, tt.req)
		if status.Code(err) != tt.want {
			t.Errorf("Join with %s = %v; want code %v", tt.name, err, tt.want)
		}
	}
	c := dial(t, addr, "s3cret")
	info, err := c.Join(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Config) == 0 || len(info.Manifest) == 0 || info.Run == 0 {
		t.Errorf("Join = %+v; want the config, the manifest and the run id", info)
	}
	m, err := dataset.UnmarshalManifest(info.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Shards {
		if _, err := c.Fetch(ctx, i); err != nil {
			t.Errorf("Fetch(%d): %v", i, err)
		}
	}
	if _, err := c.Fetch(ctx, len(m.Shards)); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Fetch past the last shard = %v; want InvalidArgument", err)
	}
	if _, err := c.GetCheckpoint(ctx, 0); status.Code(err) != codes.NotFound {
		t.Errorf("GetCheckpoint with none committed = %v; want NotFound", err)
	}
	sess, err := c.Session(ctx, "w1")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	p, err := sess.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if p.Gen != 1 || p.Rank != 0 || len(p.Peers) != 1 || p.Peers[0] != req.RingAddr {
		t.Errorf("first plan = %+v; want generation 1, rank 0 of a ring of w1", p)
	}
}
