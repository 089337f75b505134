package tcptransport

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The handshake opens every connection. The dialer (client) sends a hello
// naming the connection's role, its session and its own advertised address
// with a fresh nonce; the acceptor (server) answers with its own nonce, its
// advertised address and a proof; the client checks the proof and the
// address it meant to reach, and sends its own proof; the server checks it
// and accepts with one byte. A proof is HMAC-SHA256 keyed by the secret
// over a label (one per side, so neither proof can be replayed as the
// other) and the whole transcript (both nonces, the role, the session and
// both addresses), compared in constant time. Both nonces are fresh random
// bytes, so a recorded handshake proves nothing later.
//
//	client → server  "CTH1" role:1 addrlen:1 session:8 nonce:32 addr
//	server → client  "CTH1" addrlen:1 nonce:32 proof:32 addr
//	client → server  proof:32
//	server → client  'K'
const (
	handshakeMagic = "CTH1"
	nonceLen       = 32
	proofLen       = sha256.Size
	maxAddrLen     = 255
	acceptByte     = 'K'
)

// Connection roles: every peer sends over one data and one control
// connection.
const (
	roleData    byte = 1
	roleControl byte = 2
)

// ErrHandshake: a connection's handshake failed (wrong secret, garbage,
// an unexpected endpoint, or a timeout); the connection is closed.
var ErrHandshake = errors.New("tcptransport: handshake failed")

// hello is what a client says about itself.
type hello struct {
	role    byte
	session uint64 // one per outbound peer instance: groups its two connections
	addr    string // the client's advertised address
}

type transcript struct {
	hello
	server         string
	nonceC, nonceS [nonceLen]byte
}

func (t *transcript) proof(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	var b [10]byte
	b[0] = t.role
	binary.LittleEndian.PutUint64(b[1:], t.session)
	b[9] = byte(len(t.addr))
	m.Write(b[:])
	m.Write([]byte(t.addr))
	m.Write([]byte{byte(len(t.server))})
	m.Write([]byte(t.server))
	m.Write(t.nonceC[:])
	m.Write(t.nonceS[:])
	return m.Sum(nil)
}

const (
	labelServer = "craft tcptransport v1 server proof"
	labelClient = "craft tcptransport v1 client proof"
)

// clientHandshake runs the dialer's side over rw: it proves that it knows
// secret, and checks that the endpoint does too and is the one at want.
// The caller sets the deadline.
func clientHandshake(rw io.ReadWriter, secret []byte, h hello, want string) error {
	if len(h.addr) > maxAddrLen {
		return fmt.Errorf("%w: own address %q longer than %d bytes", ErrHandshake, h.addr, maxAddrLen)
	}
	t := transcript{hello: h}
	if _, err := rand.Read(t.nonceC[:]); err != nil {
		return fmt.Errorf("%w: nonce: %v", ErrHandshake, err)
	}
	msg := make([]byte, 0, 4+2+8+nonceLen+len(h.addr))
	msg = append(msg, handshakeMagic...)
	msg = append(msg, h.role, byte(len(h.addr)))
	msg = binary.LittleEndian.AppendUint64(msg, h.session)
	msg = append(msg, t.nonceC[:]...)
	msg = append(msg, h.addr...)
	if _, err := rw.Write(msg); err != nil {
		return fmt.Errorf("%w: send hello: %w", ErrHandshake, err)
	}
	var head [4 + 1 + nonceLen + proofLen]byte
	if _, err := io.ReadFull(rw, head[:]); err != nil {
		return fmt.Errorf("%w: read challenge: %w", ErrHandshake, err)
	}
	if string(head[:4]) != handshakeMagic {
		return fmt.Errorf("%w: challenge magic %q; want %q", ErrHandshake, head[:4], handshakeMagic)
	}
	addr := make([]byte, head[4])
	if _, err := io.ReadFull(rw, addr); err != nil {
		return fmt.Errorf("%w: read challenge: %w", ErrHandshake, err)
	}
	copy(t.nonceS[:], head[5:])
	t.server = string(addr)
	if !hmac.Equal(head[5+nonceLen:], t.proof(secret, labelServer)) {
		return fmt.Errorf("%w: the endpoint's proof is wrong (another secret?)", ErrHandshake)
	}
	if t.server != want {
		return fmt.Errorf("%w: dialed %q, the endpoint is %q", ErrHandshake, want, t.server)
	}
	if _, err := rw.Write(t.proof(secret, labelClient)); err != nil {
		return fmt.Errorf("%w: send proof: %w", ErrHandshake, err)
	}
	var ok [1]byte
	if _, err := io.ReadFull(rw, ok[:]); err != nil || ok[0] != acceptByte {
		return fmt.Errorf("%w: the endpoint refused our proof (another secret?)", ErrHandshake)
	}
	return nil
}

// serverHandshake runs the acceptor's side over rw, as endpoint self: it
// returns the client's hello once the client has proved it knows secret.
// The caller sets the deadline.
func serverHandshake(rw io.ReadWriter, secret []byte, self string) (hello, error) {
	if len(self) > maxAddrLen {
		return hello{}, fmt.Errorf("%w: own address %q longer than %d bytes", ErrHandshake, self, maxAddrLen)
	}
	var head [4 + 2 + 8 + nonceLen]byte
	if _, err := io.ReadFull(rw, head[:]); err != nil {
		return hello{}, fmt.Errorf("%w: read hello: %w", ErrHandshake, err)
	}
	if string(head[:4]) != handshakeMagic {
		return hello{}, fmt.Errorf("%w: hello magic %q; want %q", ErrHandshake, head[:4], handshakeMagic)
	}
	t := transcript{server: self}
	t.role = head[4]
	if t.role != roleData && t.role != roleControl {
		return hello{}, fmt.Errorf("%w: role = %d; want %d or %d", ErrHandshake, t.role, roleData, roleControl)
	}
	t.session = binary.LittleEndian.Uint64(head[6:])
	copy(t.nonceC[:], head[14:])
	addr := make([]byte, head[5])
	if _, err := io.ReadFull(rw, addr); err != nil {
		return hello{}, fmt.Errorf("%w: read hello: %w", ErrHandshake, err)
	}
	if len(addr) == 0 {
		return hello{}, fmt.Errorf("%w: empty address", ErrHandshake)
	}
	t.addr = string(addr)
	if _, err := rand.Read(t.nonceS[:]); err != nil {
		return hello{}, fmt.Errorf("%w: nonce: %v", ErrHandshake, err)
	}
	msg := make([]byte, 0, 4+1+nonceLen+proofLen+len(self))
	msg = append(msg, handshakeMagic...)
	msg = append(msg, byte(len(self)))
	msg = append(msg, t.nonceS[:]...)
	msg = append(msg, t.proof(secret, labelServer)...)
	msg = append(msg, self...)
	if _, err := rw.Write(msg); err != nil {
		return hello{}, fmt.Errorf("%w: send challenge: %w", ErrHandshake, err)
	}
	var proof [proofLen]byte
	if _, err := io.ReadFull(rw, proof[:]); err != nil {
		return hello{}, fmt.Errorf("%w: read proof from %q: %w", ErrHandshake, t.addr, err)
	}
	if !hmac.Equal(proof[:], t.proof(secret, labelClient)) {
		return hello{}, fmt.Errorf("%w: wrong proof from %q (another secret?)", ErrHandshake, t.addr)
	}
	if _, err := rw.Write([]byte{acceptByte}); err != nil {
		return hello{}, fmt.Errorf("%w: accept %q: %w", ErrHandshake, t.addr, err)
	}
	return t.hello, nil
}
