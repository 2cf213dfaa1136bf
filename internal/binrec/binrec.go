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
	"slices"
	"unsafe"
)

// ErrDamaged says a record is not one this format and version wrote
// whole.
var ErrDamaged = errors.New("damaged record")

// Writer builds a record's body, after room for the header that Seal
// fills in: a record of tens of megabytes is not copied to be sealed.
type Writer struct{ b []byte }

// headerRoom is the room kept for the magic line and the checksum.
const headerRoom = 64

// body returns the buffer, with its header room once anything is written.
func (w *Writer) body() []byte {
	if w.b == nil {
		w.b = make([]byte, headerRoom, headerRoom+256)
	}
	return w.b
}

// Int appends a signed varint.
func (w *Writer) Int(v int64) { w.b = binary.AppendVarint(w.body(), v) }

// String appends a length-prefixed string.
func (w *Writer) String(s string) {
	w.b = binary.AppendUvarint(w.body(), uint64(len(s)))
	w.b = append(w.b, s...)
}

// Grow makes room for n more bytes, for a writer that knows the size of
// what it writes roughly (a large record grown by appending alone is
// copied a dozen times).
func (w *Writer) Grow(n int) { w.b = slices.Grow(w.body(), n) }

// Raw appends bytes another record encoded (a Reader's Since): a writer
// that changes a few items of a large record copies the others unchanged
// rather than decoding and encoding them again.
func (w *Writer) Raw(b []byte) { w.b = append(w.body(), b...) }

// Seal returns the record: magic, the CRC-32 of the body, the body. The
// writer is done with: the record shares its buffer.
func (w *Writer) Seal(magic string) []byte {
	if len(magic)+4 > headerRoom {
		panic("binrec: magic line too long")
	}
	b := w.body()
	start := headerRoom - len(magic) - 4
	copy(b[start:], magic)
	binary.BigEndian.PutUint32(b[headerRoom-4:], crc32.ChecksumIEEE(b[headerRoom:]))
	return b[start:]
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

// View reads a length-prefixed string without copying it: the string
// shares the record's data, which must never be written to again (a file
// read for decoding, say). Decoding a hundred thousand items then makes
// no garbage per field.
func (r *Reader) View() string {
	b := r.Bytes()
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Bytes reads a length-prefixed string without copying it: the slice is
// the record's own, valid while its data is. For looking at an item's
// fields without keeping them.
func (r *Reader) Bytes() []byte {
	if r.err != nil {
		return nil
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > uint64(len(r.b)-n) {
		r.err = ErrDamaged
		return nil
	}
	b := r.b[n : n+int(v) : n+int(v)]
	r.b = r.b[n+int(v):]
	return b
}

// Mark is the reader's position, for Since.
type Mark []byte

// Mark returns the position before the next item.
func (r *Reader) Mark() Mark { return r.b }

// Since returns the encoded bytes read since m, to copy with Writer.Raw.
func (r *Reader) Since(m Mark) []byte { return m[:len(m)-len(r.b)] }

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
