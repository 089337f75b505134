package coordinator

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/craftml/craft/conf"
	"github.com/craftml/craft/dataset"
)

func newTestService(t *testing.T, sets ...string) (*Service, conf.Config) {
	t.Helper()
	c, err := conf.LoadDefault(append([]string{"train.steps=100", "train.warmup_steps=10", "cluster.min_workers=2"}, sets...))
	if err != nil {
		t.Fatal(err)
	}
	src, err := dataset.NewAddition(c.Data.Digits, c.Data.ValFraction, 0, c.Run.Seed)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(context.Background(), ServiceConfig{Conf: c, Source: src, Store: NewMemStore(2), LeaseSteps: 10})
	if err != nil {
		t.Fatal(err)
	}
	return svc, c
}

func join(t *testing.T, svc *Service, id string) {
	t.Helper()
	if _, err := svc.Join(JoinRequest{ID: id, RingAddr: id + ":1", SchemaHash: conf.SchemaHash()}); err != nil {
		t.Fatalf("Join(%s): %v", id, err)
	}
}

func next(t *testing.T, mb *Mailbox) Assignment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	a, ok := mb.Next(ctx)
	if !ok {
		t.Fatal("no assignment within 1 s")
	}
	return a
}

// TestServiceRun walks a run through the service: two workers join, get
// their shares, report, one dies, the other is replanned, the last
// checkpoint ends the run.
func TestServiceRun(t *testing.T) {
	svc, c := newTestService(t)
	join(t, svc, "a")
	mbA, err := svc.Attach("a")
	if err != nil {
		t.Fatal(err)
	}
	if st := svc.Status(); st.State != "waiting" {
		t.Errorf("Status().State with 1 of 2 workers = %q; want waiting", st.State)
	}
	join(t, svc, "b")
	mbB, err := svc.Attach("b")
	if err != nil {
		t.Fatal(err)
	}
	a, b := next(t, mbA), next(t, mbB)
	if a.Gen != 1 || a.Rank != 0 || b.Rank != 1 || a.ShareSize+b.ShareSize != c.Train.GlobalBatch || b.ShareOffset != a.ShareSize {
		t.Errorf("assignments a=%+v b=%+v; want gen 1, ranks 0 and 1, shares splitting %d", a, b, c.Train.GlobalBatch)
	}
	svc.Report("a", Report{Gen: 1, Step: 6, Loss: 2.5, Tokens: 96, Duration: 10 * time.Millisecond})
	if got := next(t, mbA); got.Until != 16 {
		t.Errorf("after a report of step 6 the lease ends at %d; want 16", got.Until)
	}
	ck := &Checkpoint{Step: 20, ConfigHash: c.Hash(), Params: []byte{1, 2, 3, 4}}
	if err := svc.Commit(context.Background(), ck); err != nil {
		t.Fatal(err)
	}
	svc.Leave("b", "test")
	join(t, svc, "c")
	mbC, _ := svc.Attach("c")
	got := next(t, mbC)
	if got.Gen != 2 || got.Start != 20 || len(got.Ring) != 2 {
		t.Errorf("after b died and c joined: %+v; want generation 2 of a and c from step 20", got)
	}
	st := svc.Status()
	if st.State != "running" || st.LastCheckpointStep != 20 || len(st.Workers) != 2 || st.Step != 6 {
		t.Errorf("Status() = %+v; want running, checkpoint 20, 2 workers, step 6", st)
	}
	if err := svc.Commit(context.Background(), &Checkpoint{Step: 100, ConfigHash: c.Hash()}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-svc.Done():
	default:
		t.Error("Done() not closed after the checkpoint of the last step")
	}
	if a := next(t, mbA); !a.Done {
		t.Errorf("after the last checkpoint a got %+v; want Done", a)
	}
}

func TestServiceRefuses(t *testing.T) {
	svc, _ := newTestService(t, "cluster.join_token=s3cret", "cluster.min_workers=1", "cluster.max_workers=1")
	tests := []struct {
		name string
		req  JoinRequest
		want error
	}{
		{"wrong token", JoinRequest{ID: "a", RingAddr: "a:1", SchemaHash: conf.SchemaHash(), Token: "nope"}, ErrToken},
		{"other schema", JoinRequest{ID: "a", RingAddr: "a:1", SchemaHash: "0000", Token: "s3cret"}, ErrSchema},
	}
	for _, tt := range tests {
		if _, err := svc.Join(tt.req); !errors.Is(err, tt.want) {
			t.Errorf("Join %s = %v; want %v", tt.name, err, tt.want)
		}
	}
	ok := JoinRequest{ID: "a", RingAddr: "a:1", SchemaHash: conf.SchemaHash(), Token: "s3cret"}
	if _, err := svc.Join(ok); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Join(ok); !errors.Is(err, ErrDuplicate) {
		t.Errorf("second Join of a = %v; want ErrDuplicate", err)
	}
	ok.ID = "b"
	if _, err := svc.Join(ok); !errors.Is(err, ErrFull) {
		t.Errorf("Join beyond max_workers = %v; want ErrFull", err)
	}
	if _, err := svc.Attach("zz"); !errors.Is(err, ErrUnknownWorker) {
		t.Errorf("Attach of a stranger = %v; want ErrUnknownWorker", err)
	}
	if err := svc.Commit(context.Background(), &Checkpoint{Step: 5, ConfigHash: "other"}); !errors.Is(err, ErrConfigMismatch) {
		t.Errorf("Commit of another config's checkpoint = %v; want ErrConfigMismatch", err)
	}
	if _, err := svc.Shard(-1); !errors.Is(err, ErrNoShard) {
		t.Errorf("Shard(-1) = %v; want ErrNoShard", err)
	}
}
