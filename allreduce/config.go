package allreduce

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config configures a Ring. Start from DefaultConfig. Every rank of a run
// must use the same SegmentBytes and Wire: they decide how the buffer is cut
// into messages and so the order of summation (a rank with another value
// fails the operation with ErrProtocol).
type Config struct {
	// SegmentBytes bounds the payload of one message on the wire. A chunk of
	// the ring is cut into segments of at most this size, which are sent,
	// received and reduced in a pipeline. Larger segments cost fewer
	// messages; smaller ones fill the pipeline sooner. gRPC refuses messages
	// over 4 MiB by default.
	SegmentBytes int
	// Wire is the element format on the wire: WireFloat32 (exact), or
	// WireBFloat16 / WireFloat16 (half the bytes; see Wire for the error).
	Wire Wire
	// AbortTimeout bounds how long a failing rank tries to tell its ring
	// successor (a KindAbort message) before giving up.
	AbortTimeout time.Duration
	// Logger receives a warning for every failed operation; nil means
	// slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns 256 KiB float32 segments.
func DefaultConfig() Config {
	return Config{
		SegmentBytes: 256 << 10,
		Wire:         WireFloat32,
		AbortTimeout: 100 * time.Millisecond,
	}
}

// minSegmentBytes keeps a segment large enough for an abort message.
const minSegmentBytes = 64

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.SegmentBytes < minSegmentBytes:
		return fmt.Errorf("allreduce: Config.SegmentBytes = %d; want >= %d", c.SegmentBytes, minSegmentBytes)
	case c.SegmentBytes > 1<<30:
		return fmt.Errorf("allreduce: Config.SegmentBytes = %d; want <= 1 GiB", c.SegmentBytes)
	case c.Wire > WireFloat16:
		return fmt.Errorf("allreduce: Config.Wire = %d; want WireFloat32, WireBFloat16 or WireFloat16", c.Wire)
	case c.AbortTimeout <= 0:
		return fmt.Errorf("allreduce: Config.AbortTimeout = %v; want > 0", c.AbortTimeout)
	}
	return nil
}

// Wire is the format of the elements in a message's payload. The ring always
// sums in float32: a 16-bit wire format rounds each partial sum (round to
// nearest, ties to even) when it is sent, and the sum's final value once, at
// the rank that completes it, so every rank still ends with the same bits.
//
// Error bound: with n ranks each element is rounded at most n times, so its
// result differs from the exact sum of the inputs by at most
// n·(u·Σ|x_i| + η) to first order, with u the unit roundoff of the format
// (float32 2^-24, bfloat16 2^-8, float16 2^-11) and η half its smallest
// subnormal (float16 2^-25; negligible for the others). float16 also
// overflows to ±Inf above 65504 (scale gradients first, e.g. by 1/ranks);
// bfloat16 has float32's range.
type Wire uint8

const (
	// WireFloat32 sends float32 little-endian: exact.
	WireFloat32 Wire = iota
	// WireBFloat16 sends the top 16 bits of float32 (8-bit significand),
	// rounded to nearest even.
	WireBFloat16
	// WireFloat16 sends IEEE 754 binary16 (11-bit significand, max 65504),
	// rounded to nearest even.
	WireFloat16
)

// ErrUnknownWire is returned by ParseWire.
var ErrUnknownWire = errors.New("allreduce: unknown wire format")

// ParseWire maps "float32", "bfloat16" and "float16" (conf's
// allreduce.wire) to a Wire; "" means float32.
func ParseWire(s string) (Wire, error) {
	switch s {
	case "", "float32":
		return WireFloat32, nil
	case "bfloat16":
		return WireBFloat16, nil
	case "float16":
		return WireFloat16, nil
	}
	return 0, fmt.Errorf("%w %q (want float32, bfloat16 or float16)", ErrUnknownWire, s)
}

// String returns the name ParseWire accepts.
func (w Wire) String() string {
	switch w {
	case WireFloat32:
		return "float32"
	case WireBFloat16:
		return "bfloat16"
	case WireFloat16:
		return "float16"
	}
	return fmt.Sprintf("Wire(%d)", uint8(w))
}

// Size returns the bytes per element on the wire.
func (w Wire) Size() int {
	if w == WireFloat32 {
		return 4
	}
	return 2
}
