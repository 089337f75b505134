// Package boltstore is the coordinator.Store on a bbolt file: the
// checkpoints of a run, written by the coordinator and read back by
// `craft train --resume`, `craft eval` and `craft generate`.
//
// Layout: a bucket "store" holds the format id; a bucket "checkpoints" holds
// one nested bucket per checkpoint, keyed by its step in 8 big-endian bytes so
// that cursor order is step order. A step's bucket holds "meta" (the step,
// the config hash and each blob's size and SHA-256, sealed by a CRC-32C) and
// one key per non-empty blob (config, tokenizer, params, optim, trainer).
//
// Save writes a checkpoint and prunes to the last Config.Keep in one
// db.Update transaction, so a process killed at any moment leaves every
// previously committed checkpoint readable. Reads run in db.View and copy
// values out of bolt's memory map before the transaction ends; every blob is
// verified against its SHA-256, and a mismatch is an error wrapping
// coordinator.ErrCorrupt that names the step and the blob.
//
// Caveats: one process at a time may open a file for writing (bolt's flock);
// another gets ErrLocked after Config.LockTimeout. A blob is at most 2 GiB
// (bolt's value limit) and a checkpoint must fit in memory twice while it is
// written. Bolt reuses freed pages but never shrinks the file.
//
//	s, err := boltstore.Open("runs/demo/craft.db", boltstore.DefaultConfig())
//	if err != nil { ... }
//	defer s.Close()
//	err = s.Save(ctx, &coordinator.Checkpoint{Step: 100, Params: params})
//	latest, err := s.Latest(ctx)
package boltstore
