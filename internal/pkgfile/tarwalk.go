package pkgfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
)

// errTarHeader is the cause of every malformed-archive error of tarWalker.
var errTarHeader = errors.New("invalid tar header")

// maxSpecialSize bounds PAX extended headers and GNU long names, as
// archive/tar does: they are held in memory.
const maxSpecialSize = 1 << 20

// tarEntry is one entry of a tar stream as tarWalker returns it. Name is
// only valid until the next call to next.
type tarEntry struct {
	Name []byte
	Type byte
	Size int64 // bytes of data that read may return
}

// tarWalker walks the entries of a tar stream with no allocation per
// entry: a package scan lists tens of thousands of entries, and
// archive/tar spends most of its time building a tar.Header for each
// (about fifteen allocations, a UTF-8 scan of every header block).
//
// It follows archive/tar's reading rules (checksums, ustar/GNU/star
// prefixes, base-256 numbers, PAX "path" and "size", GNU long names, old
// GNU sparse headers; header-only types carry no data), and is tested
// against it. It differs on purpose in two ways: a pax global header is
// not an entry (bsdtar does not list it), and the stream must end with
// the end-of-archive marker, two zero blocks: a stream that ends at an
// entry boundary, or after one zero block, is io.ErrUnexpectedEOF where
// archive/tar reports a clean io.EOF.
type tarWalker struct {
	r       io.Reader // must not read ahead: the caller counts what it consumed
	blk     [512]byte
	remain  int64 // data bytes of the current entry not read yet
	pad     int64 // padding after them
	name    []byte
	long    []byte // GNU long name of the next entry
	pax     []byte // body of the pending PAX extended header
	special []byte // buffer for reading PAX and long-name bodies
	discard []byte // buffer for skipping entry data
}

// next returns the next entry, skipping what is left of the current one.
// It returns io.EOF after the end-of-archive marker only.
func (w *tarWalker) next() (tarEntry, error) {
	if err := w.skipRest(); err != nil {
		return tarEntry{}, err
	}
	var (
		havePath, haveSize, haveLong bool
		paxPath                      []byte
		paxSize                      int64
		sparse                       gnuSparsePAX
	)
	for {
		if err := w.readBlock(); err != nil {
			if err == io.EOF {
				err = fmt.Errorf("tar stream ends without the end-of-archive marker: %w", io.ErrUnexpectedEOF)
			}
			return tarEntry{}, err
		}
		if isZeroBlock(&w.blk) {
			if err := w.readBlock(); err != nil {
				if err == io.EOF {
					err = fmt.Errorf("tar stream ends after one end-of-archive block: %w", io.ErrUnexpectedEOF)
				}
				return tarEntry{}, err
			}
			if isZeroBlock(&w.blk) {
				return tarEntry{}, io.EOF
			}
			return tarEntry{}, fmt.Errorf("%w: zero block followed by data", errTarHeader)
		}
		if !checksumOK(&w.blk) {
			return tarEntry{}, fmt.Errorf("%w: bad checksum", errTarHeader)
		}
		typ := w.blk[156]
		size, ok := parseNumeric(w.blk[124:136])
		if !ok || size < 0 {
			return tarEntry{}, fmt.Errorf("%w: bad size field", errTarHeader)
		}
		switch typ {
		case 'x', 'g', 'L', 'K':
			if size > maxSpecialSize {
				return tarEntry{}, fmt.Errorf("%w: %c header of %d bytes", errTarHeader, typ, size)
			}
			body, err := w.readSpecial(size)
			if err != nil {
				return tarEntry{}, err
			}
			switch typ {
			case 'x':
				havePath, haveSize = false, false
				sparse = gnuSparsePAX{}
				w.pax = append(w.pax[:0], body...)
				if err := parsePAX(w.pax, func(key, val []byte) error {
					switch string(key) {
					case "path":
						paxPath, havePath = val, true
					case "GNU.sparse.name":
						sparse.name = val
					case "GNU.sparse.major":
						sparse.major = string(val)
					case "GNU.sparse.minor":
						sparse.minor = string(val)
					case "GNU.sparse.map":
						sparse.haveMap = len(val) > 0
					case "size":
						n, err := strconv.ParseInt(string(val), 10, 64)
						if err != nil || n < 0 {
							return errTarHeader
						}
						paxSize, haveSize = n, true
					}
					return nil
				}); err != nil {
					return tarEntry{}, fmt.Errorf("%w: bad PAX record", errTarHeader)
				}
			case 'L':
				w.long = append(w.long[:0], cString(body)...)
				haveLong = true
			}
			// 'g' sets attributes of what follows (none we use); 'K' is
			// a long link target.
			continue
		}

		// The name: that of a PAX sparse file, else PAX path, else GNU
		// long name, else prefix/name.
		switch {
		case len(sparse.name) > 0 && sparse.isSparse():
			w.name = append(w.name[:0], sparse.name...)
		case havePath:
			w.name = append(w.name[:0], paxPath...)
		case haveLong:
			w.name = append(w.name[:0], w.long...)
		default:
			w.name = w.name[:0]
			if prefix := ustarPrefix(&w.blk); len(prefix) > 0 {
				w.name = append(append(w.name, prefix...), '/')
			}
			w.name = append(w.name, cString(w.blk[0:100])...)
		}
		if haveSize {
			size = paxSize
		}
		if typ == 'S' && w.blk[482] != 0 {
			// Old GNU sparse: extension blocks of the sparse map follow.
			for {
				if err := w.readBlockInEntry(); err != nil {
					return tarEntry{}, err
				}
				if w.blk[504] == 0 {
					break
				}
			}
		}
		if typ == 0 && bytes.HasSuffix(w.name, []byte("/")) {
			typ = '5' // old tars mark directories by the slash only
		}
		switch typ {
		case '1', '2', '3', '4', '5', '6':
			size = 0 // header-only types, as archive/tar treats them
		}
		w.remain = size
		w.pad = -size & 511
		return tarEntry{Name: w.name, Type: typ, Size: size}, nil
	}
}

