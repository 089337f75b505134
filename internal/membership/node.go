package membership

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrClosed is returned by the methods of a Node after Close.
var ErrClosed = errors.New("membership: node closed")

// EventKind says what happened to a member.
type EventKind int

const (
	// Join: a member appeared (or came back under a new incarnation).
	Join EventKind = iota + 1
	// Leave: a member left cleanly (it called Close).
	Leave
	// Fail: a member stopped answering and was declared dead.
	Fail
	// Update: a member published new Meta.
	Update
)

func (k EventKind) String() string {
	switch k {
	case Join:
		return "join"
	case Leave:
		return "leave"
	case Fail:
		return "fail"
	case Update:
		return "update"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is a change of membership seen by this node. Events about the local
// node itself are not reported.
type Event struct {
	Kind EventKind
	ID   string // the member's name
	Addr string // its gossip host:port
	Meta Meta
	// MetaErr is set when the member's metadata could not be decoded (a
	// foreign or newer binary); Meta is then zero.
	MetaErr error
}

// Member is a live member of the cluster.
type Member struct {
	ID   string
	Addr string
	Meta Meta
}

// Node is this process's membership in the cluster. Its methods are safe for
// concurrent use.
type Node struct {
	cfg    Config
	list   *memberlist.Memberlist
	events *queue
	log    *slog.Logger

	mu      sync.Mutex // guards meta, closed, leaving
	meta    []byte
	closed  bool
	leaving map[string]bool // members that announced their leave
}

// Start creates the local node, listening on cfg.BindAddr. It is alone in its
// cluster until it Joins another node or another node joins it.
func Start(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	meta, _ := cfg.Meta.encode() // checked by Validate
	n := &Node{cfg: cfg, log: logger, meta: meta, leaving: make(map[string]bool)}
	n.events = newQueue(cfg.EventBuffer)

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	if cfg.transport != nil {
		mc.Transport = cfg.transport
	} else {
		host, port, _ := splitHostPort(cfg.BindAddr)
		mc.BindAddr, mc.BindPort = host, port
		mc.AdvertisePort = port
	}
	if cfg.AdvertiseAddr != "" {
		host, port, _ := splitHostPort(cfg.AdvertiseAddr)
		mc.AdvertiseAddr, mc.AdvertisePort = host, port
	}
	mc.ProbeInterval = cfg.ProbeInterval
	mc.ProbeTimeout = cfg.ProbeTimeout
	mc.SuspicionMult = cfg.SuspicionMult
	mc.GossipInterval = cfg.GossipInterval
	mc.PushPullInterval = cfg.PushPullInterval
	mc.TCPTimeout = cfg.TCPTimeout
	mc.DeadNodeReclaimTime = cfg.DeadNodeReclaimTime
	mc.GossipToTheDeadTime = 10 * cfg.ProbeInterval * time.Duration(cfg.SuspicionMult)
	if cfg.JoinToken != "" {
		mc.SecretKey = KeyFromToken(cfg.JoinToken)
	}
	mc.Delegate = (*delegate)(n)
	mc.Events = (*eventDelegate)(n)
	mc.Logger = log.New(&logWriter{l: logger, closed: n.isClosed}, "", 0)

	list, err := memberlist.Create(mc)
	if err != nil {
		n.events.close()
		return nil, fmt.Errorf("membership: start %s on %s: %w", cfg.Name, cfg.BindAddr, err)
	}
	n.list = list
	return n, nil
}

// Join contacts the seeds (host:port of members, usually the coordinator's
// gossip address) until one answers or ctx ends, retrying every
// ProbeInterval. A wrong join token fails like an unreachable seed.
func (n *Node) Join(ctx context.Context, seeds ...string) error {
	if len(seeds) == 0 {
		return errors.New("membership: join: no seeds")
	}
	for {
		if n.isClosed() {
			return fmt.Errorf("join: %w", ErrClosed)
		}
		_, err := n.list.Join(seeds)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("membership: join %v: %w (last error: %v)", seeds, ctx.Err(), err)
		case <-time.After(n.cfg.ProbeInterval):
		}
	}
}

// Events returns the channel of membership events. It is closed by Close.
func (n *Node) Events() <-chan Event { return n.events.out }

// Addr returns the host:port other nodes reach this one on (with the port
// chosen when BindAddr has port 0).
func (n *Node) Addr() string { return n.list.LocalNode().Address() }

// Name returns the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Members returns the live members, the local node included, sorted as
// memberlist keeps them.
func (n *Node) Members() []Member {
	var out []Member
	for _, m := range n.list.Members() {
		meta, _, _ := decodeMeta(m.Meta)
		out = append(out, Member{ID: m.Name, Addr: m.Address(), Meta: meta})
	}
	return out
}

// NumMembers returns the number of live members, the local node included.
func (n *Node) NumMembers() int { return n.list.NumMembers() }

// UpdateMeta publishes new metadata for the local node; the others see an
// Update event.
func (n *Node) UpdateMeta(m Meta) error {
	b, err := m.encode()
	if err != nil {
		return fmt.Errorf("membership: update meta: %w", err)
	}
	if len(b) > memberlist.MetaMaxSize {
		return fmt.Errorf("membership: update meta: %d bytes; memberlist allows %d", len(b), memberlist.MetaMaxSize)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return fmt.Errorf("update meta: %w", ErrClosed)
	}
	n.meta = b
	n.mu.Unlock()
	if err := n.list.UpdateNode(n.cfg.TCPTimeout); err != nil {
		return fmt.Errorf("membership: update meta: %w", err)
	}
	return nil
}

// Close leaves the cluster, then stops gossiping and closes the Events
// channel. It announces the leave (the others see a Leave event, not a Fail)
// and waits at most twice LeaveTimeout for the gossip to go out; a member that
// misses the announcement sees a Fail. It is idempotent.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	bye, err := encodeBye(n.cfg.Meta)
	if err == nil {
		if m, _, derr := decodeMeta(n.meta); derr == nil {
			bye, err = encodeBye(m)
		}
	}
	n.meta = bye
	n.mu.Unlock()
	// Who is left to tell: the members that have not said bye themselves.
	// (The last one out, a coordinator whose workers have all left, tells
	// nobody, and does not wait for a confirmation that cannot come.)
	// memberlist calls the delegates, which take n.mu, with its node lock
	// held: n.mu must never be held while asking memberlist for its members,
	// or the two wait for each other forever (TestCloseWhileNotified).
	members := n.list.Members()
	var stay []*memberlist.Node
	n.mu.Lock()
	for _, m := range members {
		if m.Name != n.cfg.Name && !n.leaving[m.Name] {
			stay = append(stay, m)
		}
	}
	n.mu.Unlock()
	if len(stay) > 0 {
		// Say bye to every member directly over TCP (ordered before the
		// leave message, which gossip may deliver before a metadata update),
		// then in the metadata for any member the direct message missed.
		var wg sync.WaitGroup
		for _, m := range stay {
			wg.Go(func() { _ = n.list.SendReliable(m, byeMessage(n.cfg.Name)) })
		}
		wg.Wait()
		var berr error
		if err == nil && len(bye) <= memberlist.MetaMaxSize {
			berr = n.list.UpdateNode(n.cfg.LeaveTimeout)
		}
		lerr := n.list.Leave(n.cfg.LeaveTimeout)
		if err := errors.Join(berr, lerr); err != nil {
			// The others will see a Fail instead of a Leave: nothing to undo,
			// nothing for an operator to do. It happens at the end of every
			// run, when all the nodes leave at once and no one is left to
			// pass the gossip on: a debug line, not a warning.
			n.log.Debug("membership: leave not confirmed; the others will see a failure instead", "node", n.cfg.Name, "err", err)
		}
	}
	serr := n.list.Shutdown()
	n.events.close()
	if serr != nil {
		return fmt.Errorf("membership: close %s: %w", n.cfg.Name, serr)
	}
	return nil
}

