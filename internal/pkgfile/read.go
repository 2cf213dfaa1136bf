package pkgfile

import (
	"bufio"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/pacrepo/pacrepo/internal/compress"
)

// ReadOptions choose the optional work of Read.
type ReadOptions struct {
	Files bool // also collect the file list (for the files database)
	MD5   bool // also compute Package.MD5 (only needed to compare with repo-add)

	infoOnly bool // stop after .PKGINFO (ReadInfoFrom)
}

// readBufferSize is the size of the reads from the file. Large reads keep
// the number of system calls and hash updates low.
const readBufferSize = 256 << 10

// Read reads the package file at path completely: it detects the
// compression by magic bytes, parses .PKGINFO, and computes the size and
// SHA-256 of the whole file (and its file list when asked) in one pass.
// Every failure is an *Error naming the file and its ErrorKind:
//
//   - Incomplete: the file is empty, ends early anywhere (compression
//     header, .PKGINFO, an entry, the end-of-archive blocks), changed size,
//     modification time or identity while being read (still being written
//     or replaced), or vanished (missing file: a scan raced a rename), or
//     could not be read (permission denied, I/O error: retrying may work),
//     or is a compressed package that fails to decode and ends in zero
//     bytes, or holds only zeros (preallocated, still being written).
//   - Corrupt: invalid compressed data or checksum, malformed tar headers,
//     .PKGINFO larger than MaxPKGINFO, malformed or without pkgname/pkgver.
//   - NotPackage: a directory or other non-regular file, an unknown or
//     unsupported compression (text, ELF, PNG, .Z), or a valid archive
//     without .PKGINFO.
//   - Unreadable: it cannot be opened: permission denied, an I/O error, a
//     symbolic link to nothing.
//
// The underlying cause stays available with errors.Is / errors.As (for
// example fs.ErrNotExist, fs.ErrPermission, compress.ErrUnknownFormat).
func Read(path string, opts ReadOptions) (*Package, error) {
	fail := func(kind ErrorKind, err error) (*Package, error) {
		return nil, &Error{Path: path, Kind: kind, Err: err}
	}
	// Stat before opening: opening a FIFO would block.
	st, err := os.Stat(path)
	if err != nil {
		return fail(OpenErrorKind(path, err), err)
	}
	if st.IsDir() {
		return fail(NotPackage, errors.New("is a directory"))
	}
	if !st.Mode().IsRegular() {
		return fail(NotPackage, fmt.Errorf("not a regular file (%s)", st.Mode().Type()))
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(OpenErrorKind(path, err), err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return fail(Incomplete, err)
	}
	if !os.SameFile(st, before) {
		return fail(Incomplete, fmt.Errorf("%w: replaced before it was opened", ErrChanged))
	}
	if before.Size() == 0 {
		return fail(Incomplete, errors.New("empty file"))
	}

	pkg, readErr := readFrom(f, path, opts)
	if testHookAfterRead != nil {
		testHookAfterRead(path)
	}

	// A file still being written or replaced must never pass as complete,
	// nor be called corrupt for bytes that were not there yet: compare the
	// file before and after, by descriptor and by name.
	if err := unchanged(f, path, before); err != nil {
		return fail(Incomplete, err)
	}
	if readErr != nil {
		return nil, readErr
	}
	if pkg.CSize != before.Size() {
		return fail(Incomplete, fmt.Errorf("%w: read %d bytes of %d", ErrChanged, pkg.CSize, before.Size()))
	}
	pkg.ModTime = before.ModTime().UnixNano()
	return pkg, nil
}

// ReadInfoFrom reads only the .PKGINFO of the package read from r (the
// rest is not read, so nothing vouches for it): enough to tell what a
// file claims to be, never to register it. Its failures are ReadFrom's;
// name is used in errors.
func ReadInfoFrom(r io.Reader, name string) (*Info, error) {
	p, err := readFrom(r, name, ReadOptions{infoOnly: true})
	if err != nil {
		return nil, err
	}
	return &p.Info, nil
}

// OpenErrorKind tells what a failure to stat or open path means: a file
// that vanished was most likely renamed by its uploader (Incomplete); a
// symbolic link to nothing, a permission or I/O error do not mend by
// waiting (Unreadable).
func OpenErrorKind(path string, err error) ErrorKind {
	if errors.Is(err, fs.ErrNotExist) {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
			return Unreadable
		}
		return Incomplete
	}
	return Unreadable
}