// gnuSparsePAX holds the PAX records of GNU sparse files (formats 0.0,
// 0.1 and 1.0), whose real name is in GNU.sparse.name.
type gnuSparsePAX struct {
	name         []byte
	major, minor string
	haveMap      bool
}

// isSparse tells a GNU sparse PAX header as archive/tar does.
func (g *gnuSparsePAX) isSparse() bool {
	switch {
	case g.major == "0" && (g.minor == "0" || g.minor == "1"), g.major == "1" && g.minor == "0":
		return true
	case g.major != "" || g.minor != "":
		return false
	}
	return g.haveMap
}

// Read reads the data of the current entry.
func (w *tarWalker) Read(p []byte) (int, error) {
	if w.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > w.remain {
		p = p[:w.remain]
	}
	n, err := w.r.Read(p)
	w.remain -= int64(n)
	if err == io.EOF && w.remain > 0 {
		err = io.ErrUnexpectedEOF
	} else if err == io.EOF {
		err = nil
	}
	return n, err
}

// discardBuffers recycles the buffers skipRest reads skipped data into.
var discardBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// release returns the walker's buffer; the walker must not be used after.
func (w *tarWalker) release() {
	if w.discard != nil {
		b := w.discard // the pool keeps this slice, not the walker's field
		discardBuffers.Put(&b)
		w.discard = nil
	}
}

