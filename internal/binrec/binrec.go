// Package binrec is the compact binary record format of pacrepo's own
// files that every command reads and writes (the verification cache, the
// databases' index): a magic line naming the format and its version, a
// CRC-32 of the rest, then varints and length-prefixed strings. Decoding
// is strict: a wrong magic, a checksum that does not match, a value cut
// short or bytes left over make the whole record unusable, and the
// caller falls back to the work the record would have spared.
package binrec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// ErrDamaged says a record is not one this format and version wrote
// whole.
var ErrDamaged = errors.New("damaged record")

// Writer builds a record's body.
type Writer struct{ b []byte }

// Int appends a signed varint.
func (w *Writer) Int(v int64) { w.b = binary.AppendVarint(w.b, v) }

// String appends a length-prefixed string.
func (w *Writer) String(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}

// Seal returns the record: magic, the CRC-32 of the body, the body.
func (w *Writer) Seal(magic string) []byte {
	out := make([]byte, 0, len(magic)+4+len(w.b))
	out = append(out, magic...)
	out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(w.b))
	return append(out, w.b...)
}

// Reader reads a record's body. The first failure sticks: later reads
// return zero values and Err reports it.
type Reader struct {
	b   []byte
	err error
}

// Open checks data's magic and checksum and returns a reader of its body.
func Open(data []byte, magic string) (*Reader, error) {
	rest, ok := bytes.CutPrefix(data, []byte(magic))
	if !ok || len(rest) < 4 {
		return nil, ErrDamaged
	}
	body := rest[4:]
	if crc32.ChecksumIEEE(body) != binary.BigEndian.Uint32(rest) {
		return nil, ErrDamaged
	}
	return &Reader{b: body}, nil
}

// Int reads a signed varint.
func (r *Reader) Int() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = ErrDamaged
		return 0
	}
	r.b = r.b[n:]
	return v
}

// String reads a length-prefixed string.
func (r *Reader) String() string {
	if r.err != nil {
		return ""
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > uint64(len(r.b)-n) {
		r.err = ErrDamaged
		return ""
	}
	s := string(r.b[n : n+int(v)])
	r.b = r.b[n+int(v):]
	return s
}

// Count reads a number of items that take at least minSize bytes each: a
// count beyond what the bytes left can hold is damage, not a reason to
// allocate.
func (r *Reader) Count(minSize int) int {
	v := r.Int()
	if r.err == nil && (v < 0 || v > int64(len(r.b)/minSize)) {
		r.err = ErrDamaged
		return 0
	}
	return int(v)
}

// Err reports the first failure, or bytes left unread at the end.
func (r *Reader) Err() error {
	if r.err == nil && len(r.b) != 0 {
		return ErrDamaged
	}
	return r.err
}
