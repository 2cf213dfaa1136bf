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
	"fmt"
	"hash"
	"hash/crc32"
	"os"
	"unsafe"
)

// ErrDamaged says a record is not one this format and version wrote
// whole.
var ErrDamaged = errors.New("damaged record")

// Writer builds a record: in memory, after room for the header that Seal
// fills in (the zero value), or streamed to a file (NewFileWriter), so
// that a record of tens of megabytes is neither held whole nor copied to
// be sealed.
type Writer struct {
	b []byte
	// Streaming: the body goes to file in pieces, the checksum as it goes.
	file  *os.File
	magic string
	crc   hash.Hash32
	err   error
}

// headerRoom is the room kept for the magic line and the checksum.
const headerRoom = 64

// streamPiece is how much of the body a streaming writer holds at most
// before writing it out.
const streamPiece = 256 << 10

// NewFileWriter starts a record in f, which it writes from its start; the
// record is whole once Close returns nil.
func NewFileWriter(f *os.File, magic string) *Writer {
	w := &Writer{file: f, magic: magic, crc: crc32.NewIEEE(), b: make([]byte, 0, streamPiece+4096)}
	_, w.err = f.Write(append([]byte(magic), 0, 0, 0, 0)) // the checksum comes last
	return w
}

// body returns the buffer, with its header room once anything is written
// (in memory).
func (w *Writer) body() []byte {
	if w.b == nil {
		w.b = make([]byte, headerRoom, headerRoom+256)
	}
	return w.b
}

// spill writes a streaming writer's buffer out once it holds a piece.
func (w *Writer) spill(force bool) {
	if w.file == nil || (len(w.b) < streamPiece && !force) {
		return
	}
	w.write(w.b)
	w.b = w.b[:0]
}

// write sends b to a streaming writer's file, through the checksum.
func (w *Writer) write(b []byte) {
	if w.err == nil {
		w.crc.Write(b)
		_, w.err = w.file.Write(b)
	}
}

// Int appends a signed varint.
func (w *Writer) Int(v int64) {
	w.b = binary.AppendVarint(w.body(), v)
	w.spill(false)
}

// String appends a length-prefixed string.
func (w *Writer) String(s string) {
	w.b = binary.AppendUvarint(w.body(), uint64(len(s)))
	w.b = append(w.b, s...)
	w.spill(false)
}

// Raw appends bytes another record encoded (a Reader's Since): a writer
// that changes a few items of a large record copies the others unchanged
// rather than decoding and encoding them again.
func (w *Writer) Raw(b []byte) {
	if w.file != nil && len(b) >= streamPiece {
		// Straight to the file, not through the buffer.
		w.spill(true)
		w.write(b)
		return
	}
	w.b = append(w.body(), b...)
	w.spill(false)
}

// Seal returns the record: magic, the CRC-32 of the body, the body. The
// writer is done with: the record shares its buffer.
func (w *Writer) Seal(magic string) []byte {
	if w.file != nil {
		panic("binrec: Seal of a streaming writer")
	}
	if len(magic)+4 > headerRoom {
		panic("binrec: magic line too long")
	}
	b := w.body()
	start := headerRoom - len(magic) - 4
	copy(b[start:], magic)
	binary.BigEndian.PutUint32(b[headerRoom-4:], crc32.ChecksumIEEE(b[headerRoom:]))
	return b[start:]
}

// Close ends a streaming writer's record: the rest of the body, then the
// checksum in its place. It neither syncs nor closes the file.
func (w *Writer) Close() error {
	if w.file == nil {
		panic("binrec: Close of an in-memory writer (Seal it)")
	}
	w.spill(true)
	if w.err != nil {
		return fmt.Errorf("write %s: %w", w.file.Name(), w.err)
	}
	sum := binary.BigEndian.AppendUint32(nil, w.crc.Sum32())
	if _, err := w.file.WriteAt(sum, int64(len(w.magic))); err != nil {
		return fmt.Errorf("write %s: %w", w.file.Name(), err)
	}
	return nil
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