// Tar type flags of regular files.
const (
	tarTypeReg  = '0'
	tarTypeRegA = '\x00'
)

// bufioPool recycles the read buffers: a repository scan reads thousands
// of packages, and each buffer is large.
var bufioPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// testHookAfterRead, when set by a test, runs between the read and the
// final checks: it lets tests change the file "while it is being read".
var testHookAfterRead func(path string)

// unchanged checks that the open file and the file now at path are still
// the file that was stat'ed before the read, with the same size and
// modification time.
func unchanged(f *os.File, path string, before fs.FileInfo) error {
	same := func(what string, now fs.FileInfo) error {
		if now.Size() != before.Size() || !now.ModTime().Equal(before.ModTime()) {
			return fmt.Errorf("%w: %s size %d→%d, mtime %s→%s", ErrChanged, what,
				before.Size(), now.Size(), before.ModTime().Format("15:04:05.000000000"), now.ModTime().Format("15:04:05.000000000"))
		}
		return nil
	}
	after, err := f.Stat()
	if err != nil {
		return err
	}
	if err := same("file", after); err != nil {
		return err
	}
	named, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrChanged, err)
	}
	if !os.SameFile(before, named) {
		return fmt.Errorf("%w: replaced by another file", ErrChanged)
	}
	return same("path", named)
}

// ReadFrom reads a package from r as Read does from a file, without the
// checks that need a file (size before and after, modification time):
// CSize is the number of bytes read. name is used in errors and as
// Filename (its base name).
func ReadFrom(r io.Reader, name string, opts ReadOptions) (*Package, error) {
	return readFrom(r, name, opts)
}

