package samehost

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// squatEnv, when set, makes the test binary a process that binds the local
// socket named by its value and waits: another user squatting on a name.
const squatEnv = "SAMEHOST_SQUAT"

func TestMain(m *testing.M) {
	if name := os.Getenv(squatEnv); name != "" {
		ln, err := net.Listen("unix", name)
		if err != nil {
			fmt.Println("listen:", err)
			os.Exit(1)
		}
		fmt.Println("listening")
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(1)
			}
			defer c.Close()
		}
	}
	os.Exit(m.Run())
}

func TestIsLocal(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7071": true,
		"[::1]:7071":     true,
		"localhost:7071": false, // names are not resolved
		"192.0.2.1:7071": false, // TEST-NET-1: never an interface here
		"garbage":        false,
	} {
		if got := IsLocal(addr); got != want {
			t.Errorf("IsLocal(%q) = %v; want %v", addr, got, want)
		}
	}
}

// tcpPeer listens on TCP loopback and returns its address.
func tcpPeer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go closeEvery(ln)
	return ln.Addr().String()
}

// closeEvery accepts connections on ln and closes them, until ln closes.
func closeEvery(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

func dialKind(t *testing.T, local bool, addr string) string {
	t.Helper()
	var d net.Dialer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, &d, local, "samehost-test", addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().Network()
}

// TestDial: a peer with a local socket is reached over it; without one, or
// with local off, over TCP.
func TestDial(t *testing.T) {
	if !Supported() {
		t.Skip("no abstract Unix sockets on this OS: Dial always uses TCP")
	}
	addr := tcpPeer(t)
	if got := dialKind(t, true, addr); got != "tcp" {
		t.Errorf("no local socket: dialled over %s; want tcp", got)
	}
	ln, err := Listen("samehost-test", addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go closeEvery(ln)
	if got := dialKind(t, true, addr); got != "unix" {
		t.Errorf("with a local socket: dialled over %s; want unix", got)
	}
	if got := dialKind(t, false, addr); got != "tcp" {
		t.Errorf("local off: dialled over %s; want tcp", got)
	}
}

// TestDialRefusesAnotherUsersSocket: a process of another user that binds
// the peer's local socket name first does not get its connections: Dial
// goes over TCP to the real peer.
func TestDialRefusesAnotherUsersSocket(t *testing.T) {
	if !Supported() {
		t.Skip("no abstract Unix sockets on this OS")
	}
	if os.Getuid() != 0 {
		t.Skip("starting a process as another user needs root; this test runs as uid", os.Getuid())
	}
	addr := tcpPeer(t)
	cmd := exec.Command(copyForAll(t, os.Args[0]), "-test.run=^$")
	cmd.Env = append(os.Environ(), squatEnv+"="+Name("samehost-test", addr))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.Contains(string(buf[:n]), "listening") {
		t.Fatalf("squatter: %q", buf[:n])
	}
	// The name is taken: this user cannot listen on it.
	if ln, err := Listen("samehost-test", addr, 0); err == nil {
		ln.Close()
		t.Fatal("Listen on a name another process holds succeeded")
	}
	if got := dialKind(t, true, addr); got != "tcp" {
		t.Errorf("another user's socket: dialled over %s; want tcp", got)
	}
}

// copyForAll copies the executable at path where any user may run it (the
// go tool builds tests in a directory only its user may enter).
func copyForAll(t *testing.T, path string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "samehost")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "squat")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// TestBuffers: Listen and Dial give both ends of a local connection the
// buffers they are asked for (the kernel doubles the figure it is given).
func TestBuffers(t *testing.T) {
	if !Supported() {
		t.Skip("no abstract Unix sockets on this OS")
	}
	const want = 1 << 20
	addr := tcpPeer(t)
	ln, err := Listen("samehost-test", addr, want)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	var d net.Dialer
	c, err := Dial(context.Background(), &d, true, "samehost-test", addr, want)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer s.Close()
	for name, conn := range map[string]net.Conn{"dialled": c, "accepted": s} {
		for _, opt := range []int{syscall.SO_SNDBUF, syscall.SO_RCVBUF} {
			raw, err := conn.(*net.UnixConn).SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var got int
			raw.Control(func(fd uintptr) { got, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, opt) })
			if got < want {
				t.Errorf("%s end: socket option %d = %d; want >= %d", name, opt, got, want)
			}
		}
	}
}
