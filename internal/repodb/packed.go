package repodb

import (
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// A reset holds the file list of every package of the repository until the
// databases are written: at 100,000 packages, millions of paths, which as
// strings cost several hundred megabytes. Compressed (paths share long
// prefixes), they cost a tenth of that. PackFiles trades a little CPU for
// that memory; writing unpacks one entry at a time.

// fileListCodec is one encoder and one decoder for every packed list: their
// EncodeAll and DecodeAll may be called concurrently.
var fileListCodec = sync.OnceValues(func() (*fileListCoders, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false),
		zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))
	if err != nil {
		return nil, err
	}
	return &fileListCoders{enc, dec}, nil
})

type fileListCoders struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

// PackFiles compresses e.Files in memory; FileList gives it back. It does
// nothing to an entry without a file list, or when compression is not
// available, or to a list the writer would refuse (an empty path, or one
// with a newline, which joining would hide).
func (e *Entry) PackFiles() {
	c, err := fileListCodec()
	if e.Files == nil || err != nil {
		return
	}
	for _, f := range e.Files {
		if f == "" || strings.Contains(f, "\n") {
			return
		}
	}
	packed := c.enc.EncodeAll([]byte(strings.Join(e.Files, "\n")), nil)
	// Keep only what is used of the buffer EncodeAll grew.
	e.packedFiles = append(make([]byte, 0, len(packed)), packed...)
	e.Files = nil
}

// HasFileList reports whether e holds a file list, packed or not.
func (e *Entry) HasFileList() bool { return e.Files != nil || e.packedFiles != nil }

// FileList is e's file list, unpacked when PackFiles packed it; nil when
// e holds none.
func (e *Entry) FileList() []string {
	if e.packedFiles == nil {
		return e.Files
	}
	c, err := fileListCodec()
	if err != nil {
		panic("repodb: a packed file list without its codec: " + err.Error())
	}
	joined, err := c.dec.DecodeAll(e.packedFiles, nil)
	if err != nil {
		// Memory this process wrote itself: nothing but a bug gets here.
		panic("repodb: packed file list damaged: " + err.Error())
	}
	if len(joined) == 0 {
		// An empty list and a list of one empty path are both joined to
		// "": a path is never empty (the writer refuses one).
		return []string{}
	}
	return strings.Split(string(joined), "\n")
}
