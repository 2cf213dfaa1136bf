// Package compress detects the compression of pacman archives (packages and
// databases) by their magic bytes and gives streaming readers and writers for
// every format pacman reads: none (plain tar), gzip, bzip2, xz, zstd and lz4.
//
// Decompression is bounded: no format may make a reader allocate more than a
// fixed amount of memory, whatever the input claims (see MaxWindow).
//
// Limits worth knowing:
//   - xz is read with github.com/ulikunitz/xz, which supports only the LZMA2
//     filter (no BCJ/delta filters). makepkg and xz(1) use LZMA2 alone, so
//     real packages are fine; an xz file with other filters is Corrupt.
//   - compress(1) (.Z, LZW) is recognised but not supported: NewReader returns
//     ErrUnsupported for it, and FormatForName refuses ".tar.Z".
package compress

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"

	"github.com/pacrepo/pacrepo/internal/freelist"

	stdbzip2 "compress/bzip2"
	dsbzip2 "github.com/dsnet/compress/bzip2"
)

// Format is a compression format.
type Format int

const (
	None  Format = iota // plain, uncompressed tar
	Gzip                // gzip (RFC 1952), possibly several members
	Bzip2               // bzip2
	Xz                  // xz (LZMA2)
	Zstd                // Zstandard
	Lz4                 // LZ4 frame format
)

