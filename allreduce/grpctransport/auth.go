package grpctransport

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	grpcpeer "google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// mdAuth is the metadata key carrying the sender's proof that it knows the
// run's key (Config.Secret) on every call.
const mdAuth = "craft-ring-auth"

// authValue is the proof made with secret: HMAC-SHA256(secret, label), in
// hex. It is the same on every call, as the coordinator's join token is.
func authValue(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("craft grpc ring v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// authorize checks the proof of the call on ctx; with no Secret it accepts
// every call.
func (t *Transport) authorize(ctx context.Context) error {
	if t.auth == "" {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(mdAuth); len(v) == 1 && hmac.Equal([]byte(v[0]), []byte(t.auth)) {
		return nil
	}
	t.unauthorized.Add(1)
	from := "unknown"
	if p, ok := grpcpeer.FromContext(ctx); ok && p.Addr != nil {
		from = p.Addr.String()
	}
	t.log.Warn("grpctransport: refused a ring call without the run's key (is cluster.join_token the same everywhere?)", "from", from)
	return status.Error(codes.Unauthenticated, "grpctransport: missing or wrong ring key (cluster.join_token differs)")
}

func (t *Transport) authUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := t.authorize(ctx); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (t *Transport) authStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := t.authorize(ss.Context()); err != nil {
		return err
	}
	return h(srv, ss)
}

// Unauthorized returns how many calls were refused for a missing or wrong
// key since New.
func (t *Transport) Unauthorized() int64 { return t.unauthorized.Load() }
