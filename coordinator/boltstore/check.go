package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"time"

	"github.com/craftml/craft/coordinator"
)

// Bolt's on-disk format (go.etcd.io/bbolt/internal/common), as far as
// checkFile needs it: a page starts with a 16-byte header (id u64, flags u16,
// count u16, overflow u32), little-endian on the machines Craft runs on.
const (
	pageHeaderSize = 16
	metaSize       = 64 // magic..txid, then checksum
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	branchFlag     = 0x01
	leafFlag       = 0x02
	freelistFlag   = 0x10
	noFreelist     = ^uint64(0)
)

type boltMeta struct {
	pageSize       uint64
	root, freelist uint64
	pgid, txid     uint64
	valid          bool
}

// errLockTimeout: another process kept the file locked for writing.
var errLockTimeout = errors.New("lock timeout")

// checkFile looks at the meta pages bolt will trust and at the pages they
// point to, before bolt maps the file: bolt reads them through its memory
// map without bounds checks, so a truncated or damaged file would make it
// fault. It reads under a shared lock, waiting up to lockTimeout for a
// writer to close the file (errLockTimeout), so that it never reads a
// commit half-written. A new or empty file passes.
func checkFile(path string, lockTimeout time.Duration) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close() // releases the lock
	if err := lockShared(f, lockTimeout); err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := uint64(fi.Size())
	if size == 0 {
		return nil
	}
	readMeta := func(off uint64) boltMeta {
		var buf [pageHeaderSize + metaSize]byte
		if _, err := f.ReadAt(buf[:], int64(off)); err != nil {
			return boltMeta{}
		}
		m := buf[pageHeaderSize:]
		le := binary.LittleEndian
		h := fnv.New64a()
		h.Write(m[:metaSize-8])
		if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion || h.Sum64() != le.Uint64(m[56:]) {
			return boltMeta{}
		}
		return boltMeta{pageSize: uint64(le.Uint32(m[8:])), root: le.Uint64(m[16:]),
			freelist: le.Uint64(m[32:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:]), valid: true}
	}
	m0 := readMeta(0)
	pageSize := m0.pageSize
	if !m0.valid { // bolt then looks for the second meta page at every power of two
		for ps := uint64(1024); ps <= 1<<24 && ps < size; ps <<= 1 {
			if m := readMeta(ps); m.valid {
				pageSize = m.pageSize
				break
			}
		}
	}
	if pageSize < 1024 || pageSize > 1<<24 || pageSize&(pageSize-1) != 0 {
		return nil // bolt rejects the file itself with ErrInvalid
	}
	m1 := readMeta(pageSize)
	m := m0
	if m1.txid > m0.txid && m1.valid || !m0.valid {
		m = m1
	}
	if !m.valid {
		return nil // ErrInvalid from bolt
	}
	if m.pageSize != pageSize {
		return fmt.Errorf("meta page size %d, file laid out in %d", m.pageSize, pageSize)
	}
	if m.pgid > size/pageSize {
		return fmt.Errorf("file is %d bytes, its pages need %d (truncated)", size, m.pgid*pageSize)
	}
	page := func(id uint64, what string, flags ...uint16) (count uint16, overflow uint64, err error) {
		if id < 2 || id >= m.pgid {
			return 0, 0, fmt.Errorf("%s page %d outside [2, %d)", what, id, m.pgid)
		}
		var hdr [pageHeaderSize]byte
		if _, err := f.ReadAt(hdr[:], int64(id*pageSize)); err != nil && err != io.EOF {
			return 0, 0, err
		}
		le := binary.LittleEndian
		flag, count, overflow := le.Uint16(hdr[8:]), le.Uint16(hdr[10:]), uint64(le.Uint32(hdr[12:]))
		ok := false
		for _, want := range flags {
			ok = ok || flag == want
		}
		if !ok {
			return 0, 0, fmt.Errorf("%s page %d has flags %#x", what, id, flag)
		}
		if id+overflow >= m.pgid {
			return 0, 0, fmt.Errorf("%s page %d overflows %d pages past the end", what, id, overflow)
		}
		return count, overflow, nil
	}
	if _, _, err := page(m.root, "root", branchFlag, leafFlag); err != nil {
		return err
	}
	if m.freelist != noFreelist {
		count, overflow, err := page(m.freelist, "freelist", freelistFlag)
		if err != nil {
			return err
		}
		n := uint64(count)
		if count == 0xFFFF { // the real count is the first element
			var b [8]byte
			if _, err := f.ReadAt(b[:], int64(m.freelist*pageSize+pageHeaderSize)); err != nil {
				return err
			}
			n = binary.LittleEndian.Uint64(b[:]) + 1
		}
		if n > (overflow+1)*pageSize/8 {
			return fmt.Errorf("freelist of %d ids does not fit its %d pages", n, overflow+1)
		}
	}
	return nil
}

// checkErr wraps an error of checkFile for Open.
func checkErr(path string, err error) error {
	return fmt.Errorf("open %s: %w: %w", path, coordinator.ErrCorrupt, err)
}
