package membership

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// memNet is an in-memory network for memberlist, in the spirit of
// memberlist's MockNetwork, which these tests first used: its transports hand
// packets over unbuffered channels, so two nodes that answer each other's
// pings at the same moment block each other forever (their packet handlers
// both wait to send), and failure detection stops. It happened in 3 of 20
// -race runs. Here packets go into buffered queues and are dropped, as UDP
// would drop them, when the queue is full or the node is down; dialing a
// down node is refused.
type memNet struct {
	nodes map[string]*memTransport // by address and by name; made up front
}

// newMemNet makes the transports of the named nodes up front, so the map is
// only read while nodes run.
func newMemNet(names ...string) *memNet {
	n := &memNet{nodes: make(map[string]*memTransport)}
	for i, name := range names {
		t := &memTransport{
			net:     n,
			name:    name,
			addr:    fmt.Sprintf("127.0.0.1:%d", 10000+i),
			packets: make(chan *memberlist.Packet, 512),
			streams: make(chan net.Conn, 16),
			down:    make(chan struct{}),
		}
		n.nodes[t.addr] = t
		n.nodes[name] = t
	}
	return n
}

// start starts the node of cfg.Name on the network and closes it when the
// test ends.
func (n *memNet) start(t *testing.T, cfg Config) *Node {
	t.Helper()
	node := n.launch(t, cfg)
	t.Cleanup(func() { node.Close() })
	return node
}

// launch starts the node of cfg.Name on the network; closing it is the
// caller's business.
func (n *memNet) launch(t *testing.T, cfg Config) *Node {
	t.Helper()
	tr, ok := n.nodes[cfg.Name]
	if !ok {
		t.Fatalf("no transport for %s on the in-memory network", cfg.Name)
	}
	cfg.transport = tr
	node, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start(%s) = %v; want nil", cfg.Name, err)
	}
	return node
}

type memTransport struct {
	net     *memNet
	name    string
	addr    string
	packets chan *memberlist.Packet
	streams chan net.Conn
	down    chan struct{} // closed by Shutdown
	once    sync.Once
}

var _ memberlist.NodeAwareTransport = (*memTransport)(nil)

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

func (t *memTransport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	host, port, err := splitHostPort(t.addr)
	return net.ParseIP(host), port, err
}

func (t *memTransport) peer(a memberlist.Address) (*memTransport, error) {
	key := a.Name
	if key == "" {
		key = a.Addr
	}
	if p, ok := t.net.nodes[key]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("no route to %s", a)
}

func (t *memTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

func (t *memTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	p, err := t.peer(a)
	if err != nil {
		return time.Time{}, err
	}
	now := time.Now()
	select {
	case <-p.down: // dropped
	case p.packets <- &memberlist.Packet{Buf: append([]byte(nil), b...), From: memAddr(t.addr), Timestamp: now}:
	default: // queue full: dropped
	}
	return now, nil
}

func (t *memTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

func (t *memTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *memTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	p, err := t.peer(a)
	if err != nil {
		return nil, err
	}
	mine, theirs := net.Pipe()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.down:
	case p.streams <- theirs:
		select {
		case <-p.down: // went down meanwhile: nobody will serve theirs
			theirs.Close()
		default:
		}
		return mine, nil
	case <-timer.C:
	}
	mine.Close()
	theirs.Close()
	return nil, errors.New("connection refused")
}

func (t *memTransport) StreamCh() <-chan net.Conn { return t.streams }

// Shutdown takes the node off the network: packets to it are dropped, dials
// refused, and connections it had not yet accepted are closed.
func (t *memTransport) Shutdown() error {
	t.once.Do(func() { close(t.down) })
	for {
		select {
		case c := <-t.streams:
			c.Close()
		default:
			return nil
		}
	}
}