// Kill stops the node without leaving, as a crash would: the others see a
// Fail event once they detect it. For tests and chaos drills.
func (n *Node) Kill() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	err := n.list.Shutdown()
	n.events.close()
	return err
}

func (n *Node) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// byePrefix starts the message a closing node sends each member.
const byePrefix = "craft-membership-bye\x00"

func byeMessage(name string) []byte { return []byte(byePrefix + name) }

func parseBye(b []byte) (string, bool) {
	s := string(b)
	if len(s) <= len(byePrefix) || s[:len(byePrefix)] != byePrefix {
		return "", false
	}
	return s[len(byePrefix):], true
}

// delegate gives memberlist the local node's metadata and takes the byes of
// leaving members; Craft sends no other messages over gossip.
type delegate Node

func (d *delegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.meta) > limit {
		return nil // Validate and UpdateMeta keep it under MetaMaxSize
	}
	return append([]byte(nil), d.meta...)
}

// NotifyMsg takes the bye of a member about to leave.
func (d *delegate) NotifyMsg(b []byte) {
	if name, ok := parseBye(b); ok {
		d.mu.Lock()
		d.leaving[name] = true
		d.mu.Unlock()
	}
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

// eventDelegate turns memberlist's callbacks into Events. memberlist calls it
// with its state lock held: it must not block, so events go to the queue.
type eventDelegate Node

func (e *eventDelegate) notify(kind EventKind, m *memberlist.Node) {
	if m.Name == e.cfg.Name {
		return
	}
	meta, bye, err := decodeMeta(m.Meta)
	e.mu.Lock()
	switch kind {
	case Join:
		delete(e.leaving, m.Name)
	case Update:
		if bye {
			e.leaving[m.Name] = true
			e.mu.Unlock()
			return
		}
	case Fail:
		// memberlist does not tell a leave from a death (Node.State is not
		// kept up to date): a member that said bye has left.
		if bye || e.leaving[m.Name] {
			kind = Leave
		}
		delete(e.leaving, m.Name)
	}
	e.mu.Unlock()
	e.events.push(Event{Kind: kind, ID: m.Name, Addr: m.Address(), Meta: meta, MetaErr: err})
}

func (e *eventDelegate) NotifyJoin(m *memberlist.Node)   { e.notify(Join, m) }
func (e *eventDelegate) NotifyUpdate(m *memberlist.Node) { e.notify(Update, m) }
func (e *eventDelegate) NotifyLeave(m *memberlist.Node)  { e.notify(Fail, m) }

// queue is an unbounded FIFO of events in front of a buffered channel: push
// never blocks memberlist, and no event is dropped.
type queue struct {
	out  chan Event
	mu   sync.Mutex
	cond *sync.Cond
	buf  []Event
	done bool
	quit chan struct{} // closed by close
	wg   sync.WaitGroup
}

func newQueue(capacity int) *queue {
	q := &queue{out: make(chan Event, capacity), quit: make(chan struct{})}
	q.cond = sync.NewCond(&q.mu)
	q.wg.Go(q.run)
	return q
}

func (q *queue) push(ev Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done {
		return
	}
	q.buf = append(q.buf, ev)
	q.cond.Signal()
}

// run moves events to out until close; events still queued then are
// delivered only if out has room, so close never waits on a reader.
func (q *queue) run() {
	defer close(q.out)
	for {
		q.mu.Lock()
		for len(q.buf) == 0 && !q.done {
			q.cond.Wait()
		}
		if q.done {
			for _, ev := range q.buf {
				select {
				case q.out <- ev:
				default:
				}
			}
			q.buf = nil
			q.mu.Unlock()
			return
		}
		ev := q.buf[0]
		q.buf = q.buf[1:]
		q.mu.Unlock()
		q.send(ev)
	}
}

// send blocks until out has room or the queue closes.
func (q *queue) send(ev Event) {
	select {
	case q.out <- ev:
	case <-q.quit:
	}
}

func (q *queue) close() {
	q.mu.Lock()
	if !q.done {
		q.done = true
		close(q.quit)
		q.cond.Signal()
	}
	q.mu.Unlock()
	q.wg.Wait()
}

// logWriter forwards memberlist's "[LEVEL] memberlist: ..." lines to slog.
// Once the node is closed, a gossip round still in flight may fail on the
// socket Close just shut ("use of closed network connection"): that is the
// shutdown, not an error, and goes out at debug level.
type logWriter struct {
	l      *slog.Logger
	closed func() bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	line := string(p)
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	level := slog.LevelInfo
	for _, l := range []struct {
		prefix string
		level  slog.Level
	}{{"[DEBUG] ", slog.LevelDebug}, {"[INFO] ", slog.LevelInfo}, {"[WARN] ", slog.LevelWarn}, {"[ERR] ", slog.LevelError}} {
		if len(line) >= len(l.prefix) && line[:len(l.prefix)] == l.prefix {
			level, line = l.level, line[len(l.prefix):]
			break
		}
	}
	if level > slog.LevelDebug && w.closed != nil && w.closed() && strings.Contains(line, "use of closed network connection") {
		level = slog.LevelDebug
	}
	w.l.Log(context.Background(), level, line)
	return len(p), nil
}