func readFrom(r io.Reader, name string, opts ReadOptions) (*Package, error) {
	raw := &hashingReader{r: r, sha: sha256.New()}
	if opts.MD5 {
		raw.md5 = md5.New()
	}
	if f, ok := r.(*os.File); ok && isSparse(f) {
		raw.sparse = f
	}
	br := bufioPool.Get().(*bufio.Reader)
	br.Reset(raw)
	defer func() {
		br.Reset(nil)
		bufioPool.Put(br)
	}()

	format := compress.None
	fail := func(kind ErrorKind, err error) (*Package, error) {
		if kind != Incomplete && zeroTail(br, raw, format, kind) {
			kind = Incomplete
			err = fmt.Errorf("%w (the file ends in zero bytes: preallocated and still being written?)", err)
		}
		return nil, &Error{Path: name, Kind: kind, Err: err}
	}

	dec, format, err := compress.NewReader(br)
	if err != nil {
		if raw.err != nil {
			return fail(Incomplete, raw.err)
		}
		switch {
		case errors.Is(err, io.EOF) && raw.n == 0:
			return fail(Incomplete, errors.New("empty file"))
		case errors.Is(err, compress.ErrUnknownFormat), errors.Is(err, compress.ErrUnsupported):
			return fail(NotPackage, err)
		}
		return fail(classify(err), err)
	}
	defer dec.Close()
	// A compressed stream never holds a long run of zero bytes, so a long
	// hole in a compressed file is space still to be written; a zstd
	// decoder would otherwise read a terabyte hole as empty blocks.
	raw.stopAtHoles = raw.sparse != nil && format != compress.None

	tarStream := &compress.CountingReader{R: dec}
	walker := &tarWalker{r: tarStream}
	defer walker.release()
	var (
		info  *Info
		files []string
		libs  libraryReader
	)
	if opts.Files {
		files = make([]string, 0, 64)
	}
	for {
		e, err := walker.next()
		if err == io.EOF {
			break // after the end-of-archive marker: see tarWalker
		}
		if err != nil {
			return fail(readErrorKind(raw, err), fmt.Errorf("%s: tar: %w", format, err))
		}
		switch {
		case info == nil && string(e.Name) == ".PKGINFO":
			// bsdtar -xOqf pkg .PKGINFO stops at the first match.
			if e.Type != tarTypeReg && e.Type != tarTypeRegA {
				return fail(Corrupt, fmt.Errorf(".PKGINFO is not a regular file (type %q)", e.Type))
			}
			if e.Size > MaxPKGINFO {
				return fail(Corrupt, fmt.Errorf("%w: %d bytes", ErrPKGINFOTooLarge, e.Size))
			}
			data := make([]byte, e.Size)
			if _, err := io.ReadFull(walker, data); err != nil {
				return fail(readErrorKind(raw, err), fmt.Errorf("%s: reading .PKGINFO: %w", format, err))
			}
			if info, err = parsePKGINFO(data); err != nil {
				return fail(Corrupt, err)
			}
			if opts.infoOnly {
				return &Package{Info: *info, Path: name, Filename: filepath.Base(name), Compression: format}, nil
			}
		default:
			if opts.Files && listed(e.Name) {
				files = append(files, listName(e.Name))
			}
			if (e.Type == tarTypeReg || e.Type == tarTypeRegA) && elfCandidate(e.Name) {
				if err := libs.member(walker, e.Name, e.Size); err != nil {
					return fail(readErrorKind(raw, err), fmt.Errorf("%s: reading %s: %w", format, e.Name, err))
				}
			}
		}
	}
	// Read the decompressed stream to its end: that is where gzip, xz, zstd
	// and lz4 verify their checksums. What follows the tar's end (record
	// padding) is not looked at.
	if _, err := io.Copy(io.Discard, tarStream); err != nil {
		return fail(readErrorKind(raw, err), fmt.Errorf("%s: %w", format, err))
	}
	if format == compress.None && tarStream.N%512 != 0 {
		return fail(Incomplete, fmt.Errorf("tar: %w (size not a multiple of 512)", io.ErrUnexpectedEOF))
	}
	// Hash what the decompressor did not need (read-ahead, trailing bytes).
	if _, err := io.Copy(io.Discard, br); err != nil {
		return fail(Incomplete, err)
	}
	if raw.err != nil {
		return fail(Incomplete, raw.err)
	}
	if info == nil {
		return fail(NotPackage, fmt.Errorf("%s archive without .PKGINFO", format))
	}

	pkg := &Package{
		Compression: format,
		Info:        *info,
		Path:        name,
		Filename:    filepath.Base(name),
		CSize:       raw.n,
		SHA256:      hex.EncodeToString(raw.sha.Sum(nil)),
		Libraries:   libs.libraries(),
	}
	if raw.md5 != nil {
		pkg.MD5 = hex.EncodeToString(raw.md5.Sum(nil))
	}
	if opts.Files {
		slices.Sort(files)
		pkg.Files = packStrings(slices.Compact(files))
	}
	return pkg, nil
}

