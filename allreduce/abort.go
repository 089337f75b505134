package allreduce

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// This file holds how a failed operation is told around the ring: the abort
// message's payload, its forwarding, and the error a rank returns for it.

// failure is the first reason an operation failed.
type failure struct {
	culprit  int
	code     byte
	err      error
	nextGone bool // Send to the successor failed with ErrPeerLost: no abort to send
}

// Codes carried by an abort message, saying what happened to the culprit.
const (
	abortOther byte = iota
	abortLost
	abortCanceled
	abortFuture
	abortProtocol
	abortClosed
)

// maxAbortPayload bounds an abort message: culprit, code, reason.
const maxAbortPayload = 256

// failAbort turns an abort message from the predecessor into the failure.
func (o *Op) failAbort(h Header, p []byte) {
	culprit, code, reason := decodeAbort(p)
	if culprit < 0 || culprit >= o.n {
		culprit = int(h.From)
	}
	err := &abortError{cause: abortCause(code), reason: reason}
	o.fail(culprit, code, &PeerError{Rank: culprit, Addr: o.peers[culprit], Err: err})
}

// abortError is a failure reported by an abort message. It wraps
// ErrPeerAborted and the sentinel of what happened to the culprit.
type abortError struct {
	cause  error
	reason string // "rank R: what rank R saw"
}

func (e *abortError) Error() string { return "operation aborted by the ring: " + e.reason }

func (e *abortError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrPeerAborted}
	}
	return []error{ErrPeerAborted, e.cause}
}

func abortCause(code byte) error {
	switch code {
	case abortLost, abortClosed:
		return ErrPeerLost
	case abortFuture:
		return ErrFutureGeneration
	case abortProtocol:
		return ErrProtocol
	}
	return nil
}

// abortSender returns the sending of the abort that tells the successor the
// operation failed, unless Send to
// it already failed for want of it. (A successor blamed second-hand, or
// lost on the receiving side only, is told anyway: it may be alive behind a
// broken link, and must not wait for this rank at its next operation.)
func (o *Op) abortSender() func() {
	f := o.firstFailure()
	if f.nextGone {
		return func() {}
	}
	// The reason names the rank that saw the failure; forwarders pass it on.
	var reason string
	var ae *abortError
	var pe *PeerError
	switch {
	case errors.As(f.err, &ae):
		reason = ae.reason
	case errors.As(f.err, &pe) && pe.Rank == f.culprit:
		reason = fmt.Sprintf("rank %d: %v", o.rank, pe.Err) // the receiver names the culprit itself
	default:
		reason = fmt.Sprintf("rank %d: %v", o.rank, f.err)
	}
	p := encodeAbort(make([]byte, 0, maxAbortPayload), f.culprit, f.code, reason)
	h := Header{Kind: KindAbort, Run: o.run, Gen: o.tag.Gen, Step: o.tag.Step, From: uint32(o.rank)}
	t, next, timeout := o.r.t, o.next, o.r.cfg.AbortTimeout
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_ = t.Send(ctx, next, h, p) // best effort: the successor may be gone too
	}
}

// encodeAbort writes the abort payload: culprit rank (uint32 LE), code,
// reason (truncated).
func encodeAbort(dst []byte, culprit int, code byte, reason string) []byte {
	p := dst[:5]
	binary.LittleEndian.PutUint32(p, uint32(culprit))
	p[4] = code
	if len(reason) > maxAbortPayload-5 {
		reason = reason[:maxAbortPayload-5]
	}
	return append(p, reason...)
}

func decodeAbort(p []byte) (culprit int, code byte, reason string) {
	if len(p) < 5 {
		return -1, abortOther, "malformed abort"
	}
	return int(binary.LittleEndian.Uint32(p)), p[4], string(p[5:])
}
