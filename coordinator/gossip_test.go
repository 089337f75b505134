package coordinator

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/craftml/craft/internal/membership"
)

type fakeLeaver struct {
	mu   sync.Mutex
	left []string
}

func (f *fakeLeaver) Leave(id, why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.left = append(f.left, id+" "+why)
}

func TestFollowMembership(t *testing.T) {
	events := make(chan membership.Event, 8)
	worker := membership.Meta{Role: membership.RoleWorker}
	for _, ev := range []membership.Event{
		{Kind: membership.Join, ID: "w1", Meta: worker},
		{Kind: membership.Update, ID: "w1", Meta: worker},
		{Kind: membership.Fail, ID: "w1", Meta: worker},
		{Kind: membership.Leave, ID: "w2", Meta: worker},
		{Kind: membership.Fail, ID: "standby", Meta: membership.Meta{Role: membership.RoleCoordinator}},
	} {
		events <- ev
	}
	close(events)
	var l fakeLeaver
	FollowMembership(context.Background(), &l, events, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if want := []string{"w1 membership: failed", "w2 membership: left"}; !slices.Equal(l.left, want) {
		t.Errorf("FollowMembership left %q; want %q", l.left, want)
	}
}

func TestFollowMembershipStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		FollowMembership(ctx, &fakeLeaver{}, make(chan membership.Event), nil)
		close(done)
	}()
	cancel()
	<-done
}