// packStrings copies list into one allocation of exactly its length whose
// strings share one backing array: a reset holds the file lists of every
// package of the repository at once, and one allocation per path (and a
// slice grown by doubling) would double what they cost.
func packStrings(list []string) []string {
	n := 0
	for _, s := range list {
		n += len(s)
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range list {
		b.WriteString(s)
	}
	all := b.String()
	out := make([]string, len(list))
	off := 0
	for i, s := range list {
		out[i] = all[off : off+len(s)]
		off += len(s)
	}
	return out
}

// listed reports whether repo-add's bsdtar --exclude='^.*' keeps name:
// libarchive's pathmatch drops every name starting with a dot (so also
// everything below a dot-directory), after skipping a leading "./" and
// the slashes and "./" that follow it ("./usr" is kept, "./.x" is not).
func listed(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	s := name
	if len(s) >= 2 && s[0] == '.' && s[1] == '/' {
		s = s[1:]
		for len(s) > 0 && (s[0] == '/' || s[0] == '.' && (len(s) == 1 || s[1] == '/')) {
			s = s[1:]
		}
	}
	return len(s) == 0 || s[0] != '.'
}

// listName returns an entry name as repo-add's file list shows it: as
// bsdtar -t prints it in a UTF-8 locale. Names are printed as stored (so
// directories keep makepkg's trailing slash), except that bsdtar escapes
// what is not printable: a backslash becomes two, control characters
// `\n`, `\t`... or `\ooo` (octal), and so do the bytes of invalid UTF-8
// and of C1 control characters. This also keeps every name on one line.
func listName(name []byte) string {
	for _, c := range name {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return escapeName(string(name))
		}
	}
	return string(name)
}

func escapeName(name string) string {
	var b strings.Builder
	b.Grow(len(name) + 8)
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		if r == '\\' || r < 0x20 || r == 0x7f || 0x80 <= r && r < 0xa0 || r == utf8.RuneError && size == 1 {
			for _, c := range []byte(name[i : i+size]) {
				escapeByte(&b, c)
			}
		} else {
			b.WriteString(name[i : i+size])
		}
		i += size
	}
	return b.String()
}

// escapeByte is bsdtar's bsdtar_expand_char for a byte not printed as is.
func escapeByte(b *strings.Builder, c byte) {
	b.WriteByte('\\')
	switch c {
	case '\a':
		b.WriteByte('a')
	case '\b':
		b.WriteByte('b')
	case '\f':
		b.WriteByte('f')
	case '\n':
		b.WriteByte('n')
	case '\r':
		b.WriteByte('r')
	case '\t':
		b.WriteByte('t')
	case '\v':
		b.WriteByte('v')
	case '\\':
		b.WriteByte('\\')
	default:
		b.WriteByte('0' + c>>6)
		b.WriteByte('0' + c>>3&7)
		b.WriteByte('0' + c&7)
	}
}

// zeroTail tells a damaged file from one still being written into
// preallocated space (download managers, some copy tools): such a file
// ends in zero bytes where the data is still to come. It reads the rest
// of the input and reports whether it ends with at least a tar block of
// zeros, for a compressed file that failed to decode (a complete one ends
// with a checksum or an end mark), or holds nothing but zeros after at
// most the first bytes of a magic number. A plain tar
// cannot be told apart: zeros are its end-of-archive marker.
func zeroTail(br *bufio.Reader, raw *hashingReader, format compress.Format, kind ErrorKind) bool {
	if raw.err != nil {
		return false
	}
	if _, err := br.Discard(br.Buffered()); err != nil {
		return false
	}
	if err := raw.drain(); err != nil {
		return false
	}
	switch kind {
	case Corrupt:
		return format != compress.None && raw.zeros >= 512
	case NotPackage:
		// Nothing written yet but zeros, or only the first bytes of a
		// magic number (at most 6).
		return raw.n > 0 && raw.zeros == raw.n || raw.zeros >= 512 && raw.n-raw.zeros <= 6
	}
	return false
}

// readErrorKind classifies an error met while decompressing or walking
// the archive. A failing read of the file itself (raw.err) is not the
// archive's fault.
func readErrorKind(raw *hashingReader, err error) ErrorKind {
	if raw.err != nil {
		return Incomplete
	}
	return classify(err)
}

// classify tells truncation from damage: every decoder we use reports data
// that ends early as io.ErrUnexpectedEOF (compress makes xz do so too).
func classify(err error) ErrorKind {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return Incomplete
	}
	var errno syscall.Errno
	if errors.As(err, &errno) || errors.Is(err, fs.ErrPermission) {
		return Incomplete
	}
	return Corrupt
}

