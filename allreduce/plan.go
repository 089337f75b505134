package allreduce

// This file decides how an operation is cut into messages. Everything here is
// a pure function of (total, n, segment size) and of how the caller splits
// the buffer into buckets, so every rank computes the same schedule.
//
// The buffer of total elements is cut into blocks of blockSize elements
// (the last one shorter); block b starts its trip round the ring at rank
// b mod n, so rank c's "chunk" is the blocks c, c+n, c+2n, ... (the
// round-robin layout NCCL uses), and the number of blocks is a multiple of n
// whenever total allows, so every rank gets the same share. Element i is
// therefore always summed in the order of the ring starting at rank
// (i/blockSize) mod n, whatever the buckets: a bucketed operation gives the
// same bits as one AllReduce of the concatenation.
//
// Within a bucket, rank r sends in step k (0 <= k < 2(n-1)) the blocks of
// chunk (r-k) mod n that touch the bucket, one message per block (cut at the
// bucket's edges). Steps 0..n-2 are the reduce-scatter (the receiver adds),
// steps n-1..2n-3 the all-gather (the receiver copies). Message slot
// base + k*S + s (S = segments per step in the bucket) is the s-th block of
// that chunk; slots without a block are skipped by both ends. The message of
// slot j (k >= 1) forwards what arrived in slot j-S, which is what the sender
// waits for: that is the whole pipeline.

// blockSize returns the elements per block for an operation of total elements
// over n ranks with segments of at most segElems elements.
func blockSize(total, n, segElems int) int {
	if total <= 0 {
		return 1
	}
	per := n * segElems
	blocks := n * ((total + per - 1) / per)
	return (total + blocks - 1) / blocks
}

// bucket is one Submit of an operation.
type bucket struct {
	buf    []float32
	off    int   // offset of buf[0] in the concatenation of the buckets
	b0, b1 int   // first and last block touching the bucket; b1 < b0 if empty
	steps  int   // S: message slots per step
	base   int64 // slot of the bucket's first message
}

// newBucket describes buf at offset off; base is the first free slot.
func newBucket(buf []float32, off, block, n int, base int64) bucket {
	b := bucket{buf: buf, off: off, b0: 0, b1: -1, base: base}
	if len(buf) > 0 {
		b.b0 = off / block
		b.b1 = (off + len(buf) - 1) / block
		b.steps = (b.b1 - b.b0 + n) / n
	}
	return b
}

// slots returns how many message slots the bucket takes on one link.
func (b *bucket) slots(n int) int64 { return int64(2*(n-1)) * int64(b.steps) }

// segment returns the part of b.buf that holds the s-th block of chunk c, or
// ok=false if there is none.
func (b *bucket) segment(c, s, n, block int) (lo, hi int, ok bool) {
	first := b.b0 + ((c-b.b0)%n+n)%n
	blk := first + s*n
	if blk > b.b1 {
		return 0, 0, false
	}
	lo = max(blk*block, b.off) - b.off
	hi = min(blk*block+block, b.off+len(b.buf)) - b.off
	return lo, hi, true
}