func (w *tarWalker) skipRest() error {
	n := w.remain + w.pad
	w.remain, w.pad = 0, 0
	if n == 0 {
		return nil
	}
	// Read into a reused buffer: io.CopyN would allocate for each entry,
	// and one buffer per package is garbage for every package of a reset.
	if w.discard == nil {
		w.discard = *discardBuffers.Get().(*[]byte)
	}
	for n > 0 {
		m, err := w.r.Read(w.discard[:min(n, int64(len(w.discard)))])
		n -= int64(m)
		if err == io.EOF {
			if n > 0 {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readBlock reads one header block; io.EOF means none at all.
func (w *tarWalker) readBlock() error {
	_, err := io.ReadFull(w.r, w.blk[:])
	return err
}

// readBlockInEntry reads a block that must be there.
func (w *tarWalker) readBlockInEntry() error {
	err := w.readBlock()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readSpecial reads the body of a PAX or GNU long-name header (and its
// padding) into a reused buffer, valid until the next readSpecial.
func (w *tarWalker) readSpecial(size int64) ([]byte, error) {
	total := int((size + 511) &^ 511)
	if cap(w.special) < total {
		w.special = make([]byte, total)
	}
	buf := w.special[:total]
	if _, err := io.ReadFull(w.r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf[:size], nil
}

func isZeroBlock(b *[512]byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// checksumOK verifies the header checksum, accepting the signed sums some
// old tars wrote, like archive/tar.
func checksumOK(b *[512]byte) bool {
	want, ok := parseOctal(b[148:156])
	if !ok {
		return false
	}
	var unsigned uint32
	var signed int32
	for i, c := range b {
		if 148 <= i && i < 156 {
			c = ' '
		}
		unsigned += uint32(c)
		signed += int32(int8(c))
	}
	return want == int64(unsigned) || want == int64(signed)
}

// ustarPrefix returns the name prefix of a POSIX ustar (or star) header,
// nil for GNU and V7 headers.
func ustarPrefix(b *[512]byte) []byte {
	if string(b[257:263]) != "ustar\x00" || string(b[263:265]) != "00" {
		return nil
	}
	if string(b[508:512]) == "tar\x00" {
		return cString(b[345 : 345+131]) // star
	}
	return cString(b[345:500])
}

// cString returns b up to its first NUL.
func cString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// parseNumeric parses a numeric header field: octal, or base-256 when its
// first byte has the high bit set (GNU, for large values).
func parseNumeric(b []byte) (int64, bool) {
	if len(b) > 0 && b[0]&0x80 != 0 {
		var inv byte
		if b[0]&0x40 != 0 {
			inv = 0xff
		}
		var x uint64
		for i, c := range b {
			c ^= inv
			if i == 0 {
				c &= 0x7f
			}
			if x>>56 > 0 {
				return 0, false
			}
			x = x<<8 | uint64(c)
		}
		if x>>63 > 0 {
			return 0, false
		}
		if inv == 0xff {
			return ^int64(x), true
		}
		return int64(x), true
	}
	return parseOctal(b)
}

// parseOctal parses an octal field padded with spaces or NULs.
func parseOctal(b []byte) (int64, bool) {
	b = bytes.Trim(b, " \x00")
	if len(b) == 0 {
		return 0, true
	}
	b = cString(b)
	var x uint64
	for _, c := range b {
		if c < '0' || c > '7' || x>>61 != 0 {
			return 0, false
		}
		x = x<<3 | uint64(c-'0')
	}
	if x>>63 != 0 {
		return 0, false
	}
	return int64(x), true
}

// parsePAX calls f for each "%d key=value\n" record of a PAX extended
// header, failing on malformed records as archive/tar does.
func parsePAX(b []byte, f func(key, val []byte) error) error {
	for len(b) > 0 {
		sp := bytes.IndexByte(b, ' ')
		if sp <= 0 {
			return errTarHeader
		}
		n, err := strconv.Atoi(string(b[:sp]))
		if err != nil || n < 5 || n > len(b) || sp >= n {
			return errTarHeader
		}
		rec := b[sp+1 : n]
		b = b[n:]
		if len(rec) == 0 || rec[len(rec)-1] != '\n' {
			return errTarHeader
		}
		rec = rec[:len(rec)-1]
		eq := bytes.IndexByte(rec, '=')
		if eq <= 0 {
			return errTarHeader
		}
		key, val := rec[:eq], rec[eq+1:]
		if bytes.IndexByte(key, 0) >= 0 {
			return errTarHeader
		}
		switch string(key) {
		case "path", "linkpath", "uname", "gname":
			if bytes.IndexByte(val, 0) >= 0 {
				return errTarHeader
			}
		}
		if err := f(key, val); err != nil {
			return err
		}
	}
	return nil
}