// String returns the name of the format as its command is called.
func (f Format) String() string {
	switch f {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Bzip2:
		return "bzip2"
	case Xz:
		return "xz"
	case Zstd:
		return "zstd"
	case Lz4:
		return "lz4"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Ext returns the file name extension that follows ".tar" for the format:
// ".gz", ".bz2", ".xz", ".zst", ".lz4", and "" for None.
func (f Format) Ext() string {
	switch f {
	case Gzip:
		return ".gz"
	case Bzip2:
		return ".bz2"
	case Xz:
		return ".xz"
	case Zstd:
		return ".zst"
	case Lz4:
		return ".lz4"
	}
	return ""
}

// Formats lists every supported format, None first.
var Formats = []Format{None, Gzip, Bzip2, Xz, Zstd, Lz4}

var (
	// ErrUnknownFormat is returned (wrapped) by NewReader when the data starts
	// with no magic number we know and is not a plain tar either: the file is
	// not a package or database at all.
	ErrUnknownFormat = errors.New("unknown compression format")
	// ErrUnsupported is returned (wrapped) for formats we recognise but do not
	// implement, such as compress(1) (.Z).
	ErrUnsupported = errors.New("unsupported compression format")
)

// MaxWindow bounds the history a zstd decoder may keep (and the memory it
// may use for it). 128 MiB is the default limit of zstd(1) itself
// (--long=27): every zstd level up to --ultra -22 fits in it, so every
// package makepkg produces without an explicit --long=28+ is readable,
// while a hostile frame header cannot make us reserve gigabytes.
const MaxWindow = 128 << 20

// maxXzDict bounds the LZMA2 dictionary an xz stream may ask for. xz -9
// (the largest preset) uses 64 MiB; ulikunitz/xz allocates the whole
// dictionary up front, so a tiny file claiming 1.5 GiB would otherwise cost
// 1.5 GiB.
const maxXzDict = MaxWindow

const tarMagicOffset = 257

var (
	magicGzip     = []byte{0x1f, 0x8b}
	magicBzip2    = []byte("BZh")
	magicXz       = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicZstd     = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicLz4      = []byte{0x04, 0x22, 0x4d, 0x18}
	magicCompress = []byte{0x1f, 0x9d}
	magicUstar    = []byte("ustar")
)

// sniffLen is how many bytes Sniff needs to recognise every format,
// including "ustar" at offset 257 of a plain tar.
const sniffLen = tarMagicOffset + 5

// Sniff recognises a format from the first bytes of a file. A plain tar is
// recognised by the "ustar" magic at offset 257 (both POSIX "ustar\x00" and
// GNU "ustar  "), so head must hold at least 262 bytes for that. It reports
// false for anything else, including compress(1) data.
func Sniff(head []byte) (Format, bool) {
	switch {
	case bytes.HasPrefix(head, magicGzip):
		return Gzip, true
	case bytes.HasPrefix(head, magicBzip2):
		return Bzip2, true
	case bytes.HasPrefix(head, magicXz):
		return Xz, true
	case bytes.HasPrefix(head, magicZstd):
		return Zstd, true
	case bytes.HasPrefix(head, magicLz4):
		return Lz4, true
	case len(head) >= sniffLen && bytes.Equal(head[tarMagicOffset:sniffLen], magicUstar):
		return None, true
	}
	return 0, false
}

// OpenFile opens the compressed file at path for reading its
// decompressed content; closing the reader closes the file. An error of
// opening is os.Open's (it matches fs.ErrNotExist for a missing file);
// one of the content names path.
func OpenFile(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	dec, _, err := NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &fileReader{ReadCloser: dec, file: f}, nil
}

// fileReader closes its decompressor, then its file.
type fileReader struct {
	io.ReadCloser
	file *os.File
}

func (r *fileReader) Close() error {
	return errors.Join(r.ReadCloser.Close(), r.file.Close())
}

// NewReader peeks at the magic bytes of r and returns a reader of the
// decompressed data together with the detected format. The caller must
// Close the reader (it releases decoder resources; it does not close r).
//
// Data with no known magic gives an error wrapping ErrUnknownFormat. Short
// input gives io.ErrUnexpectedEOF when it could be the start of a
// compressed stream and ErrUnknownFormat otherwise; an empty input gives
// io.EOF.
//
// NewReader reads ahead through a bufio.Reader, so r may be consumed past
// the end of the compressed stream; callers hashing a file must hash what
// they feed in, not what the decompressor reports.
func NewReader(r io.Reader) (io.ReadCloser, Format, error) {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < sniffLen {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	head, err := br.Peek(sniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	if len(head) == 0 {
		return nil, 0, io.EOF
	}
	f, ok := Sniff(head)
	if !ok {
		if bytes.HasPrefix(head, magicCompress) {
			return nil, 0, fmt.Errorf("compress (.Z): %w", ErrUnsupported)
		}
		if couldBeMagic(head) {
			return nil, 0, fmt.Errorf("compression header: %w", io.ErrUnexpectedEOF)
		}
		if len(head) < sniffLen && looksLikeTarStart(head) {
			return nil, 0, fmt.Errorf("tar header: %w", io.ErrUnexpectedEOF)
		}
		return nil, 0, ErrUnknownFormat
	}
	rc, err := newDecoder(br, f)
	if err != nil {
		return nil, f, fmt.Errorf("%s: %w", f, err)
	}
	return rc, f, nil
}

// couldBeMagic reports whether a head shorter than every magic number is a
// prefix of one: the start of a compressed file cut short.
func couldBeMagic(head []byte) bool {
	for _, m := range [][]byte{magicGzip, magicBzip2, magicXz, magicZstd, magicLz4} {
		n := min(len(head), len(m))
		if bytes.Equal(head[:n], m[:n]) && len(head) < len(m) {
			return true
		}
	}
	return false
}

// looksLikeTarStart reports whether a head too short to hold the ustar magic
// could still be the beginning of a tar header: a NUL-terminated name made
// of printable bytes. It lets a plain tar cut before byte 262 count as
// truncated rather than as "not a package".
func looksLikeTarStart(head []byte) bool {
	name := head[:min(len(head), 100)]
	end := bytes.IndexByte(name, 0)
	if end == 0 {
		return false
	}
	if end < 0 {
		end = len(name)
	}
	for _, c := range name[:end] {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	// mode, uid, gid, size, mtime and checksum (offsets 100 to 156) hold
	// octal digits, spaces or NULs.
	for _, c := range head[min(len(head), 100):min(len(head), 156)] {
		if (c < '0' || c > '7') && c != ' ' && c != 0 {
			return false
		}
	}
	return true
}

func newDecoder(br *bufio.Reader, f Format) (io.ReadCloser, error) {
	switch f {
	case None:
		return io.NopCloser(br), nil
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, eofIsUnexpected(err)
		}
		zr.Multistream(true)
		return zr, nil
	case Bzip2:
		return io.NopCloser(stdbzip2.NewReader(br)), nil
	case Xz:
		if err := checkXzDict(br); err != nil {
			return nil, err
		}
		xr, err := xz.ReaderConfig{}.NewReader(&xzEndGuard{r: br})
		if err != nil {
			return nil, eofIsUnexpected(err)
		}
		return io.NopCloser(xr), nil
	case Zstd:
		zr, err := getZstdDecoder(br)
		if err != nil {
			return nil, err
		}
		return &zstdCloser{d: zr}, nil
	case Lz4:
		lr := lz4.NewReader(br)
		if err := lr.Apply(lz4.ConcurrencyOption(1)); err != nil {
			return nil, err
		}
		return io.NopCloser(lr), nil
	}
	return nil, fmt.Errorf("format %v: %w", f, ErrUnsupported)
}

// eofIsUnexpected turns a bare io.EOF from a decoder's header parsing into
// io.ErrUnexpectedEOF: the magic was there, so the stream was cut short.
func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// xzEndGuard turns an end of input that cannot be the end of an xz file
// into io.ErrUnexpectedEOF. ulikunitz/xz (v0.5.x) reports a file cut inside
// a block header as a clean io.EOF, which would make a truncated package
// look complete. An xz file ends with a stream footer, whose last two bytes
// are "YZ", optionally followed by stream padding (zero bytes, a multiple
// of four).
type xzEndGuard struct {
	r     io.Reader
	tail  [2]byte // last two bytes before the trailing zeros
	ntail int     // how many of tail are valid
	zeros int64   // trailing zero bytes seen so far
}

func (g *xzEndGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.note(p[:n])
	if err == io.EOF && !g.atEnd() {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (g *xzEndGuard) note(b []byte) {
	i := len(b)
	for i > 0 && b[i-1] == 0 {
		i--
	}
	if i == 0 {
		g.zeros += int64(len(b))
		return
	}
	prevZeros := g.zeros
	g.zeros = int64(len(b) - i)
	if i >= 2 {
		g.tail = [2]byte{b[i-2], b[i-1]}
		g.ntail = 2
		return
	}
	// One non-zero byte: the byte before it is the last zero seen, or the
	// last byte of the previous tail.
	prev, ok := g.tail[1], g.ntail > 0
	if prevZeros > 0 {
		prev, ok = 0, true
	}
	g.tail = [2]byte{prev, b[0]}
	g.ntail = 1
	if ok {
		g.ntail = 2
	}
}

func (g *xzEndGuard) atEnd() bool {
	return g.ntail == 2 && g.tail == [2]byte{'Y', 'Z'} && g.zeros%4 == 0
}

// zstdDecoders recycles zstd decoders: creating one allocates megabytes of
// tables and buffers, which dominated reading small packages. Decoders
// with concurrency 1 decode synchronously and own no goroutine, so one
// dropped by the list is simply collected.
var zstdDecoders = freelist.New[*zstd.Decoder](0)

func getZstdDecoder(r io.Reader) (*zstd.Decoder, error) {
	if d, ok := zstdDecoders.Get(); ok {
		if err := d.Reset(r); err == nil {
			return d, nil
		}
		d.Close()
	}
	return zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(MaxWindow),
		zstd.WithDecoderMaxMemory(MaxWindow),
		zstd.WithDecoderLowmem(true))
}

// zstdCloser adapts *zstd.Decoder, whose Close returns nothing and ends
// the decoder for good: Close here releases the input and returns the
// decoder to the pool instead.
type zstdCloser struct{ d *zstd.Decoder }

func (z *zstdCloser) Read(p []byte) (int, error) {
	if z.d == nil {
		return 0, errors.New("zstd: read after close")
	}
	return z.d.Read(p)
}

func (z *zstdCloser) Close() error {
	if z.d == nil {
		return nil
	}
	if err := z.d.Reset(nil); err != nil {
		z.d.Close()
	} else {
		zstdDecoders.Put(z.d)
	}
	z.d = nil
	return nil
}

// checkXzDict reads the LZMA2 dictionary size from the first block header of
// an xz stream (without consuming anything) and refuses sizes above
// maxXzDict. It checks only the first block: xz(1) writes the same filter
// chain in every block, and a stream crafted to grow later is bounded by
// ulikunitz/xz's own maximum.
func checkXzDict(br *bufio.Reader) error {
	// Stream header (12 bytes), then the block header: size byte, flags,
	// optional compressed and uncompressed sizes (varints), filter flags.
	head, _ := br.Peek(12 + 1024)
	if len(head) < 14 {
		return nil // let the decoder report the truncation
	}
	blk := head[12:]
	if blk[0] == 0 {
		return nil // index indicator: no blocks
	}
	hdrLen := (int(blk[0]) + 1) * 4
	if len(blk) < hdrLen {
		return nil
	}
	blk = blk[:hdrLen]
	flags := blk[1]
	p := 2
	varint := func() (uint64, bool) {
		var v uint64
		for i := 0; i < 9 && p < len(blk); i++ {
			c := blk[p]
			p++
			v |= uint64(c&0x7f) << (7 * i)
			if c&0x80 == 0 {
				return v, true
			}
		}
		return 0, false
	}
	if flags&0x40 != 0 {
		if _, ok := varint(); !ok {
			return nil
		}
	}
	if flags&0x80 != 0 {
		if _, ok := varint(); !ok {
			return nil
		}
	}
	nfilters := int(flags&0x03) + 1
	for range nfilters {
		id, ok := varint()
		if !ok {
			return nil
		}
		size, ok := varint()
		if !ok || size > uint64(len(blk)-p) {
			return nil
		}
		props := blk[p : p+int(size)]
		p += int(size)
		if id == 0x21 && len(props) == 1 {
			if d := xzDictSize(props[0]); d > maxXzDict {
				return fmt.Errorf("LZMA2 dictionary of %d bytes exceeds the limit of %d", d, maxXzDict)
			}
		}
	}
	return nil
}

// xzDictSize decodes the LZMA2 dictionary size property byte.
func xzDictSize(b byte) int64 {
	b &= 0x3f
	if b >= 40 {
		return 1<<32 - 1
	}
	return int64(2|b&1) << (b/2 + 11)
}

// FormatForName chooses the compression for writing an archive from its
// file name, as repo-add does: the name must end in ".tar" or ".tar" and
// one of the supported extensions (".tar.gz", ".tar.bz2", ".tar.xz",
// ".tar.zst", ".tar.lz4"). ".tar.Z", ".tar.lrz", ".tar.lzo" and ".tar.lz"
// are valid for repo-add but unsupported here (ErrUnsupported); anything
// else is ErrUnknownFormat.
func FormatForName(name string) (Format, error) {
	for _, f := range Formats {
		if strings.HasSuffix(name, ".tar"+f.Ext()) {
			return f, nil
		}
	}
	for _, ext := range []string{".tar.Z", ".tar.lrz", ".tar.lzo", ".tar.lz"} {
		if strings.HasSuffix(name, ext) {
			return 0, fmt.Errorf("%s: %w", name, ErrUnsupported)
		}
	}
	return 0, fmt.Errorf("%s: no .tar[.gz|.bz2|.xz|.zst|.lz4] extension: %w", name, ErrUnknownFormat)
}

// NewWriter returns a writer that compresses to w in format f. Close
// flushes the stream; it does not close w. The output is deterministic:
// the same input gives the same bytes (no timestamps or names in gzip
// headers, single-threaded encoders).
func NewWriter(w io.Writer, f Format) (io.WriteCloser, error) {
	switch f {
	case None:
		return nopWriteCloser{w}, nil
	case Gzip:
		// gzip.NewWriter leaves ModTime zero and Name empty, like gzip -n.
		return gzip.NewWriterLevel(w, gzip.DefaultCompression)
	case Bzip2:
		return dsbzip2.NewWriter(w, &dsbzip2.WriterConfig{Level: dsbzip2.DefaultCompression})
	case Xz:
		return xz.WriterConfig{}.NewWriter(w)
	case Zstd:
		return getZstdEncoder(w)
	case Lz4:
		lw := lz4.NewWriter(w)
		if err := lw.Apply(lz4.ConcurrencyOption(1), lz4.ChecksumOption(true)); err != nil {
			return nil, err
		}
		return lw, nil
	}
	return nil, fmt.Errorf("format %v: %w", f, ErrUnsupported)
}

// zstdEncoderOptions are the settings of every zstd stream and frame
// pacrepo writes.
var zstdEncoderOptions = []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1),
	zstd.WithEncoderCRC(true)}

// zstdEncoders recycles zstd encoders, as zstdDecoders recycles decoders:
// creating one allocates megabytes of tables, which dominated writing small
// packages and databases (and, under the race detector, the tests that
// make thousands of them). An encoder of concurrency 1 owns no goroutine,
// and one reset on new output writes the same bytes as a new one.
var zstdEncoders = freelist.New[*zstd.Encoder](0)

func getZstdEncoder(w io.Writer) (io.WriteCloser, error) {
	if e, ok := zstdEncoders.Get(); ok {
		e.Reset(w)
		return &zstdWriteCloser{e: e}, nil
	}
	e, err := zstd.NewWriter(w, zstdEncoderOptions...)
	if err != nil {
		return nil, err
	}
	return &zstdWriteCloser{e: e}, nil
}

// zstdWriteCloser adapts *zstd.Encoder so that Close, after flushing the
// stream, returns the encoder to the pool (a zstd encoder stays usable
// after Close; it must not be used by the caller any more).
type zstdWriteCloser struct{ e *zstd.Encoder }

func (z *zstdWriteCloser) Write(p []byte) (int, error) {
	if z.e == nil {
		return 0, errors.New("zstd: write after close")
	}
	return z.e.Write(p)
}

func (z *zstdWriteCloser) Close() error {
	if z.e == nil {
		return nil
	}
	err := z.e.Close()
	if err == nil {
		// Drop the reference to the output before pooling.
		z.e.Reset(nil)
		zstdEncoders.Put(z.e)
	}
	z.e = nil
	return err
}

// NewZstdFrameEncoder returns an encoder whose EncodeAll makes one zstd
// frame of its input, as NewWriter would compress it (databases written
// as a sequence of frames use it).
func NewZstdFrameEncoder() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstdEncoderOptions...)
}

// DecodeZstdFrames decompresses src, one or more whole zstd frames, with
// the limits of NewReader and at most maxSize bytes of output.
func DecodeZstdFrames(src []byte, maxSize uint64) ([]byte, error) {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(MaxWindow),
		zstd.WithDecoderMaxMemory(maxSize))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.DecodeAll(src, nil)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// CountingReader counts the bytes read through it: the package and
// database readers check with it that a decompressed stream really ends
// where its tar archive does.
type CountingReader struct {
	R io.Reader
	N int64 // bytes read so far
}

func (c *CountingReader) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += int64(n)
	return n, err
}
