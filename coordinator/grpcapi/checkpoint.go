package grpcapi

import (
	"github.com/craftml/craft/coordinator"
	"github.com/craftml/craft/internal/craftpb"
)

// MaxBlobBytes bounds one checkpoint blob a peer may announce: a checkpoint
// is assembled in memory, so a lying header must not make it allocate
// without end.
const MaxBlobBytes = 4 << 30

// sendCheckpoint streams c: a header with every blob's size, then each blob
// in chunks of at most ChunkBytes.
func sendCheckpoint(c *coordinator.Checkpoint, send func(*craftpb.CheckpointChunk) error) error {
	h := &craftpb.CheckpointHeader{Step: c.Step, ConfigHash: c.ConfigHash, Sizes: map[string]int64{}}
	for _, b := range c.Blobs() {
		h.Sizes[b.Name] = int64(len(b.Data))
	}
	if err := send(&craftpb.CheckpointChunk{Header: h}); err != nil {
		return err
	}
	for _, b := range c.Blobs() {
		for off := 0; off < len(b.Data); off += ChunkBytes {
			end := min(off+ChunkBytes, len(b.Data))
			if err := send(&craftpb.CheckpointChunk{Blob: b.Name, Data: b.Data[off:end]}); err != nil {
				return err
			}
		}
	}
	return nil
}

// assembler rebuilds a checkpoint from the messages sendCheckpoint wrote,
// refusing anything else with an error that names the offending field.
type assembler struct {
	c     *coordinator.Checkpoint
	sizes map[string]int64
	got   map[string][]byte
}

func (a *assembler) add(m *craftpb.CheckpointChunk) error {
	if h := m.GetHeader(); h != nil {
		if a.c != nil {
			return badRequest("header: a second header in one checkpoint")
		}
		if h.GetStep() == 0 {
			return badRequest("header.step is 0; checkpoints are of steps >= 1")
		}
		known := map[string]bool{}
		for _, b := range (&coordinator.Checkpoint{}).Blobs() {
			known[b.Name] = true
		}
		var total int64
		for name, n := range h.GetSizes() {
			if !known[name] {
				return badRequest("header.sizes: unknown blob %q", name)
			}
			if n < 0 || n > MaxBlobBytes {
				return badRequest("header.sizes[%q] = %d; want 0 to %d", name, n, int64(MaxBlobBytes))
			}
			total += n
		}
		if total > MaxBlobBytes {
			return badRequest("header.sizes add up to %d bytes; want at most %d", total, int64(MaxBlobBytes))
		}
		a.c = &coordinator.Checkpoint{Step: h.GetStep(), ConfigHash: h.GetConfigHash()}
		a.sizes = h.GetSizes()
		a.got = map[string][]byte{}
		if len(m.GetData()) > 0 || m.GetBlob() != "" {
			return badRequest("the header message carries blob data")
		}
		return nil
	}
	if a.c == nil {
		return badRequest("blob %q before the header", m.GetBlob())
	}
	want, ok := a.sizes[m.GetBlob()]
	if !ok {
		return badRequest("blob %q is not in header.sizes", m.GetBlob())
	}
	buf := a.got[m.GetBlob()]
	if int64(len(buf)+len(m.GetData())) > want {
		return badRequest("blob %q: more than the %d bytes header.sizes announced", m.GetBlob(), want)
	}
	if buf == nil {
		buf = make([]byte, 0, want)
	}
	a.got[m.GetBlob()] = append(buf, m.GetData()...)
	return nil
}

func (a *assembler) checkpoint() (*coordinator.Checkpoint, error) {
	if a.c == nil {
		return nil, badRequest("no header: empty checkpoint stream")
	}
	for name, want := range a.sizes {
		if got := int64(len(a.got[name])); got != want {
			return nil, badRequest("blob %q: %d bytes; header.sizes announced %d", name, got, want)
		}
		if want > 0 {
			a.c.SetBlob(name, a.got[name])
		}
	}
	return a.c, nil
}