// hashingReader hashes and counts everything read from the file.
type hashingReader struct {
	r     io.Reader
	sha   hash.Hash
	md5   hash.Hash // nil unless asked for
	n     int64
	err   error // first read error other than io.EOF
	zeros int64 // length of the run of zero bytes at the end of what was read

	sparse      *os.File // the file read, when it has holes (see isSparse)
	stopAtHoles bool     // fail at a hole of maxHole bytes or more
}

// maxHole is the length of a hole in a compressed package file from which
// the file is taken as still being written (Incomplete).
const maxHole = 1 << 20

// isSparse reports whether f has at least maxHole bytes of holes: only
// then are holes looked for, so that reading an ordinary file costs no
// extra system call.
func isSparse(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Blocks*512+maxHole <= fi.Size()
}

func (h *hashingReader) Read(p []byte) (int, error) {
	if h.stopAtHoles && h.err == nil {
		if hole, err := holeAt(h.sparse); err == nil && hole >= maxHole {
			h.err = fmt.Errorf("a hole of %d bytes at offset %d: space preallocated and still being written? (%w)",
				hole, h.n, io.ErrUnexpectedEOF)
			return 0, h.err
		}
	}
	n, err := h.r.Read(p)
	if n > 0 {
		h.sha.Write(p[:n])
		if h.md5 != nil {
			h.md5.Write(p[:n])
		}
		h.n += int64(n)
		h.zeros = trailingZeros(p[:n], h.zeros)
	}
	if err != nil && err != io.EOF && h.err == nil {
		h.err = err
	}
	return n, err
}

// drain reads the rest of the input, for zeroTail. The holes of a sparse
// file are counted as the zero bytes they read as, without reading them
// (lseek SEEK_DATA): a sparse file of a terabyte named like a package is
// judged in a moment instead of an hour of reading zeros, which would
// hold the repository lock all that time. The hash is not updated for the
// holes: drain is only used once the file has failed.
func (h *hashingReader) drain() error {
	f, seekable := h.r.(*os.File)
	buf := make([]byte, readBufferSize)
	for {
		if seekable {
			skipped, atEnd, err := skipHole(f)
			if err != nil {
				seekable = false // no SEEK_DATA here: read everything
			}
			if skipped > 0 {
				h.n += skipped
				h.zeros += skipped
			}
			if atEnd {
				return nil
			}
		}
		if _, err := h.Read(buf); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// skipHole moves f's offset past a hole that starts at it and returns the
// hole's length; atEnd says that the hole (or the file) ends at the end.
func skipHole(f *os.File) (skipped int64, atEnd bool, err error) {
	off, data, err := seekData(f)
	if errors.Is(err, syscall.ENXIO) { // no data from off to the end
		end, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			return 0, false, err
		}
		return max(end-off, 0), true, nil
	}
	if err != nil {
		return 0, false, err
	}
	return data - off, false, nil
}

// holeAt returns the length of the hole at f's offset (0 in data) without
// moving the offset.
func holeAt(f *os.File) (int64, error) {
	off, data, err := seekData(f)
	if errors.Is(err, syscall.ENXIO) {
		fi, err := f.Stat()
		if err != nil {
			return 0, err
		}
		return max(fi.Size()-off, 0), nil
	}
	if err != nil {
		return 0, err
	}
	if data != off {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return 0, err
		}
	}
	return data - off, nil
}

// seekData is lseek(SEEK_DATA) from f's offset: it returns that offset and
// the offset of the next data, and moves f there (ENXIO: no more data).
func seekData(f *os.File) (off, data int64, err error) {
	off, err = f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, 0, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { data, serr = unix.Seek(int(fd), off, unix.SEEK_DATA) }); err != nil {
		return 0, 0, err
	}
	return off, data, serr
}

// trailingZeros returns the length of the run of zero bytes that ends a
// stream after b is appended to a stream that ended with run zeros.
func trailingZeros(b []byte, run int64) int64 {
	i := len(b)
	for i > 0 && b[i-1] == 0 {
		i--
	}
	if i == 0 {
		return run + int64(len(b))
	}
	return int64(len(b) - i)
}
